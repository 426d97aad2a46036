"""The work queue on PostgreSQL: a page's time with 10,000 and with 1,000,000 applications.

Run from the repository root (PostgreSQL must be running)::

    .venv/bin/python bench/queue.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
        [--sizes 10000,1000000] [--runs 31] [--explain] [--keep]

What it does, on this machine:

1. Creates its own database (``bench_queue`` on the server of ``--database-url``; one of
   that name left over is dropped first) and builds the schema with the portal's
   migrations.
2. Seeds it with ``bench/seed_queue.py`` up to each size in turn (the million includes
   the first ten thousand): three departments, nine services, 98 % of the applications
   decided over four years and a backlog of 2 % open, with COPY, then VACUUM ANALYZE.
3. Times (median of ``--runs`` after a warm-up) what the queue page runs, through the
   very functions of ``portal.backoffice.queue`` the view calls, for the Transport
   Department (half of all applications) as one of its officers:

   * ``first page``: the department's open work, 50 rows in due-date order;
   * ``next page``: the page after it (keyset cursor);
   * ``mine + overdue``: assigned to me and overdue;
   * ``assigned to me``, ``unassigned``: the page of each;
   * ``service + due in 7 days``: one service, due within seven days;
   * ``counts``: the one aggregate query of the counts above the list;
   * ``name search``: part of an applicant's name in the open work (no target: it reads
     the backlog, not an index range).

   It prints each time at both sizes (with the rows each page had) and the ratio of the
   largest to the smallest.
   Targets: a ratio of at most 1.5 for the pages, and under 50 ms at a million.
4. Drops the database, unless ``--keep``.

``--explain`` prints PostgreSQL's ``EXPLAIN (ANALYZE, BUFFERS)`` of every statement at
the largest size. It asserts nothing: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This file has the name of the standard library's ``queue``, which Python would import
# from here for every library asking for it: keep this folder off the path.
sys.path[:] = [entry for entry in sys.path
               if Path(entry or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "queue.json"

RATIO_TARGET = 1.5
MILLISECONDS_TARGET = 50.0
#: Measured against the targets (the others are printed for information).
PAGES = ("first page", "next page", "mine + overdue", "assigned to me", "unassigned",
         "service + due in 7 days")
DEPARTMENT = "TD"
WARMUP = 8


def _normalise(url: str) -> str:
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_database(server_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(_normalise(server_url))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(_normalise(server_url)), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_app(database_url: str) -> Any:
    import tempfile

    from flask_migrate import upgrade

    from portal import create_app

    app = create_app({
        "ENVIRONMENT": "testing",
        "TESTING": True,
        "SECRET_KEY": secrets.token_hex(32),
        "INSTANCE_PATH": tempfile.mkdtemp(prefix="portal-bench-queue-"),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "",
        "RATELIMIT_ENABLED": False,
    })
    with app.app_context():
        upgrade(revision="heads")
    return app


def queries(people: Any) -> dict[str, Callable[[], Any]]:
    """What the queue page runs, as the view runs it, for an officer of the department."""
    from bench.seed_queue import DEPARTMENTS
    from portal.backoffice import queue
    from portal.i18n import hong_kong_today
    from portal.plugins.service import PAY_THEN_DECIDE

    scope = queue.Scope(
        department=DEPARTMENT,
        workflows={name: PAY_THEN_DECIDE for name in DEPARTMENTS[DEPARTMENT][2]},
        user_id=people.officers[DEPARTMENT][0], today=hong_kong_today())
    second = queue.fetch_page(scope, queue.Filters()).next
    return {
        "first page": lambda: queue.fetch_page(scope, queue.Filters()),
        "next page": lambda: queue.fetch_page(scope, queue.Filters(), second),
        "mine + overdue": lambda: queue.fetch_page(scope, queue.Filters(
            assigned=queue.ASSIGNED_TO_ME, due=queue.OVERDUE)),
        "assigned to me": lambda: queue.fetch_page(scope, queue.Filters(
            assigned=queue.ASSIGNED_TO_ME)),
        "unassigned": lambda: queue.fetch_page(scope, queue.Filters(
            assigned=queue.UNASSIGNED)),
        "service + due in 7 days": lambda: queue.fetch_page(scope, queue.Filters(
            service="licence_renewal", due=queue.DUE_SOON, days=7)),
        "counts": lambda: queue.counts(scope),
        "name search": lambda: queue.fetch_page(scope, queue.Filters(name="chan tai")),
    }


def median_ms(run: Callable[[], Any], runs: int) -> tuple[float, int]:
    from portal.extensions import db

    # Warm: SQLAlchemy's statement cache, the buffer cache, and psycopg's prepared
    # statements (prepared from a query's fifth execution on a connection).
    for _ in range(WARMUP):
        run()
        db.session.rollback()
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
        db.session.rollback()
    size = len(result.rows) if hasattr(result, "rows") else 1
    return statistics.median(times) * 1000, size


def explain(run: Callable[[], Any]) -> None:
    """Print PostgreSQL's plan (with times and buffers) of each statement ``run`` sends."""
    from sqlalchemy import event

    from portal.extensions import db

    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    db.session.rollback()
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            for statement, parameters in captured:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                print("\n".join("    " + row[0] for row in cursor.fetchall()))
    finally:
        raw.rollback()
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="any database of the PostgreSQL server to use")
    parser.add_argument("--database", default="bench_queue", help="the database it creates")
    parser.add_argument("--sizes", default="10000,1000000",
                        help="numbers of applications, smallest first (comma separated)")
    parser.add_argument("--runs", type=int, default=31, help="timed runs of each query")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of each query at the largest size")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))

    import logging

    from bench import seed_queue

    database_url = create_database(args.database_url, args.database)
    results: dict[int, dict[str, float]] = {}
    rows: dict[int, dict[str, int]] = {}
    seeding: dict[int, float] = {}
    try:
        app = make_app(database_url)
        logging.getLogger("portal").setLevel(logging.WARNING)
        with app.app_context():
            from portal.extensions import db

            people = seed_queue.seed_people(db.session)
            seeded = 0
            for size in sizes:
                start = time.perf_counter()
                seed_queue.seed_applications(db.engine, people, seeded, size - seeded)
                seeding[size] = time.perf_counter() - start
                seeded = size
                print(f"seeded {size:,} applications ({seeding[size]:.1f} s)", flush=True)
                results[size], rows[size] = {}, {}
                for name, run in queries(people).items():
                    ms, rows[size][name] = median_ms(run, args.runs)
                    results[size][name] = ms
                    print(f"  {name:<26} {ms:8.2f} ms  ({rows[size][name]} rows)", flush=True)
            if args.explain:
                for name, run in queries(people).items():
                    print(f"\nEXPLAIN ANALYZE: {name} at {sizes[-1]:,}")
                    explain(run)
            db.session.remove()
            db.engine.dispose()
    finally:
        if not args.keep:
            drop_database(args.database_url, args.database)

    small, large = sizes[0], sizes[-1]
    print(f"\nwork queue benchmark ({platform.python_implementation()} "
          f"{platform.python_version()}, {platform.machine()}; medians of {args.runs})")
    print(f"{'query':<26} {small:>16,} {large:>18,}   ratio  targets: ratio <= {RATIO_TARGET},"
          f" < {MILLISECONDS_TARGET:.0f} ms at {large:,}")
    verdicts = {}
    for name in results[small]:
        a, b = results[small][name], results[large][name]
        ratio = b / a
        if name in PAGES:
            met = ratio <= RATIO_TARGET and b < MILLISECONDS_TARGET
            verdict = "met" if met else "NOT met"
        else:
            verdict = "(no target)" if name == "name search" else (
                "under 50 ms" if b < MILLISECONDS_TARGET else "over 50 ms")
        verdicts[name] = verdict
        print(f"{name:<26} {a:8.2f} ms ({rows[small][name]:>2}) {b:9.2f} ms "
              f"({rows[large][name]:>2}) {ratio:7.2f}  {verdict}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "sizes": sizes, "runs": args.runs, "seconds_to_seed": seeding,
        "median_ms": results, "rows": rows, "verdicts": verdicts,
        "targets": {"ratio": RATIO_TARGET, "ms_at_largest": MILLISECONDS_TARGET},
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()

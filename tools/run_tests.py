"""Run the whole suite the way CI does: lint, then SQLite (with the browser) and PostgreSQL.

PostgreSQL is found at PORTAL_TEST_POSTGRES_URL (default: the local server's ``test``
database). When it cannot be reached the run says so plainly; under CI (``CI`` set) that
is a failure, because CI must prove the suite on PostgreSQL.

The two database runs are independent (each has its own database, ports and files), so
they run at the same time, one per core; each one's output is printed whole when it ends.
``PORTAL_TEST_SERIAL=1`` runs them one after the other instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def run(title: str, args: list[str], env: dict[str, str] | None = None) -> int:
    print(f"\n=== {title} ===", flush=True)
    started = time.monotonic()
    code = subprocess.call(args, cwd=ROOT, env={**os.environ, **(env or {})})
    print(f"=== {title}: {'passed' if code == 0 else f'FAILED (exit {code})'} "
          f"in {time.monotonic() - started:.0f} s ===", flush=True)
    return code


class Background:
    """A command running beside others, its output kept in a file until it ends."""

    def __init__(self, title: str, args: list[str], env: dict[str, str]) -> None:
        self.title = title
        self.output = tempfile.TemporaryFile(mode="w+b")
        self.started = time.monotonic()
        self.process = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env},
                                        stdout=self.output, stderr=subprocess.STDOUT)

    def finish(self) -> int:
        code = self.process.wait()
        seconds = time.monotonic() - self.started
        print(f"\n=== {self.title} ===", flush=True)
        self.output.seek(0)
        sys.stdout.buffer.write(self.output.read())
        sys.stdout.flush()
        self.output.close()
        print(f"=== {self.title}: {'passed' if code == 0 else f'FAILED (exit {code})'} "
              f"in {seconds:.0f} s ===", flush=True)
        return code


def postgres_reachable(url: str) -> str | None:
    """None if a connection works, else the reason."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(url, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def main() -> int:
    in_ci = bool(os.environ.get("CI"))
    results: dict[str, str] = {}

    code = run("lint (ruff)", [PYTHON, "-m", "ruff", "check", "portal", "services", "tests",
                               "bench", "tools"])
    results["lint"] = "passed" if code == 0 else "FAILED"

    serial = os.environ.get("PORTAL_TEST_SERIAL") == "1"
    sqlite_args = ([PYTHON, "-m", "pytest", "-p", "no:cacheprovider"],
                   {"PORTAL_TEST_DATABASE_URL": ""})
    sqlite_title = "tests on SQLite, with the browser journeys"
    sqlite_run = None
    if serial:
        code = run(sqlite_title, *sqlite_args)
        results["SQLite + browser"] = "passed" if code == 0 else "FAILED"
    else:
        print(f"\n{sqlite_title} and on PostgreSQL, at the same time; each one's output "
              "follows when it ends.", flush=True)
        sqlite_run = Background(sqlite_title, *sqlite_args)

    postgres = os.environ.get("PORTAL_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    problem = postgres_reachable(postgres)
    postgres_run = None
    if problem is None:
        # The browser journeys run on SQLite; on PostgreSQL they would prove nothing more
        # about the database and double the run time.
        postgres_args = ([PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-m",
                          "not browser"], {"PORTAL_TEST_DATABASE_URL": postgres})
        if serial:
            code = run("tests on PostgreSQL", *postgres_args)
            results["PostgreSQL"] = "passed" if code == 0 else "FAILED"
        else:
            postgres_run = Background("tests on PostgreSQL", *postgres_args)
    if sqlite_run is not None:
        results["SQLite + browser"] = "passed" if sqlite_run.finish() == 0 else "FAILED"
    if postgres_run is not None:
        results["PostgreSQL"] = "passed" if postgres_run.finish() == 0 else "FAILED"
    if problem is not None and in_ci:
        print(f"\nPostgreSQL is not reachable at {postgres} ({problem}).")
        print("CI must run the suite on PostgreSQL: failing.")
        results["PostgreSQL"] = "FAILED (not reachable)"
    elif problem is not None:
        print(f"\nSKIPPED: the PostgreSQL run, because {postgres} is not reachable ({problem}).")
        print("Set PORTAL_TEST_POSTGRES_URL to a server to include it.")
        results["PostgreSQL"] = "SKIPPED (server not reachable)"

    print("\n=== summary ===")
    for name, outcome in results.items():
        print(f"  {name:<20} {outcome}")
    return 0 if all(not v.startswith("FAILED") for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Run the whole suite the way CI does: lint, SQLite (with the browser), then PostgreSQL.

PostgreSQL is found at PORTAL_TEST_POSTGRES_URL (default: the local server's ``test``
database). When it cannot be reached the run says so plainly; under CI (``CI`` set) that
is a failure, because CI must prove the suite on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
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

    code = run("tests on SQLite, with the browser journeys",
               [PYTHON, "-m", "pytest", "-p", "no:cacheprovider"],
               env={"PORTAL_TEST_DATABASE_URL": ""})
    results["SQLite + browser"] = "passed" if code == 0 else "FAILED"

    postgres = os.environ.get("PORTAL_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    problem = postgres_reachable(postgres)
    if problem is None:
        # The browser journeys already ran on SQLite; on PostgreSQL they would prove
        # nothing more about the database and double the run time.
        code = run("tests on PostgreSQL",
                   [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-m", "not browser"],
                   env={"PORTAL_TEST_DATABASE_URL": postgres})
        results["PostgreSQL"] = "passed" if code == 0 else "FAILED"
    elif in_ci:
        print(f"\nPostgreSQL is not reachable at {postgres} ({problem}).")
        print("CI must run the suite on PostgreSQL: failing.")
        results["PostgreSQL"] = "FAILED (not reachable)"
    else:
        print(f"\nSKIPPED: the PostgreSQL run, because {postgres} is not reachable ({problem}).")
        print("Set PORTAL_TEST_POSTGRES_URL to a server to include it.")
        results["PostgreSQL"] = "SKIPPED (server not reachable)"

    print("\n=== summary ===")
    for name, outcome in results.items():
        print(f"  {name:<20} {outcome}")
    return 0 if all(not v.startswith("FAILED") for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

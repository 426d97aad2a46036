"""Requests per second of the portal's pages against a bare Flask + Jinja page.

Run from the repository root::

    .venv/bin/python bench/pages.py [--duration 5] [--warmup 1] [--clients 4] [--workers 2]
                                    [--rounds 3] [--worker-class sync] [--check]

What it does, in one run on this machine:

1. Makes a throw-away instance folder (SQLite database, secret key), runs
   ``portal db upgrade`` and ``portal demo`` in it.
2. Starts two gunicorn servers with identical settings on free loopback ports: the portal
   (``wsgi:app``) and the baseline (``bench.bare_app:app``, a bare Flask + Jinja page).
3. Loads each target in turn (bare, home, dashboard; all repeated ``--rounds`` times) for
   a fixed time with a few client processes (one new connection per request, stdlib
   ``http.client``), counting only good responses:
   - ``bare``: ``GET /`` on the baseline;
   - ``home``: ``GET /`` on the portal, signed out;
   - ``dashboard``: ``GET /dashboard`` signed in as the demo citizen (each client signs
     in once, before the clock starts).
4. Prints requests per second (median over the rounds) and the ratios to the bare page,
   against the target of 0.5, and writes the same to ``bench/results/pages.json``.

Traffic goes only to 127.0.0.1. Every loop is bounded by a deadline and by a request
count; the servers are stopped whatever happens.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import queue
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results" / "pages.json"

TARGET_RATIO = 0.5
HOST = "127.0.0.1"
COOKIE = "portal_session"
CITIZEN_EMAIL = "chan.taiman@example.com"
CITIZEN_PASSWORD = "Demo-citizen-2026"
DASHBOARD_MARKER = b"Your applications"
REQUEST_TIMEOUT = 10.0
#: Seconds a server gets to answer its first request after starting.
STARTUP_TIMEOUT = 60.0
#: Seconds the clients get to sign in before the measurement starts.
SETUP_TIMEOUT = 60.0

_CSRF_INPUT = re.compile(rb"<input[^>]*\bname=\"csrf_token\"[^>]*>")
_VALUE = re.compile(rb"\bvalue=\"([^\"]*)\"")


# --------------------------------------------------------------------------------------
# HTTP, one connection per request
# --------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def cookie(self, name: str) -> str | None:
        """The value ``Set-Cookie`` gives ``name``, if any."""
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                first = value.split(";", 1)[0]
                cname, _, cvalue = first.partition("=")
                if cname.strip() == name:
                    return cvalue.strip()
        return None


def request(
    port: int, method: str, path: str, *, cookie: str | None = None,
    form: dict[str, str] | None = None,
) -> Reply:
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        headers = {"Connection": "close", "Accept": "text/html", "User-Agent": "portal-bench"}
        body = None
        if cookie is not None:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return Reply(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def sign_in(port: int) -> str:
    """Sign in as the demo citizen; returns the signed-in session cookie's value."""
    page = request(port, "GET", "/sign-in")
    if page.status != 200:
        raise RuntimeError(f"GET /sign-in answered {page.status}")
    cookie = page.cookie(COOKIE)
    match = _CSRF_INPUT.search(page.body)
    token = _VALUE.search(match.group(0)) if match else None
    if cookie is None or token is None:
        raise RuntimeError("GET /sign-in gave no session cookie or no csrf_token input")
    reply = request(
        port, "POST", "/sign-in", cookie=cookie,
        form={
            "csrf_token": token.group(1).decode(),
            "email": CITIZEN_EMAIL,
            "password": CITIZEN_PASSWORD,
        },
    )
    location = reply.header("Location") or ""
    if reply.status != 302 or urllib.parse.urlsplit(location).path != "/dashboard":
        raise RuntimeError(
            f"POST /sign-in answered {reply.status} (Location: {location or '-'}); "
            "expected a 302 to /dashboard"
        )
    signed_in = reply.cookie(COOKIE)
    if not signed_in:
        raise RuntimeError("POST /sign-in set no new session cookie")
    return signed_in


# --------------------------------------------------------------------------------------
# Load generator: client processes, so the GIL does not cap the request rate
# --------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    path: str
    signed_in: bool = False
    marker: bytes | None = None


@dataclass
class ClientResult:
    ok: int = 0
    bad: int = 0
    errors: int = 0
    latency_sum: float = 0.0
    first_problem: str | None = None


def _client(
    target: Target, warmup: float, duration: float, max_requests: int,
    ready: Any, start: Any, start_at: Any, results: Any,
) -> None:
    """One client: sign in if needed, wait for the start, then request in a loop."""
    # Ctrl-C goes to the whole foreground group; the parent stops the clients itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    result = ClientResult()
    cookie = None
    try:
        if target.signed_in:
            cookie = sign_in(target.port)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        ready.put(f"sign-in failed: {exc}")
        return
    ready.put("ok")
    if not start.wait(SETUP_TIMEOUT):
        return
    begin = start_at.value + warmup
    end = begin + duration
    for _ in range(max_requests):
        sent = time.time()
        if sent >= end:
            break
        try:
            reply = request(target.port, "GET", target.path, cookie=cookie)
        except (OSError, http.client.HTTPException) as exc:
            done = time.time()
            if sent >= begin and done <= end:
                result.errors += 1
                result.first_problem = result.first_problem or f"{type(exc).__name__}: {exc}"
            continue
        done = time.time()
        new_cookie = reply.cookie(COOKIE)
        if new_cookie and cookie is not None:
            cookie = new_cookie  # what a browser would do with a refreshed session
        if sent < begin or done > end:
            continue  # warm-up, or finished after the clock stopped
        good = reply.status == 200 and (target.marker is None or target.marker in reply.body)
        if good:
            result.ok += 1
            result.latency_sum += done - sent
        else:
            result.bad += 1
            result.first_problem = result.first_problem or (
                f"status {reply.status}, Location: {reply.header('Location') or '-'}"
                + ("" if reply.status != 200 else f", body lacks {target.marker!r}")
            )
    results.put(result)


def run_load(
    target: Target, *, clients: int, warmup: float, duration: float, max_requests: int,
) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    start_at = ctx.Value("d", 0.0)  # wall-clock start, shared, set before ``start`` is set
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    collected: list[ClientResult] = []
    collected_all = False
    procs = [
        ctx.Process(
            target=_client, daemon=True,
            args=(target, warmup, duration, max_requests, ready, start, start_at, results),
        )
        for _ in range(clients)
    ]
    try:
        for p in procs:
            p.start()
        setup_deadline = time.time() + SETUP_TIMEOUT
        for _ in procs:
            message = ready.get(timeout=max(0.1, setup_deadline - time.time()))
            if message != "ok":
                raise RuntimeError(f"{target.name}: {message}")
        start_at.value = time.time()
        start.set()
        result_deadline = time.time() + warmup + duration + REQUEST_TIMEOUT + 5
        for _ in procs:
            collected.append(results.get(timeout=max(0.1, result_deadline - time.time())))
        collected_all = True
    except queue.Empty:
        raise RuntimeError(f"{target.name}: a client did not report in time") from None
    finally:
        # After a normal run the clients have finished; after a failure or a signal they
        # are stopped at once rather than left to run out their clock.
        for p in procs:
            if collected_all:
                p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    ok = sum(r.ok for r in collected)
    problems = [r.first_problem for r in collected if r.first_problem]
    return {
        "ok": ok,
        "bad": sum(r.bad for r in collected),
        "errors": sum(r.errors for r in collected),
        "rps": ok / duration,
        "mean_latency_ms": 1000 * sum(r.latency_sum for r in collected) / ok if ok else None,
        "first_problem": problems[0] if problems else None,
    }


# --------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    _log_file: Any = field(default=None, repr=False)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # gunicorn's graceful shutdown of master and workers

    def stop(self) -> None:
        self.terminate()
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # The server runs in its own process group, which it and its workers own.
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()


def start_server(
    name: str, app: str, *, env: dict[str, str], workers: int, worker_class: str,
    threads: int, logdir: Path,
) -> Server:
    port = free_port()
    log = logdir / f"gunicorn-{name}.log"
    log_file = log.open("wb")
    cmd = [
        str(BIN / "gunicorn"),
        "--bind", f"{HOST}:{port}",
        "--workers", str(workers),
        "--worker-class", worker_class,
        "--threads", str(threads),
        "--no-control-socket",  # two servers at once would share the default socket path
        "--log-level", "warning",
        app,
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    return Server(name, port, proc, log, log_file)


def wait_until_answering(server: Server, path: str = "/") -> None:
    deadline = time.time() + STARTUP_TIMEOUT
    last = "no answer"
    while time.time() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.name}: gunicorn exited with {server.proc.returncode}\n"
                + server.log_tail()
            )
        try:
            reply = request(server.port, "GET", path)
            if reply.status == 200:
                return
            last = f"status {reply.status}"
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    raise RuntimeError(f"{server.name}: not answering after {STARTUP_TIMEOUT:.0f}s ({last})\n"
                       + server.log_tail())


def portal_command(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(BIN / "portal"), *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=300, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"portal {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )


def gunicorn_version() -> str:
    try:
        from importlib.metadata import version

        return version("gunicorn")
    except Exception:  # noqa: BLE001 - only for the report
        return "unknown"


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def report(results: dict[str, dict[str, Any]], ratios: dict[str, float | None]) -> str:
    lines = [
        f"{'page':<11}{'req/s':>10}{'ok':>9}{'bad':>6}{'err':>6}{'mean ms':>10}"
        f"{'ratio to bare':>15}  target {TARGET_RATIO}",
    ]
    for name, res in results.items():
        latency = res["mean_latency_ms"]
        latency_text = f"{latency:.1f}" if latency is not None else "-"
        if name == "bare":
            ratio_text, verdict = "1.00", "(baseline)"
        else:
            ratio = ratios[name]
            ratio_text = f"{ratio:.2f}" if ratio is not None else "-"
            verdict = "met" if ratio is not None and ratio >= TARGET_RATIO else "NOT met"
        lines.append(
            f"{name:<11}{res['rps']:>10.1f}{res['ok']:>9}{res['bad']:>6}{res['errors']:>6}"
            f"{latency_text:>10}{ratio_text:>15}  {verdict}"
        )
    for name, res in results.items():
        if res["first_problem"]:
            lines.append(f"  {name}: first problem: {res['first_problem']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0,
                        help="seconds measured per page (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of unmeasured requests before each measurement (default 1)")
    parser.add_argument("--clients", type=int, default=4,
                        help="concurrent client processes (default 4)")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn workers for each server (default 2)")
    parser.add_argument("--worker-class", default="sync",
                        help="gunicorn worker class for both servers (default sync)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per gunicorn worker, for gthread (default 1)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure every page this many times, interleaved, so a burst of "
                             "other load on the machine hits all pages alike; the median is "
                             "reported (default 3)")
    parser.add_argument("--max-requests", type=int, default=100_000,
                        help="most requests one client sends per measurement (default 100000)")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 when a page misses the target ratio")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.clients < 1 or args.workers < 1 \
            or args.rounds < 1 or args.max_requests < 1 or args.threads < 1:
        parser.error("durations must be positive and counts at least 1")

    # SIGTERM (e.g. from a CI timeout) unwinds through the finally below like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
        env.update({
            "PORTAL_INSTANCE_PATH": str(instance),
            "PORTAL_ENVIRONMENT": "development",
            "PORTAL_MAIL_BACKEND": "mailbox",
            # Sign-in is rate limited per client address (SIGN_IN_RATE_LIMIT, 10 a minute);
            # every benchmark client signs in from 127.0.0.1, so the limiter would refuse
            # them. Nothing else differs from the embedded default.
            "PORTAL_RATELIMIT_ENABLED": "false",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        try:
            print("Preparing a demo database in a temporary instance folder ...", flush=True)
            portal_command(["db", "upgrade"], env)
            portal_command(["demo"], env)

            common = {"env": env, "workers": args.workers, "worker_class": args.worker_class,
                      "threads": args.threads, "logdir": Path(tmp)}
            bare = start_server("bare", "bench.bare_app:app", **common)
            servers.append(bare)
            portal = start_server("portal", "wsgi:app", **common)
            servers.append(portal)
            wait_until_answering(bare)
            wait_until_answering(portal)

            targets = [
                Target("bare", bare.port, "/"),
                Target("home", portal.port, "/"),
                Target("dashboard", portal.port, "/dashboard", signed_in=True,
                       marker=DASHBOARD_MARKER),
            ]
            print(
                f"gunicorn {gunicorn_version()}: {args.workers} x {args.worker_class} workers"
                f" (threads {args.threads}); {args.clients} clients; "
                f"{args.warmup:g}s warm-up + {args.duration:g}s per page"
                f"{f'; {args.rounds} rounds' if args.rounds > 1 else ''}; "
                f"{os.cpu_count()} CPUs",
                flush=True,
            )
            load_before = os.getloadavg()
            print(f"1-minute load average before measuring: {load_before[0]:.2f}"
                  + (" (the machine is busy: expect noisy numbers)"
                     if load_before[0] > 0.5 * (os.cpu_count() or 1) else ""), flush=True)
            runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
            for _ in range(args.rounds):
                for target in targets:
                    runs[target.name].append(run_load(
                        target, clients=args.clients, warmup=args.warmup,
                        duration=args.duration, max_requests=args.max_requests,
                    ))
        except RuntimeError as exc:
            print(f"\nThe benchmark could not run: {exc}", file=sys.stderr)
            for server in servers:
                print(f"\n--- last lines of the {server.name} server's log ---\n"
                      f"{server.log_tail()}", file=sys.stderr)
            return 3
        finally:
            # A second Ctrl-C or SIGTERM must not cut the clean-up short (it is bounded).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            for server in servers:  # both shut down at the same time, then are waited for
                server.terminate()
            for server in servers:
                server.stop()

    results: dict[str, dict[str, Any]] = {}
    for name, measured in runs.items():
        median = statistics.median(r["rps"] for r in measured)
        chosen = min(measured, key=lambda r: abs(r["rps"] - median))
        results[name] = {**chosen, "rps": median, "rounds_rps": [r["rps"] for r in measured]}
    bare_rps = results["bare"]["rps"]
    ratios = {
        name: (results[name]["rps"] / bare_rps if bare_rps else None)
        for name in ("home", "dashboard")
    }
    met = {name: ratio is not None and ratio >= TARGET_RATIO for name, ratio in ratios.items()}

    print()
    print(report(results, ratios))

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "gunicorn": gunicorn_version(),
                    "loadavg_1min_before": round(load_before[0], 2),
                    "loadavg_1min_after": round(os.getloadavg()[0], 2)},
        "settings": {"duration_s": args.duration, "warmup_s": args.warmup,
                     "clients": args.clients, "workers": args.workers,
                     "worker_class": args.worker_class, "threads": args.threads,
                     "rounds": args.rounds, "max_requests_per_client": args.max_requests},
        "target_ratio": TARGET_RATIO,
        "results": results,
        "ratios": ratios,
        "target_met": met,
    }, indent=2, ensure_ascii=False) + "\n")
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")

    broken = [
        name for name, res in results.items() if res["ok"] == 0 or res["bad"] or res["errors"]
    ]
    if broken:
        print(f"Some responses were not good ({', '.join(broken)}): the ratios may mislead.",
              file=sys.stderr)
        return 2
    if args.check and not all(met.values()):
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers were already stopped on the way out
        print("\nInterrupted.", file=sys.stderr)
        sys.exit(130)

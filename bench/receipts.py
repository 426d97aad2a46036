"""Receipts: render time against bare WeasyPrint, download time, and a worker's memory.

Run from the repository root::

    .venv/bin/python bench/receipts.py [--rounds 20] [--downloads 200] [--receipts 500]

What it does, in one process on this machine (a throw-away instance folder with its own
SQLite database; no network; the jobs that would run after commit are not started, so
every figure is the work of this process alone):

1. **Render.** One receipt is issued; then, alternating, its page is rendered by
   ``portal.receipts.render.render_receipt_pdf`` (template, WeasyPrint with the refusing URL
   fetcher, tagged PDF/UA, the payload attached, ``gc.collect()``) and the very same HTML
   by ``weasyprint.HTML(string=html).write_pdf()`` with nothing else. Prints the medians
   and their ratio (target: at most 1.2).
2. **Download.** The citizen downloads the stored receipt through the Flask test client
   (sign-in session, access check, file read, SHA-256 check); prints the median time and
   how many times faster than a render it is (target: at least 20).
3. **Memory.** Issues ``--receipts`` receipts one after another as a worker does (claim,
   number, sign, render, store, queue the email) and prints the growth of the process's
   resident memory (VmRSS) from after the first few to the end (target: under 50 MB).

It prints figures and ratios and asserts nothing: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "receipts.json"

RENDER_TARGET = 1.2
DOWNLOAD_TARGET = 20.0
MEMORY_TARGET_MB = 50.0
PASSWORD = "Bench-citizen-2026-receipts"  # noqa: S105 - a throw-away account
#: Receipts issued before the memory baseline is taken (caches, fonts, first key...).
MEMORY_WARMUP = 20


def rss_mb() -> float:
    """The process's resident memory now (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_app(instance: Path) -> Any:
    from flask_migrate import upgrade

    from portal import create_app

    app = create_app({
        "ENVIRONMENT": "testing",
        "TESTING": True,
        "SECRET_KEY": secrets.token_hex(32),
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'bench.db'}",
        "CELERY_BROKER_URL": "",
        "RATELIMIT_ENABLED": False,
        "PUBLIC_BASE_URL": "https://portal.example.gov.hk",
    })
    with app.app_context():
        upgrade(revision="heads")
    return app


def setup_citizen() -> Any:
    from portal.extensions import db
    from portal.identity import util
    from portal.identity.models import Department, Role, User

    db.session.add(Department(code="TD", name_en="Transport Department", name_zh="運輸署"))
    user = User(email="bench@example.com", name_en="CHAN Tai Man", name_zh="陳大文",
                role=Role.CITIZEN, preferred_language="en",
                email_confirmed_at=datetime.now(UTC))
    util.set_password(user, PASSWORD)
    db.session.add(user)
    db.session.commit()
    return user


def new_pending_receipt(user: Any) -> int:
    """A succeeded payment of a licence renewal, with its receipt asked for."""
    from portal.applications.models import Application
    from portal.applications.util import new_reference
    from portal.extensions import db
    from portal.payments.models import Payment
    from portal.receipts.issue import request_receipt

    now = datetime.now(UTC)
    application = Application(reference=new_reference(), user_id=user.id,
                              service="licence_renewal", department="TD", state="received",
                              answers={}, fee_amount=90_000, locale="en")
    db.session.add(application)
    db.session.flush()
    payment = Payment(public_id=secrets.token_hex(16), application_id=application.id,
                      nonce="bench", amount=90_000, provider="sandbox",
                      provider_reference=f"SBX-{secrets.token_hex(4)}",
                      return_token_digest="0" * 64, expires_at=now + timedelta(hours=1),
                      state="succeeded", method="card", succeeded_at=now)
    db.session.add(payment)
    db.session.flush()
    receipt_id = request_receipt(payment).id
    db.session.commit()
    return receipt_id


def issue(receipt_id: int) -> Any:
    from portal.extensions import db
    from portal.receipts.issue import issue_receipt
    from portal.receipts.models import Receipt

    status = issue_receipt(receipt_id)
    if status != "issued":
        raise RuntimeError(f"receipt {receipt_id} was not issued: {status}")
    db.session.expire_all()
    return db.session.get(Receipt, receipt_id)


def bench_render(receipt: Any, rounds: int) -> dict[str, float]:
    import weasyprint

    from portal.receipts import render

    html, _allowed = render.receipt_html(receipt)
    ours: list[float] = []
    direct: list[float] = []
    render.render_receipt_pdf(receipt)  # warm both paths once (fonts, caches)
    weasyprint.HTML(string=html).write_pdf()
    for _ in range(rounds):
        start = time.perf_counter()
        render.render_receipt_pdf(receipt)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        weasyprint.HTML(string=html).write_pdf()
        direct.append(time.perf_counter() - start)
    gc.collect()
    return {"render_s": statistics.median(ours), "direct_s": statistics.median(direct)}


def bench_download(app: Any, receipt: Any, count: int) -> float:
    from portal.testing.helpers import post_form

    url = (f"/applications/{receipt.payment.application.reference}/receipts/"
           f"{receipt.public_id}.pdf")
    client = app.test_client()
    signed_in = post_form(client, "/sign-in", {"email": "bench@example.com",
                                                "password": PASSWORD})
    if signed_in.status_code != 302:
        raise RuntimeError(f"sign-in answered {signed_in.status_code}")
    expected = client.get(url).data
    times = []
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        if response.status_code != 200 or response.data != expected:
            raise RuntimeError(f"download answered {response.status_code}")
    return statistics.median(times)


def bench_memory(user: Any, count: int) -> dict[str, float]:
    ids = [new_pending_receipt(user) for _ in range(count)]
    for receipt_id in ids[:MEMORY_WARMUP]:
        issue(receipt_id)
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    for receipt_id in ids[MEMORY_WARMUP:]:
        issue(receipt_id)
    elapsed = time.perf_counter() - start
    gc.collect()
    after = rss_mb()
    return {"rss_before_mb": before, "rss_after_mb": after, "growth_mb": after - before,
            "issue_s_each": elapsed / max(count - MEMORY_WARMUP, 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=20, help="renders of each kind")
    parser.add_argument("--downloads", type=int, default=200)
    parser.add_argument("--receipts", type=int, default=500, help="issued for the memory run")
    args = parser.parse_args()

    import logging

    import portal.jobs

    # Jobs after commit are not started: every figure is this process's own work.
    portal.jobs.enqueue = lambda *names: None  # type: ignore[assignment]

    with tempfile.TemporaryDirectory(prefix="portal-bench-receipts-") as folder:
        app = make_app(Path(folder))
        logging.getLogger("portal").setLevel(logging.WARNING)  # no line per receipt issued
        with app.app_context():
            user = setup_citizen()
            receipt = issue(new_pending_receipt(user))
            render_times = bench_render(receipt, args.rounds)
            download_s = bench_download(app, receipt, args.downloads)
            memory = bench_memory(user, args.receipts)

    render_ratio = render_times["render_s"] / render_times["direct_s"]
    download_speedup = render_times["render_s"] / download_s
    print(f"receipts benchmark ({platform.python_implementation()} {platform.python_version()},"
          f" {platform.machine()})")
    print(f"render: portal {render_times['render_s'] * 1000:.1f} ms, WeasyPrint directly "
          f"{render_times['direct_s'] * 1000:.1f} ms (medians of {args.rounds}): ratio "
          f"{render_ratio:.2f} (target <= {RENDER_TARGET})")
    print(f"download of a stored receipt: {download_s * 1000:.2f} ms (median of "
          f"{args.downloads}): {download_speedup:.0f}x faster than a render "
          f"(target >= {DOWNLOAD_TARGET:.0f}x)")
    print(f"memory over {args.receipts} receipts issued: RSS {memory['rss_before_mb']:.1f} MB "
          f"after {MEMORY_WARMUP} -> {memory['rss_after_mb']:.1f} MB, growth "
          f"{memory['growth_mb']:.1f} MB (target < {MEMORY_TARGET_MB:.0f} MB); "
          f"{memory['issue_s_each'] * 1000:.0f} ms per receipt issued")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "render": {**render_times, "ratio": render_ratio, "target": RENDER_TARGET},
        "download": {"median_s": download_s, "speedup": download_speedup,
                     "target": DOWNLOAD_TARGET},
        "memory": {**memory, "receipts": args.receipts, "target_mb": MEMORY_TARGET_MB},
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()

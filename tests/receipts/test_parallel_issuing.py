"""Issuing in parallel: distinct gapless numbers, and one receipt issued once.

Each thread is a worker of its own: its own application context, hence its own database
session and connection. PostgreSQL runs 20 at once; SQLite (one writer at a time) fewer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.notifications.models import OutboxEmail
from portal.receipts import issue, numbering, storage
from portal.receipts.models import ReceiptCounter
from tests.receipts.conftest import all_receipts


@pytest.fixture
def workers(app, monkeypatch) -> int:
    """How many workers; the emails they queue are left in the outbox (in the embedded
    default a job started after commit runs inside the worker, on a second connection,
    which would make this a test of the connection pool's size instead)."""
    monkeypatch.setattr("portal.jobs.enqueue", lambda *args: None)
    return 20 if db.engine.dialect.name == "postgresql" else 6


def _in_parallel(app: Any, count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at the same moment."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        with app.app_context():
            try:
                start.wait()
                results[index] = work(index)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


@pytest.fixture
def pending_receipts(make_payment, create_user, workers) -> Callable[[int], list[int]]:
    """``pending_receipts(n)``: n receipts asked for (no job runs: see ``workers``)."""

    def make(count: int) -> list[int]:
        from portal.receipts import signing

        signing.active_key()  # as in service: the signing key exists before receipts do
        citizen = create_user()
        ids = []
        for _ in range(count):
            ids.append(issue.request_receipt(make_payment(user=citizen)).id)
            db.session.commit()
        return ids

    return make


def test_parallel_issues_of_many_receipts_give_distinct_gapless_numbers(
        app, workers, pending_receipts):
    ids = pending_receipts(workers)
    statuses = _in_parallel(app, workers, lambda i: issue.issue_receipt(ids[i]))
    assert statuses == ["issued"] * workers
    receipts = all_receipts()
    assert sorted(r.sequence for r in receipts) == list(range(1, workers + 1))
    assert len({r.number for r in receipts}) == workers
    assert len({r.storage_key for r in receipts}) == workers
    counter = db.session.get(ReceiptCounter, receipts[0].series)
    assert counter.last_sequence == workers
    assert len(list(storage.receipts_folder().iterdir())) == workers
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == workers


def test_parallel_issues_of_one_receipt_give_one_number_and_one_file(
        app, workers, pending_receipts):
    [receipt_id] = pending_receipts(1)
    statuses = _in_parallel(app, workers, lambda i: issue.issue_receipt(receipt_id))
    assert statuses.count("issued") == 1
    assert statuses.count(None) == workers - 1
    [receipt] = all_receipts()
    assert receipt.status == "issued"
    assert receipt.sequence == 1
    assert [p.name for p in storage.receipts_folder().iterdir()] == [receipt.storage_key]
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 1
    assert db.session.get(ReceiptCounter, receipt.series).last_sequence == 1


def test_parallel_numbering_of_one_receipt_takes_one_number(app, workers, pending_receipts):
    """Below the claim: even workers that all got past it take one number between them."""
    [receipt_id] = pending_receipts(1)
    series = "TD/2026-27"
    numbers = _in_parallel(app, workers, lambda i: numbering.take_number(receipt_id, series))
    assert [n for n in numbers if n is not None] == ["TD/2026-27/000001"]
    db.session.expire_all()
    assert db.session.get(ReceiptCounter, series).last_sequence == 1

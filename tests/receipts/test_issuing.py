"""Each succeeded payment gets exactly one receipt, whatever runs twice or fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.database import utcnow
from portal.extensions import db
from portal.notifications.models import OutboxEmail
from portal.receipts import issue, render, storage
from portal.receipts.models import Receipt
from tests.receipts.conftest import all_receipts, fresh_receipt


def _files() -> list[str]:
    folder = storage.receipts_folder()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _emails() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxEmail))


@pytest.fixture
def no_jobs(monkeypatch):
    """Receipts asked for stay pending (as if the job after commit was lost)."""
    monkeypatch.setattr("portal.jobs.enqueue", lambda *args: None)


def test_a_receipt_is_issued_after_its_payment_commits(make_payment, issue_for):
    receipt = issue_for(make_payment())
    assert receipt.status == "issued"
    assert receipt.cause == f"payment:{receipt.payment_id}"
    assert receipt.short_code
    assert receipt.signed_payload
    assert receipt.key_id
    assert receipt.issued_at is not None
    assert receipt.claimed_until is None
    assert _files() == [receipt.storage_key]
    assert receipt.size == len(storage.read(receipt.storage_key))
    assert _emails() == 1


def test_asking_twice_gives_the_same_receipt(make_payment, issue_for):
    payment = make_payment()
    first = issue_for(payment)
    second = issue_for(payment)
    assert first.id == second.id
    assert len(all_receipts()) == 1


def test_running_the_job_again_changes_nothing(make_payment, issue_for):
    receipt = issue_for(make_payment())
    before = (receipt.number, receipt.storage_key, receipt.sha256, receipt.short_code)
    for _ in range(3):
        assert issue.issue_receipt(receipt.id) is None
    assert issue.issue_due() == 0
    receipt = fresh_receipt(receipt.id)
    assert (receipt.number, receipt.storage_key, receipt.sha256, receipt.short_code) == before
    assert _files() == [receipt.storage_key]
    assert _emails() == 1


def test_a_failed_render_keeps_the_number_and_leaves_no_gap(
        make_payment, issue_for, monkeypatch, smtp_sink):
    real_render = render.render_prepared

    def broken(document):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(render, "render_prepared", broken)
    failed = issue_for(make_payment())
    assert failed.status == "numbered"
    assert failed.number.endswith("/000001")
    assert failed.attempts == 1
    assert "renderer crashed" in failed.last_error
    assert failed.next_attempt_at > utcnow()  # backing off
    assert failed.storage_key is None
    assert _files() == []
    assert _emails() == 0

    monkeypatch.setattr(render, "render_prepared", real_render)
    assert issue.issue_due() == 0  # not due yet
    db.session.execute(update(Receipt).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert issue.issue_due() == 1
    done = fresh_receipt(failed.id)
    assert (done.status, done.number, done.attempts) == ("issued", failed.number, 2)
    assert done.last_error is None
    assert issue_for(make_payment()).number.endswith("/000002")
    assert _emails() == 2


def test_the_back_off_grows_with_each_attempt():
    assert [issue.backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert issue.backoff(30) == timedelta(hours=6)


def test_a_render_that_loses_the_race_deletes_its_file(make_payment, issue_for, monkeypatch):
    """Another worker (whose claim outlived ours) issues the receipt while we render."""
    issue_for(make_payment())
    real_render = render.render_prepared

    def overtaken(document):
        pdf = real_render(document)
        with db.engine.begin() as other_worker:
            other_worker.execute(update(Receipt).where(Receipt.status == "numbered")
                                 .values(status="issued", storage_key="0" * 32 + ".pdf"))
        return pdf

    monkeypatch.setattr(render, "render_prepared", overtaken)
    receipt = issue_for(make_payment())
    assert receipt.storage_key == "0" * 32 + ".pdf"  # the other worker's, untouched
    assert receipt.short_code is None  # nothing of ours was written
    assert len(_files()) == 1  # only the first receipt's
    assert _emails() == 1


def test_the_sweep_issues_receipts_whose_job_was_lost(make_payment, no_jobs, app):
    payment = make_payment()
    receipt_id = issue.request_receipt(payment).id
    db.session.commit()
    assert fresh_receipt(receipt_id).status == "pending"
    result = app.test_cli_runner().invoke(args=["receipts", "issue-pending"])
    assert result.exit_code == 0, result.output
    assert "1 receipt(s) issued" in result.output
    assert fresh_receipt(receipt_id).status == "issued"
    again = app.test_cli_runner().invoke(args=["receipts", "issue-pending"])
    assert "0 receipt(s) issued" in again.output


def test_a_receipt_held_by_a_live_worker_is_left_alone(make_payment, no_jobs):
    receipt_id = issue.request_receipt(make_payment()).id
    db.session.commit()
    assert issue.claim(receipt_id)
    assert issue.issue_receipt(receipt_id) is None
    assert issue.issue_due() == 0
    assert fresh_receipt(receipt_id).status == "pending"
    # Its worker died: once the claim runs out, the sweep takes it.
    db.session.execute(update(Receipt).values(claimed_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert issue.issue_due() == 1


def test_a_rolled_back_payment_asks_for_no_receipt(make_payment, monkeypatch):
    jobs = []
    monkeypatch.setattr("portal.jobs.enqueue", lambda *args: jobs.append(args))
    issue.request_receipt(make_payment())
    db.session.rollback()
    db.session.commit()
    assert all_receipts() == []
    assert jobs == []


def test_the_ledger_asks_for_the_receipt_when_a_payment_succeeds(client, awaiting_payment,
                                                                 provider):
    from portal.payments import ledger
    from portal.payments.models import Payment
    from tests.payments.test_ledger import _pay

    _pay(client, awaiting_payment)
    provider.status = "succeeded"
    payment = db.session.scalar(select(Payment))
    ledger.settle(payment)
    ledger.settle(payment)  # a repeated answer changes nothing
    [receipt] = all_receipts()
    assert (receipt.status, receipt.amount, receipt.payment_id) == ("issued", 10_000, payment.id)
    assert _emails() == 2  # the application's "received" email and the receipt's


def test_no_transaction_is_open_while_the_pdf_is_rendered(make_payment, issue_for,
                                                         monkeypatch):
    """The first receipt also makes the first signing key: committed before the render,
    and the session holds no transaction (no SQLite write lock, no PostgreSQL "idle in
    transaction") while WeasyPrint runs."""
    from portal.receipts.models import ReceiptSigningKey

    real_render = render.render_prepared
    seen = []

    def watching(document):
        with db.engine.connect() as other_connection:  # sees only what was committed
            keys = other_connection.scalar(
                select(func.count()).select_from(ReceiptSigningKey))
        seen.append((db.session().in_transaction(), keys))
        return real_render(document)

    monkeypatch.setattr(render, "render_prepared", watching)
    first = issue_for(make_payment())
    second = issue_for(make_payment())
    assert (first.status, second.status) == ("issued", "issued")
    assert seen == [(False, 1), (False, 1)]
    assert first.key_id == second.key_id

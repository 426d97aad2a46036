"""Refunds: never more than was paid, even with two staff at once; the provider's answer
recorded once; a provider that is down leaves the refund for reconciliation."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from portal.applications.models import ApplicationEvent
from portal.database import utcnow
from portal.extensions import db
from portal.payments import ledger, refunds
from portal.payments.models import REFUND_MOVES, Payment, Refund, RefundState
from portal.payments.tasks import reconcile_refunds
from tests.payments.test_ledger import _pay


def credit_notes() -> list[int]:
    """Ids of the refunds a credit note was asked for (rows of the receipts outbox)."""
    from portal.receipts.models import Receipt, ReceiptKind

    db.session.expire_all()
    return list(db.session.scalars(
        select(Receipt.refund_id).where(Receipt.kind == ReceiptKind.CREDIT_NOTE.value)
        .order_by(Receipt.id)))


@pytest.fixture
def paid(client, provider, awaiting_payment) -> Payment:
    """The citizen's HK$100 payment, succeeded at the (fake) provider."""
    _pay(client, awaiting_payment)
    provider.status = "succeeded"
    payment = db.session.scalar(select(Payment))
    ledger.settle(payment)
    assert payment.state == "succeeded"
    return payment


@pytest.fixture
def officer(create_staff):
    return create_staff("officer@example.com", role="officer")


def _refunded(payment: Payment) -> int:
    db.session.expire_all()
    return db.session.get(Payment, payment.id).refunded_amount


def _refund_events() -> list[ApplicationEvent]:
    return list(db.session.scalars(
        select(ApplicationEvent).where(ApplicationEvent.action == refunds.REFUNDED_ACTION)))


@pytest.mark.parametrize("source", list(RefundState))
@pytest.mark.parametrize("target", list(RefundState))
def test_the_refund_state_table(paid, officer, source, target):
    row = Refund(public_id="r" * 32, payment_id=paid.id, amount=100, reason="test",
                 state=source.value, requested_by_id=officer.id)
    db.session.add(row)
    db.session.flush()
    if target in REFUND_MOVES[source]:
        assert refunds.move_refund(row, target)
        assert row.state == target
    else:
        with pytest.raises(refunds.IllegalRefundMove):
            refunds.move_refund(row, target)
    db.session.rollback()


def test_a_full_refund_gives_everything_back_once(paid, officer, provider):
    row = refunds.refund(paid, 10_000, "Application made twice", officer)
    assert row.state == "succeeded"
    assert row.completed_at is not None
    assert row.provider_reference == f"fake-refund-{row.public_id}"
    assert row.requested_by_id == officer.id
    assert provider.refunds == [("fake-1", 10_000, row.public_id)]
    assert _refunded(paid) == 10_000
    assert db.session.get(Payment, paid.id).refundable_amount == 0
    assert credit_notes() == [row.id]
    [event] = _refund_events()
    assert (event.note, event.actor_role, event.actor_id) == ("HK$100.00", "officer", officer.id)
    assert event.from_state == event.to_state  # the application's state does not change


def test_a_partial_refund_leaves_the_rest_refundable(paid, officer):
    refunds.refund(paid, 2_550, "Overcharged for one copy", officer)
    assert _refunded(paid) == 2_550
    assert db.session.get(Payment, paid.id).refundable_amount == 7_450
    assert [e.note for e in _refund_events()] == ["HK$25.50"]


def test_two_partial_refunds_may_reach_the_total_and_one_cent_more_is_refused(
        paid, officer, provider):
    refunds.refund(paid, 6_000, "First part", officer)
    refunds.refund(paid, 4_000, "Second part", officer)
    assert _refunded(paid) == 10_000
    with pytest.raises(refunds.MoreThanRemains) as refused:
        refunds.refund(db.session.get(Payment, paid.id), 1, "One cent more", officer)
    assert refused.value.remaining == 0
    assert len(provider.refunds) == 2
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 2


def test_one_cent_over_what_remains_is_refused_and_changes_nothing(paid, officer, provider):
    with pytest.raises(refunds.MoreThanRemains) as refused:
        refunds.refund(paid, 10_001, "Too much", officer)
    assert refused.value.remaining == 10_000
    assert _refunded(paid) == 0
    assert provider.refunds == []
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0


@pytest.mark.parametrize("amount", [0, -100, 12.5, "100", True])
def test_an_amount_that_is_not_a_positive_number_of_cents_is_refused(paid, officer, amount):
    with pytest.raises(ValueError, match="cents"):
        refunds.refund(paid, amount, "Bad amount", officer)
    assert _refunded(paid) == 0


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_refund_needs_a_reason_of_at_most_500_characters(paid, officer, reason):
    with pytest.raises(ValueError, match="reason"):
        refunds.refund(paid, 100, reason, officer)
    assert _refunded(paid) == 0


@pytest.mark.parametrize("state", ["started", "failed", "cancelled", "expired"])
def test_only_a_succeeded_payment_can_be_refunded(paid, officer, provider, state):
    db.session.execute(update(Payment).where(Payment.id == paid.id).values(state=state))
    db.session.commit()
    payment = db.session.get(Payment, paid.id)
    assert payment.refundable_amount == 0
    with pytest.raises(refunds.NotRefundable):
        refunds.refund(payment, 100, "Not paid", officer)
    assert provider.refunds == []
    assert _refunded(paid) == 0


def test_a_refusal_by_the_provider_releases_the_amount_and_it_can_be_retried(
        paid, officer, provider):
    provider.refund_status = "failed"
    first = refunds.refund(paid, 10_000, "Refused first", officer)
    assert first.state == "failed"
    assert first.completed_at is not None
    assert _refunded(paid) == 0
    assert credit_notes() == []
    assert _refund_events() == []
    provider.refund_status = "succeeded"
    second = refunds.refund(db.session.get(Payment, paid.id), 10_000, "Again", officer)
    assert second.state == "succeeded"
    assert second.public_id != first.public_id
    assert _refunded(paid) == 10_000
    assert credit_notes() == [second.id]


def test_a_provider_that_is_down_leaves_the_refund_processing_and_reserved(
        paid, officer, provider):
    provider.fail = True
    with pytest.raises(refunds.RefundPending) as pending:
        refunds.refund(paid, 3_000, "Provider down", officer)
    row = db.session.get(Refund, pending.value.refund.id)
    assert row.state == "processing"
    assert _refunded(paid) == 3_000  # still reserved: nobody else may take it meanwhile
    with pytest.raises(refunds.MoreThanRemains):
        refunds.refund(db.session.get(Payment, paid.id), 7_001, "Too much", officer)
    assert credit_notes() == []


def _age(row: Refund) -> None:
    db.session.execute(update(Refund).where(Refund.id == row.id)
                       .values(updated_at=utcnow() - refunds.RETRY_AFTER - timedelta(seconds=1)))
    db.session.commit()


def test_reconciliation_finishes_a_pending_refund_once_with_the_same_id(
        paid, officer, provider):
    provider.fail = True
    with pytest.raises(refunds.RefundPending) as pending:
        refunds.refund(paid, 3_000, "Provider down", officer)
    refund_id = pending.value.refund.id
    provider.fail = False
    # A refund being asked about right now is left alone.
    assert reconcile_refunds().checked == 0
    _age(db.session.get(Refund, refund_id))
    result = reconcile_refunds()
    assert (result.checked, result.succeeded, result.errors) == (1, 1, 0)
    assert reconcile_refunds().checked == 0
    row = db.session.get(Refund, refund_id)
    assert row.state == "succeeded"
    assert provider.refunds == [("fake-1", 3_000, row.public_id)]
    assert credit_notes() == [row.id]
    assert len(_refund_events()) == 1
    assert _refunded(paid) == 3_000


def test_reconciliation_releases_a_refund_the_provider_then_refuses(paid, officer, provider):
    provider.fail = True
    with pytest.raises(refunds.RefundPending) as pending:
        refunds.refund(paid, 3_000, "Provider down", officer)
    provider.fail = False
    provider.refund_status = "failed"
    _age(pending.value.refund)
    assert reconcile_refunds().failed == 1
    assert _refunded(paid) == 0


def test_reconciliation_counts_a_provider_still_down(paid, officer, provider):
    provider.fail = True
    with pytest.raises(refunds.RefundPending) as pending:
        refunds.refund(paid, 3_000, "Provider down", officer)
    _age(pending.value.refund)
    assert reconcile_refunds().errors == 1
    assert db.session.get(Refund, pending.value.refund.id).state == "processing"


def test_the_cli_reconciles_refunds(app, paid, officer, provider):
    provider.fail = True
    with pytest.raises(refunds.RefundPending) as pending:
        refunds.refund(paid, 3_000, "Provider down", officer)
    provider.fail = False
    _age(pending.value.refund)
    output = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert output.exit_code == 0, output.output
    assert "1 unfinished refunds checked: 1 succeeded" in output.output
    db.session.expire_all()
    assert db.session.get(Refund, pending.value.refund.id).state == "succeeded"


def _reconcile_job(app):
    """The beat's job as this app's Celery runs it (not the process-wide default app,
    which is whichever app was made last: another test's, with another database)."""
    from portal.payments.tasks import RECONCILE_TASK

    return app.extensions["celery"].tasks[RECONCILE_TASK]


def test_the_periodic_reconcile_job_finishes_refunds_too(app, paid, officer, provider):
    reconcile_payments_and_refunds = _reconcile_job(app)

    provider.fail = True
    with pytest.raises(refunds.RefundPending) as pending:
        refunds.refund(paid, 3_000, "Provider down", officer)
    provider.fail = False
    _age(pending.value.refund)
    result = reconcile_payments_and_refunds()
    assert (result["refunds_checked"], result["refunds_succeeded"]) == (1, 1)
    assert "checked" in result  # the payments' figures are still there
    assert db.session.get(Refund, pending.value.refund.id).state == "succeeded"


def test_the_beat_schedule_names_the_registered_reconcile_job(app):
    from portal.jobs import BEAT_SCHEDULE
    from portal.payments.tasks import RECONCILE_TASK

    assert BEAT_SCHEDULE["reconcile-payments"]["task"] == RECONCILE_TASK
    assert RECONCILE_TASK in app.extensions["celery"].tasks


@pytest.mark.parametrize("broken", ["reconcile_refunds", "reconcile_payments"])
def test_a_fault_in_one_half_of_the_reconcile_job_never_skips_the_other(
        app, client, provider, awaiting_payment, officer, monkeypatch, caplog, broken):
    """Refunds run first; a fault there (or in payments) is logged with its traceback and
    the other half still runs."""
    from portal.payments import tasks

    _pay(client, awaiting_payment)
    provider.status = "succeeded"
    paid = db.session.scalar(select(Payment))
    ledger.settle(paid)  # succeeded, so it can be refunded
    provider.fail = True
    with pytest.raises(refunds.RefundPending) as pending:
        refunds.refund(paid, 3_000, "Provider down", officer)
    provider.fail = False
    _age(pending.value.refund)

    def boom():
        raise RuntimeError("database went away")

    monkeypatch.setattr(tasks, broken, boom)
    result = _reconcile_job(app)()
    [logged] = [r for r in caplog.records if r.getMessage().startswith("reconciliation of")]
    assert logged.levelname == "ERROR"
    assert logged.exc_info is not None  # with its traceback
    if broken == "reconcile_refunds":
        assert result["refunds_failed_to_run"] == 1
        assert "checked" in result  # payments were reconciled all the same
        assert db.session.get(Refund, pending.value.refund.id).state == "processing"
    else:
        assert result["payments_failed_to_run"] == 1
        assert result["refunds_succeeded"] == 1  # refunds were reconciled all the same
        db.session.expire_all()
        assert db.session.get(Refund, pending.value.refund.id).state == "succeeded"


@pytest.mark.parametrize("error", [
    ValueError("bad amount"), TypeError("amount is not an int"),
    LookupError("no such payment"), KeyError("payment"),
])
def test_a_refund_refused_for_good_by_an_exception_fails_and_releases_once(
        paid, officer, provider, caplog, error):
    provider.refund_error = error
    row = refunds.refund(paid, 4_000, "Refused for good", officer)
    assert row.state == "failed"
    assert row.completed_at is not None
    assert _refunded(paid) == 0  # released
    assert credit_notes() == []
    assert _refund_events() == []
    assert [r for r in caplog.records
            if r.levelname == "ERROR" and "refused for good" in r.getMessage()]
    # Recorded once: reconciliation leaves it alone, and nothing is released twice.
    _age(db.session.get(Refund, row.id))
    assert reconcile_refunds().checked == 0
    assert _refunded(paid) == 0
    assert len(provider.refunds) == 1
    # The whole amount may be refunded again, under a new refund id.
    provider.refund_error = None
    again = refunds.refund(db.session.get(Payment, paid.id), 10_000, "Again", officer)
    assert again.state == "succeeded"
    assert _refunded(paid) == 10_000


def test_the_sandbox_refusing_a_reused_refund_id_fails_the_refund(paid, officer, provider):
    from portal.payments.sandbox.refunds import RefundIdReused

    provider.refund_error = RefundIdReused("refund id was used for another refund")
    row = refunds.refund(paid, 4_000, "Reused id", officer)
    assert (row.state, _refunded(paid)) == ("failed", 0)


@pytest.mark.parametrize("error", [RuntimeError("down"), ConnectionError("reset"),
                                   TimeoutError("slow"), OSError("no route")])
def test_a_transient_provider_error_keeps_the_refund_processing(paid, officer, provider,
                                                                 error):
    provider.refund_error = error
    with pytest.raises(refunds.RefundPending) as pending:
        refunds.refund(paid, 4_000, "Try again", officer)
    assert db.session.get(Refund, pending.value.refund.id).state == "processing"
    assert _refunded(paid) == 4_000


def test_a_refund_whose_provider_is_not_installed_stays_processing(
        app, paid, officer, provider, monkeypatch):
    """Not the provider's answer: a fault of the installation, mended by a person."""
    monkeypatch.delitem(app.extensions["payment_providers"], "fake")
    with pytest.raises(refunds.RefundPending) as pending:
        refunds.refund(paid, 4_000, "No provider", officer)
    assert db.session.get(Refund, pending.value.refund.id).state == "processing"
    assert _refunded(paid) == 4_000


def _asked_long_ago(row_id: int, age: timedelta) -> None:
    then = utcnow() - age
    db.session.execute(update(Refund).where(Refund.id == row_id)
                       .values(created_at=then, updated_at=then))
    db.session.commit()


def test_a_refund_processing_for_a_day_is_logged_as_an_error_on_every_run(
        paid, officer, provider, caplog):
    provider.fail = True
    with pytest.raises(refunds.RefundPending) as pending:
        refunds.refund(paid, 3_000, "Provider down", officer)
    row_id = pending.value.refund.id
    _asked_long_ago(row_id, refunds.STUCK_AFTER - timedelta(minutes=5))
    assert reconcile_refunds().stuck == 0  # not yet a day
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    _asked_long_ago(row_id, refunds.STUCK_AFTER + timedelta(minutes=1))
    for _run in range(2):
        result = reconcile_refunds()
        assert (result.checked, result.errors, result.stuck) == (1, 1, 1)
        _age(db.session.get(Refund, row_id))
    stuck = [r for r in caplog.records
             if r.levelname == "ERROR" and "has been processing since" in r.getMessage()]
    assert len(stuck) == 2
    # Still reserved and still asked: once the provider answers, it is recorded.
    assert db.session.get(Refund, row_id).state == "processing"
    assert _refunded(paid) == 3_000
    provider.fail = False
    assert reconcile_refunds().succeeded == 1


def test_a_late_answer_after_the_refund_was_recorded_changes_nothing(
        paid, officer, provider):
    row = refunds.refund(paid, 5_000, "Once", officer)
    provider.refund_status = "failed"
    stale = db.session.get(Refund, row.id)
    # As another request read it before the answer came (not a change to be flushed).
    set_committed_value(stale, "state", "processing")
    refunds._record_failure(stale)
    db.session.expire_all()
    assert db.session.get(Refund, row.id).state == "succeeded"
    assert _refunded(paid) == 5_000
    assert credit_notes() == [row.id]


def test_the_same_refund_id_twice_is_one_refund(paid, officer, provider):
    nonce = "a" * 32
    first = refunds.refund(paid, 2_000, "Double click", officer, refund_id=nonce)
    second = refunds.refund(db.session.get(Payment, paid.id), 2_000, "Double click", officer,
                            refund_id=nonce)
    assert second.id == first.id
    assert _refunded(paid) == 2_000
    assert len(provider.refunds) == 1


def test_a_refund_id_taken_by_another_refund_is_refused(paid, officer, create_staff):
    nonce = "b" * 32
    refunds.refund(paid, 2_000, "First", officer, refund_id=nonce)
    other = create_staff("other@example.com", role="supervisor")
    with pytest.raises(refunds.DuplicateRefund):
        refunds.refund(db.session.get(Payment, paid.id), 2_000, "Second", other,
                       refund_id=nonce)
    with pytest.raises(ValueError, match="refund id"):
        refunds.refund(db.session.get(Payment, paid.id), 2_000, "Bad id", officer,
                       refund_id="not-hex")
    assert _refunded(paid) == 2_000


def test_parallel_refunds_never_exceed_the_payment(app, paid, officer, provider):
    """Ten staff requests at once, each for 60 %: exactly one gets through."""
    payment_id, officer_id = paid.id, officer.id
    db.session.remove()
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def refund_at_once() -> None:
        from portal.identity.models import User

        with app.app_context():
            try:
                payment = db.session.get(Payment, payment_id)
                staff = db.session.get(User, officer_id)
                db.session.commit()  # end the read: each starts fresh at the barrier
                barrier.wait()
                outcomes.append(refunds.refund(payment, 6_000, "At once", staff).state)
            except refunds.MoreThanRemains:
                outcomes.append("refused")
            except Exception as exc:  # noqa: BLE001 - recorded and checked below
                outcomes.append(f"error: {exc!r}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=refund_at_once) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 9 + ["succeeded"], outcomes
    assert _refunded(paid) == 6_000
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 1
    assert len(provider.refunds) == 1


@pytest.mark.parametrize(("refunded", "allowed"), [
    (0, True), (10_000, True), (10_001, False), (-1, False),
])
def test_the_database_keeps_the_refunded_amount_between_nothing_and_the_amount(
        paid, refunded, allowed):
    """The last guard, whatever a statement asks (the compare-and-set is the first)."""
    from sqlalchemy.exc import IntegrityError

    change = update(Payment).where(Payment.id == paid.id).values(refunded_amount=refunded)
    if allowed:
        db.session.execute(change)
        db.session.commit()
        assert _refunded(paid) == refunded
    else:
        with pytest.raises(IntegrityError):
            db.session.execute(change)
        db.session.rollback()
        assert _refunded(paid) == 0

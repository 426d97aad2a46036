"""A payment the citizen never came back from is settled by reconciliation, once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from portal.applications.models import Application, ApplicationEvent
from portal.database import utcnow
from portal.extensions import db
from portal.payments.models import Payment
from portal.payments.tasks import reconcile_payments
from tests.payments.test_ledger import _pay, _return_path


def _events(action):
    return db.session.scalar(select(func.count()).select_from(ApplicationEvent)
                             .where(ApplicationEvent.action == action))


def test_a_payment_never_returned_from_is_settled_once(client, provider, awaiting_payment,
                                                       smtp_sink):
    _pay(client, awaiting_payment)  # the citizen paid, then closed the browser
    provider.status = "succeeded"
    first = reconcile_payments()
    again = reconcile_payments()
    assert (first.checked, first.settled, first.errors) == (1, 1, 0)
    assert again.checked == 0
    db.session.expire_all()
    assert db.session.scalar(select(Payment.state)) == "succeeded"
    assert db.session.scalar(select(Application.state)) == "received"
    assert _events("payment_received") == 1


def test_a_pending_payment_is_left_alone_until_its_time_runs_out(client, provider,
                                                                 awaiting_payment):
    _pay(client, awaiting_payment)
    provider.status = "pending"
    assert reconcile_payments().settled == 0
    assert db.session.scalar(select(Payment.state)) == "started"
    db.session.execute(update(Payment).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    result = reconcile_payments()
    assert result.expired == 1
    assert db.session.scalar(select(Payment.state)) == "expired"
    assert db.session.scalar(select(Application.state)) == "awaiting_payment"


def test_a_provider_that_cannot_answer_is_tried_again_next_time(client, provider,
                                                               awaiting_payment, monkeypatch):
    _pay(client, awaiting_payment)

    def down(reference):
        raise RuntimeError("provider down")

    monkeypatch.setattr(provider, "fetch_status", down)
    result = reconcile_payments()
    assert (result.checked, result.errors) == (1, 1)
    assert db.session.scalar(select(Payment.state)) == "started"


def test_the_command_reports_and_fails_on_errors(app, client, provider, awaiting_payment):
    _pay(client, awaiting_payment)
    runner = app.test_cli_runner()
    provider.fetch_status = _raises  # an instance attribute hides the method...
    down = runner.invoke(args=["payments", "reconcile"])
    assert down.exit_code == 1
    assert "1 could not be checked" in down.output
    del provider.fetch_status  # ...until it is removed
    provider.status = "failed"
    ok = runner.invoke(args=["payments", "reconcile"])
    assert ok.exit_code == 0, ok.output
    assert "1 open payments checked: 1 settled" in ok.output
    assert db.session.scalar(select(Payment.state)) == "failed"


def _raises(reference):
    raise RuntimeError("provider down")


def test_returns_and_reconciliation_at_the_same_moment_settle_once(app, client, provider,
                                                                   awaiting_payment, sign_in):
    import threading

    _pay(client, awaiting_payment)
    provider.status = "succeeded"
    path = _return_path(provider)
    clients = [app.test_client() for _ in range(3)]
    for each in clients:
        sign_in(each)
    barrier = threading.Barrier(len(clients) + 2)
    codes: list[int] = []
    errors: list[int] = []

    def come_back(each):
        barrier.wait()
        codes.append(each.get(path).status_code)

    def reconcile():
        barrier.wait()
        with app.app_context():
            try:
                errors.append(reconcile_payments().errors)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=come_back, args=(each,)) for each in clients]
    threads += [threading.Thread(target=reconcile) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.remove()
    assert codes == [302] * len(clients)
    assert errors == [0, 0]
    assert db.session.scalar(select(Payment.state)) == "succeeded"
    assert _events("payment_received") == 1

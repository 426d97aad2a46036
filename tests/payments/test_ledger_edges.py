"""Money edge cases: late returns, abandoned payments, reused forms, switched providers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from portal.applications.models import Application
from portal.database import utcnow
from portal.extensions import db
from portal.payments import ledger
from portal.payments.models import Payment
from portal.payments.tasks import reconcile_payments
from tests.payments.conftest import FakeProvider
from tests.payments.test_ledger import _pay, _pay_form


def _states():
    db.session.expire_all()
    return db.session.scalars(select(Payment.state).order_by(Payment.id)).all()


def test_a_payment_made_but_not_returned_from_is_not_dropped_when_late(
        client, provider, awaiting_payment):
    _pay(client, awaiting_payment)
    provider.status = "succeeded"  # paid at the provider, then the tab was closed
    db.session.execute(update(Payment).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    again = _pay(client, awaiting_payment)  # back later: Pay again
    assert again.headers["Location"].endswith(f"/applications/{awaiting_payment.reference}")
    assert len(provider.requests) == 1
    assert _states() == ["succeeded"]
    assert db.session.scalar(select(Application.state)) == "received"


def test_a_payment_is_settled_with_its_own_provider(client, app, provider, awaiting_payment,
                                                    monkeypatch):
    _pay(client, awaiting_payment)
    other = FakeProvider()
    other.name, other.status = "other", "succeeded"
    monkeypatch.setitem(app.extensions["payment_providers"], "other", other)
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDER", "other")  # the portal switched
    provider.status = "pending"  # the provider holding the payment: not paid
    reconcile_payments()
    assert _states() == ["started"]


def test_a_payment_abandoned_before_reaching_the_provider_does_not_block_paying(
        client, provider, awaiting_payment):
    db.session.add(Payment(public_id="s" * 32, application_id=awaiting_payment.id,
                           nonce="x" * 16, open_for=awaiting_payment.id, amount=10_000,
                           provider="fake", return_token_digest="d",
                           created_at=utcnow() - timedelta(minutes=3),
                           expires_at=utcnow() + timedelta(minutes=87)))
    db.session.commit()  # the process opening it died before asking the provider
    response = _pay(client, awaiting_payment)
    assert response.headers["Location"] == "https://pay.example/1"
    assert _states() == ["failed", "started"]


def test_the_same_form_after_a_provider_outage_opens_a_new_payment(client, provider,
                                                                   awaiting_payment):
    token, nonce = _pay_form(client, awaiting_payment)
    url = f"/applications/{awaiting_payment.reference}/pay"
    provider.fail = True
    assert client.post(url, data={"csrf_token": token, "nonce": nonce}).status_code == 503
    provider.fail = False
    retried = client.post(url, data={"csrf_token": token, "nonce": nonce})
    assert retried.headers["Location"] == "https://pay.example/1"
    assert _states() == ["failed", "started"]


def test_a_click_waiting_for_another_that_failed_opens_its_own(client, provider,
                                                               awaiting_payment):
    db.session.add(Payment(public_id="f" * 32, application_id=awaiting_payment.id,
                           nonce="a" * 16, state="failed", amount=10_000, provider="fake",
                           return_token_digest="d",
                           expires_at=utcnow() + timedelta(minutes=90)))
    db.session.commit()
    with client.application.test_request_context():
        payment = ledger._wait_for_the_winner(awaiting_payment, "b" * 16, "Permit", "en",
                                              True)
    assert payment.provider_reference == "fake-1"


def test_payments_without_a_provider_are_unavailable_not_broken(client, app, provider,
                                                                awaiting_payment, monkeypatch):
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDER", "nobody")
    response = _pay(client, awaiting_payment)
    assert response.status_code == 503
    assert "No money was taken" in response.get_data(as_text=True)

"""The payment ledger: one payment per click or tab, outcomes only from the provider."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from portal.applications.models import Application, ApplicationEvent
from portal.database import utcnow
from portal.extensions import db
from portal.payments import ledger
from portal.payments.models import FINAL_STATES, PAYMENT_MOVES, Payment, PaymentState
from portal.testing.helpers import csrf_token_from


def _pay_form(client, application):
    page = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', page).group(1)
    return csrf_token_from(page), nonce


def _pay(client, application, nonce=None):
    token, fresh = _pay_form(client, application)
    return client.post(f"/applications/{application.reference}/pay",
                       data={"csrf_token": token, "nonce": nonce or fresh})


def _return_path(provider):
    url = provider.requests[-1].return_url
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("source", list(PaymentState))
@pytest.mark.parametrize("target", list(PaymentState))
def test_the_payment_state_table(app, provider, awaiting_payment, source, target):
    payment = Payment(public_id="p" * 32, application_id=awaiting_payment.id, nonce="n",
                      amount=100, provider="fake", return_token_digest="d",
                      state=source.value, expires_at=utcnow())
    db.session.add(payment)
    db.session.flush()
    if target in PAYMENT_MOVES[source]:
        assert ledger.move(payment, target)
        assert payment.state == target
    else:
        with pytest.raises(ledger.IllegalPaymentMove):
            ledger.move(payment, target)
    if source in FINAL_STATES:
        assert not PAYMENT_MOVES[source]
    db.session.rollback()


def test_paying_opens_one_payment_at_the_provider(client, provider, awaiting_payment):
    response = _pay(client, awaiting_payment)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://pay.example/1"
    payment = db.session.scalar(select(Payment))
    assert (payment.state, payment.amount, payment.provider_reference) == (
        "started", 10_000, "fake-1")
    request = provider.requests[0]
    assert request.amount == 10_000
    assert awaiting_payment.reference in request.description
    # The return URL carries a secret token, never the outcome.
    assert "token=" in request.return_url
    assert "succeeded" not in request.return_url


def test_the_same_click_twice_and_a_second_tab_resume_the_first_payment(
        client, provider, awaiting_payment):
    token, nonce = _pay_form(client, awaiting_payment)
    url = f"/applications/{awaiting_payment.reference}/pay"
    first = client.post(url, data={"csrf_token": token, "nonce": nonce})
    again = client.post(url, data={"csrf_token": token, "nonce": nonce})
    other_tab = _pay(client, awaiting_payment)
    assert first.headers["Location"] == again.headers["Location"] == other_tab.headers[
        "Location"]
    assert _count(Payment) == 1
    assert len(provider.requests) == 1


def test_parallel_clicks_make_one_payment(app, provider, awaiting_payment, sign_in,
                                         monkeypatch):
    """Ten clicks at once on SQLite (one writer at a time), twenty on PostgreSQL."""
    monkeypatch.setitem(app.config, "SIGN_IN_RATE_LIMIT", "100 per minute")
    clicks = 10 if db.engine.dialect.name == "sqlite" else 20
    clients = [app.test_client() for _ in range(clicks)]
    for each in clients:
        sign_in(each)
    forms = [_pay_form(each, awaiting_payment) for each in clients]
    barrier = threading.Barrier(len(clients))
    places: list[str] = []

    def click(each, form):
        barrier.wait()
        response = each.post(f"/applications/{awaiting_payment.reference}/pay",
                             data={"csrf_token": form[0], "nonce": form[1]})
        places.append(response.headers.get("Location", str(response.status_code)))

    threads = [threading.Thread(target=click, args=pair)
               for pair in zip(clients, forms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.remove()
    assert _count(Payment) == 1
    assert len(provider.requests) == 1
    assert set(places) == {"https://pay.example/1"}


def test_the_outcome_comes_from_the_provider_not_the_browser(client, provider,
                                                             awaiting_payment):
    _pay(client, awaiting_payment)
    provider.status = "pending"
    back = client.get(_return_path(provider) + "&status=succeeded")
    assert back.status_code == 202
    assert db.session.scalar(select(Payment.state)) == "started"
    assert db.session.scalar(select(Application.state)) == "awaiting_payment"


def test_a_successful_payment_moves_the_application_once(client, provider, awaiting_payment):
    _pay(client, awaiting_payment)
    provider.status = "succeeded"
    path = _return_path(provider)
    first = client.get(path)
    again = client.get(path)
    assert first.status_code == again.status_code == 302
    db.session.expire_all()
    payment = db.session.scalar(select(Payment))
    assert (payment.state, payment.method, payment.open_for) == ("succeeded", "card", None)
    application = db.session.scalar(select(Application))
    assert application.state == "received"
    assert application.decision_due is not None
    # The pledge runs from the day it was paid: 5 Hong Kong working days for this service.
    from portal.applications.util import add_working_days
    from portal.i18n import hong_kong_today

    assert application.decision_due == add_working_days(hong_kong_today(), 5)
    paid = db.session.scalars(select(ApplicationEvent).where(
        ApplicationEvent.action == "payment_received")).all()
    assert len(paid) == 1
    page = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    assert "Payment received" in page
    assert "Pay HK$" not in page


def test_a_return_with_a_wrong_token_or_by_someone_else_is_404(
        client, app, provider, awaiting_payment, create_user, sign_in):
    _pay(client, awaiting_payment)
    provider.status = "succeeded"
    path = _return_path(provider)
    assert client.get(re.sub(r"token=[^&]+", "token=forged", path)).status_code == 404
    create_user(email="other@example.com")
    other = app.test_client()
    sign_in(other, "other@example.com")
    assert other.get(path).status_code == 404
    assert db.session.scalar(select(Payment.state)) == "started"


@pytest.mark.parametrize("outcome", ["failed", "cancelled", "expired"])
def test_a_payment_that_did_not_go_through_can_be_tried_again(client, provider,
                                                              awaiting_payment, outcome):
    _pay(client, awaiting_payment)
    provider.status = outcome
    back = client.get(_return_path(provider))
    assert "try again" in client.get(back.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(Payment.state)) == outcome
    provider.status = "pending"
    retry = _pay(client, awaiting_payment)
    assert retry.headers["Location"] == "https://pay.example/2"
    assert _count(Payment) == 2
    assert db.session.scalar(select(Application.state)) == "awaiting_payment"


def test_a_payment_left_too_long_expires_and_a_new_one_starts(client, provider,
                                                              awaiting_payment):
    _pay(client, awaiting_payment)
    db.session.execute(update(Payment).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    retry = _pay(client, awaiting_payment)
    assert retry.headers["Location"] == "https://pay.example/2"
    states = sorted(db.session.scalars(select(Payment.state)))
    assert states == ["expired", "started"]


def test_a_provider_that_is_down_takes_nothing_and_can_be_tried_again(client, provider,
                                                                     awaiting_payment):
    provider.fail = True
    response = _pay(client, awaiting_payment)
    assert response.status_code == 503
    assert "No money was taken" in response.get_data(as_text=True)
    assert db.session.scalar(select(Payment.state)) == "failed"
    provider.fail = False
    assert _pay(client, awaiting_payment).headers["Location"] == "https://pay.example/1"


def test_there_is_nothing_to_pay_once_paid(client, provider, awaiting_payment):
    _pay(client, awaiting_payment)
    provider.status = "succeeded"
    client.get(_return_path(provider))
    page = client.get(f"/applications/{awaiting_payment.reference}").get_data(as_text=True)
    assert 'name="nonce"' not in page  # no pay button any more
    again = client.post(f"/applications/{awaiting_payment.reference}/pay",
                        data={"csrf_token": csrf_token_from(page), "nonce": "b" * 32})
    assert again.headers["Location"].endswith(f"/applications/{awaiting_payment.reference}")
    assert _count(Payment) == 1


def test_a_bad_nonce_is_refused(client, provider, awaiting_payment):
    response = _pay(client, awaiting_payment, nonce="x<script>")
    assert response.status_code == 400
    assert _count(Payment) == 0


def test_paying_without_a_csrf_token_changes_nothing(client, provider, awaiting_payment):
    response = client.post(f"/applications/{awaiting_payment.reference}/pay",
                           data={"nonce": "a" * 32})
    assert response.status_code == 400
    assert _count(Payment) == 0


def test_another_citizen_cannot_pay_or_see_the_button(client, app, provider, awaiting_payment,
                                                     create_user, sign_in):
    create_user(email="other@example.com")
    other = app.test_client()
    sign_in(other, "other@example.com")
    token = csrf_token_from(other.get("/dashboard").get_data(as_text=True))
    response = other.post(f"/applications/{awaiting_payment.reference}/pay",
                          data={"csrf_token": token, "nonce": "a" * 32})
    assert response.status_code == 404
    assert _count(Payment) == 0


def test_a_payment_for_a_withdrawn_application_is_recorded_without_moving_it(
        client, provider, awaiting_payment):
    _pay(client, awaiting_payment)
    db.session.execute(update(Application).values(state="withdrawn"))
    db.session.commit()
    provider.status = "succeeded"
    client.get(_return_path(provider))
    assert db.session.scalar(select(Payment.state)) == "succeeded"
    assert db.session.scalar(select(Application.state)) == "withdrawn"

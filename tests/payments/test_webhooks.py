"""The portal receives providers' webhooks: verified, recorded once, and believed only
after asking the provider."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from portal.applications.models import Application, ApplicationEvent
from portal.extensions import db
from portal.notifications.models import OutboxEmail
from portal.payments.models import Payment, ReceivedWebhook
from portal.payments.sandbox import webhooks
from portal.payments.sandbox.models import SandboxWebhookDelivery
from portal.payments.tasks import reconcile_payments
from portal.testing.helpers import csrf_token_from
from tests.payments.test_ledger import _pay

URL = "/payments/webhooks/sandbox"
CITIZEN = "citizen@example.com"


@pytest.fixture(autouse=True)
def _public_base_url(app, monkeypatch):
    """The sandbox records its webhooks only with a configured address (never from the
    request's Host outside development): the test client's own, where nothing listens."""
    if not app.config.get("PUBLIC_BASE_URL"):
        monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "http://localhost")


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _card(client, page, number="4242 4242 4242 4242"):
    html = client.get(page).get_data(as_text=True)
    return client.post(page, data={"csrf_token": csrf_token_from(html), "card_number": number,
                                   "expiry": "04/39", "cvc": "123",
                                   "cardholder_name": "CHAN TAI MAN"})


def _paid_and_gone(client, application, number="4242 4242 4242 4242") -> Payment:
    """The citizen pays at the sandbox and never comes back to the portal."""
    page = _path(_pay(client, application).headers["Location"])
    back = _card(client, page, number)
    assert back.status_code == 303
    db.session.expire_all()
    payment = db.session.scalar(select(Payment))
    assert payment.state == "started"
    return payment


def _event_body(payment: Payment) -> bytes:
    """The event the sandbox recorded about ``payment`` (as it sends it)."""
    db.session.expire_all()
    delivery = db.session.scalar(select(SandboxWebhookDelivery).where(
        SandboxWebhookDelivery.payment_reference == payment.provider_reference))
    return delivery.body.encode()


def _forged(payment: Payment, kind: str, event_id: str = "evt_forged") -> bytes:
    return json.dumps({"id": event_id, "type": kind, "created": int(time.time()),
                       "data": {"reference": payment.provider_reference}}).encode()


def _send(client, body: bytes, header: str | None = None, path: str = URL, **headers):
    if header is None:
        header = webhooks.signature_header(body)
    return client.post(path, data=body, headers={"Sandbox-Signature": header,
                                                 "Content-Type": "application/json",
                                                 **headers})


def _state() -> tuple[str, str]:
    db.session.expire_all()
    return db.session.scalar(select(Payment.state)), db.session.scalar(select(Application.state))


def _received() -> list[ReceivedWebhook]:
    db.session.expire_all()
    return list(db.session.scalars(select(ReceivedWebhook)))


def _payment_events() -> int:
    return db.session.scalar(select(func.count()).select_from(ApplicationEvent)
                             .where(ApplicationEvent.action == "payment_received"))


def test_a_signed_webhook_settles_a_payment_the_citizen_never_returned_from(
        client, awaiting_payment, smtp_sink):
    payment = _paid_and_gone(client, awaiting_payment)
    smtp_sink.clear()
    response = _send(client, _event_body(payment))
    assert response.status_code == 200
    assert response.get_json() == {"result": "processed"}
    assert "Set-Cookie" not in response.headers  # no session for a provider
    assert _state() == ("succeeded", "received")
    [received] = _received()
    assert (received.provider, received.reference, received.type, received.outcome) == (
        "sandbox", payment.provider_reference, "payment.succeeded", "settled")
    assert received.processed_at is not None
    # The same event again, a late one, and reconciliation: nothing more happens.
    assert _send(client, _event_body(payment)).get_json() == {"result": "duplicate"}
    assert _send(client, _forged(payment, "payment.failed")).status_code == 200
    assert reconcile_payments().checked == 0
    assert _state() == ("succeeded", "received")
    assert _payment_events() == 1
    # The citizen gets exactly one email about it (the receipt); jobs run eagerly, so
    # every email there will be is in the outbox by now.
    [message] = smtp_sink.wait_for(CITIZEN)
    kinds = db.session.scalars(select(OutboxEmail.kind).where(OutboxEmail.recipient == CITIZEN)
                               .order_by(OutboxEmail.id)).all()
    assert kinds == ["applications/submitted", "receipts/receipt"]
    assert len(smtp_sink.to(CITIZEN)) == 1
    assert message["Subject"]


def test_the_type_of_an_event_is_never_trusted(client, awaiting_payment):
    """A "succeeded" event for a payment the sandbox declined records it as failed."""
    payment = _paid_and_gone(client, awaiting_payment, number="4000 0000 0000 0002")
    response = _send(client, _forged(payment, "payment.succeeded"))
    assert response.status_code == 200
    assert _state() == ("failed", "awaiting_payment")


def test_a_payment_still_pending_at_the_provider_stays_started(client, awaiting_payment):
    page = _path(_pay(client, awaiting_payment).headers["Location"])
    assert page.startswith("/sandbox-pay/")
    db.session.expire_all()
    payment = db.session.scalar(select(Payment))
    response = _send(client, _forged(payment, "payment.succeeded"))
    # Not processed, and answered so that the provider delivers it again.
    assert (response.status_code, response.get_json()) == (503, {"result": "pending"})
    [received] = _received()
    assert (received.processed_at, received.outcome) == (None, None)
    assert _state() == ("started", "awaiting_payment")


def _fake_event(client, provider, event_id: str = "e1"):
    body = json.dumps({"id": event_id, "reference": "fake-1", "type": "payment"}).encode()
    return client.post("/payments/webhooks/fake", data=body,
                       headers={"X-Fake-Secret": provider.webhook_secret})


def test_an_event_for_a_pending_payment_is_processed_when_redelivered_after_it_ends(
        client, provider, awaiting_payment):
    """Pending, pending, then succeeded at the provider: the same event delivered three
    times settles the payment on the third, and a fourth is a duplicate."""
    _pay(client, awaiting_payment)
    for _attempt in range(2):
        response = _fake_event(client, provider)
        assert (response.status_code, response.get_json()) == (503, {"result": "pending"})
        [received] = _received()
        assert received.processed_at is None
        assert _state() == ("started", "awaiting_payment")
    provider.status = "succeeded"
    response = _fake_event(client, provider)
    assert (response.status_code, response.get_json()) == (200, {"result": "processed"})
    [received] = _received()
    assert received.outcome == "settled"
    assert received.processed_at is not None
    assert _state() == ("succeeded", "received")
    assert _fake_event(client, provider).get_json() == {"result": "duplicate"}
    assert _payment_events() == 1


@pytest.mark.parametrize("status", ["failed", "cancelled", "expired"])
def test_an_event_for_a_pending_payment_that_then_fails_is_settled_as_failed(
        client, provider, awaiting_payment, status):
    _pay(client, awaiting_payment)
    assert _fake_event(client, provider).status_code == 503
    provider.status = status
    assert _fake_event(client, provider).get_json() == {"result": "processed"}
    assert _state() == (status, "awaiting_payment")
    assert _fake_event(client, provider).get_json() == {"result": "duplicate"}


def test_an_event_for_a_payment_already_final_is_processed_at_once(
        client, provider, awaiting_payment):
    """The provider since forgot (answers pending): the portal's final state stands."""
    _pay(client, awaiting_payment)
    provider.status = "succeeded"
    assert _fake_event(client, provider, "e0").get_json() == {"result": "processed"}
    provider.status = "pending"
    response = _fake_event(client, provider, "e1")
    assert (response.status_code, response.get_json()) == (200, {"result": "processed"})
    assert _state() == ("succeeded", "received")


def test_an_event_for_an_unknown_payment_is_answered_and_ignored(client, awaiting_payment):
    body = json.dumps({"id": "evt_unknown", "type": "payment.succeeded",
                       "created": int(time.time()),
                       "data": {"reference": "sbx_000000000000000000000000"}}).encode()
    response = _send(client, body)
    assert response.status_code == 200
    assert response.get_json() == {"result": "unknown payment"}
    [received] = _received()
    assert received.outcome == "unknown_payment"
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def _stale(body: bytes) -> str:
    return webhooks.signature_header(body, int(time.time()) - webhooks.TOLERANCE_SECONDS - 5)


@pytest.mark.parametrize(("case", "status"), [
    ("missing signature", 400), ("bad signature", 400), ("other secret", 400),
    ("non-ascii signature", 400),
    ("stale", 400), ("tampered body", 400), ("malformed body", 400),
    ("unknown provider", 404), ("oversized body", 413), ("oversized, chunked", 413),
])
def test_a_bad_webhook_is_refused_and_changes_nothing(client, awaiting_payment, case, status):
    payment = _paid_and_gone(client, awaiting_payment)
    body = _event_body(payment)
    header = webhooks.signature_header(body)
    path, extra = URL, {}
    if case == "missing signature":
        response = client.post(URL, data=body, headers={"Content-Type": "application/json"})
    else:
        if case == "bad signature":
            header = header[:-4] + "0000"
        elif case == "non-ascii signature":
            header = header[:-1] + "\u00e9"
        elif case == "other secret":
            header = webhooks.signature_header(body, secret=b"not the sandbox's")
        elif case == "stale":
            header = _stale(body)
        elif case == "tampered body":
            body = body.replace(b"payment.succeeded", b"payment.cancelled")
        elif case == "malformed body":
            body = b'{"id": "evt_x", "type": '
            header = webhooks.signature_header(body)
        elif case == "unknown provider":
            path = "/payments/webhooks/nobody"
        elif case.startswith("oversized"):
            body = body + b" " * (64 * 1024)
            header = webhooks.signature_header(body)
            if case.endswith("chunked"):
                extra = {"Transfer-Encoding": "chunked"}
        if "chunked" in extra:
            response = client.post(path, input_stream=_Stream(body), headers={
                "Sandbox-Signature": header, "Content-Type": "application/json", **extra})
        else:
            response = _send(client, body, header, path=path)
    assert response.status_code == status
    assert _received() == []
    assert _state() == ("started", "awaiting_payment")


class _Stream:
    """A request body of unknown length (sent chunked)."""

    def __init__(self, data: bytes) -> None:
        import io

        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


def test_a_webhook_needs_no_csrf_token_but_a_get_is_not_allowed(client, awaiting_payment):
    assert client.get(URL).status_code == 405


def test_when_the_provider_cannot_answer_the_event_is_processed_on_redelivery(
        app, client, awaiting_payment, monkeypatch):
    payment = _paid_and_gone(client, awaiting_payment)
    body = _event_body(payment)
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_STATUS_FAIL_RATE", 1.0)
    response = _send(client, body)
    assert response.status_code == 503  # the provider will deliver it again
    [received] = _received()
    assert received.processed_at is None
    assert _state() == ("started", "awaiting_payment")
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_STATUS_FAIL_RATE", 0.0)
    assert _send(client, body).get_json() == {"result": "processed"}
    assert _state() == ("succeeded", "received")
    [received] = _received()
    assert received.outcome == "settled"


def test_concurrent_duplicates_settle_once(app, client, awaiting_payment):
    import threading

    payment = _paid_and_gone(client, awaiting_payment)
    body = _event_body(payment)
    header = webhooks.signature_header(body)
    clients = [app.test_client() for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    codes: list[int] = []

    def deliver(each):
        barrier.wait()
        codes.append(_send(each, body, header).status_code)

    threads = [threading.Thread(target=deliver, args=(each,)) for each in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.remove()
    assert codes == [200] * len(clients)
    assert _state() == ("succeeded", "received")
    assert _payment_events() == 1
    assert len(_received()) == 1


def test_a_webhook_with_the_fake_provider_goes_through_the_same_contract(
        client, provider, awaiting_payment):
    _pay(client, awaiting_payment)
    provider.status = "succeeded"
    body = json.dumps({"id": "e1", "reference": "fake-1", "type": "anything"}).encode()
    refused = client.post("/payments/webhooks/fake", data=body,
                          headers={"X-Fake-Secret": "wrong"})
    assert refused.status_code == 400
    ok = client.post("/payments/webhooks/fake", data=body,
                     headers={"X-Fake-Secret": provider.webhook_secret})
    assert ok.status_code == 200
    assert _state() == ("succeeded", "received")


# --- over real HTTP -----------------------------------------------------------------


def test_the_sandbox_sends_its_webhook_over_http_and_it_settles_the_payment(
        live_server, client, awaiting_payment, smtp_sink):
    """The citizen pays and closes the browser: the sandbox's webhook alone settles it."""
    payment = _paid_and_gone(client, awaiting_payment)
    db.session.expire_all()
    delivery = db.session.scalar(select(SandboxWebhookDelivery))
    assert delivery.url == f"{live_server}{URL}"
    # The test client never "sends" its response, so the job has not run: the sweep
    # (as beat or `portal payments deliver-webhooks`) sends it, over HTTP.
    assert webhooks.deliver_due().delivered == 1
    assert _state() == ("succeeded", "received")
    [received] = _received()
    assert received.event_id == delivery.event_id
    assert payment.provider_reference == received.reference
    smtp_sink.wait_for(CITIZEN, count=2)  # the application's, then the receipt's
    assert len(smtp_sink.to(CITIZEN)) == 2


def test_a_payment_made_on_the_live_server_is_settled_by_the_webhook_after_the_response(
        live_server, client, awaiting_payment):
    """All over HTTP: the sandbox page, then its webhook to the same server, sent after
    the page was answered (eager jobs in the embedded default)."""
    page = _pay(client, awaiting_payment).headers["Location"]
    db.session.expire_all()
    payment = db.session.scalar(select(Payment))
    with httpx.Client(base_url=live_server, timeout=10) as browser:
        html = browser.get(_path(page)).text
        back = browser.post(_path(page), data={
            "csrf_token": csrf_token_from(html), "card_number": "4242 4242 4242 4242",
            "expiry": "04/39", "cvc": "123", "cardholder_name": "CHAN TAI MAN"})
    assert back.status_code == 303
    # The webhook is on its way in the server's own thread: wait for it to be answered.
    deadline = time.monotonic() + 15
    while _delivery_status() == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    delivery = db.session.scalar(select(SandboxWebhookDelivery))
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert _state() == ("succeeded", "received")
    [received] = _received()
    assert received.reference == payment.provider_reference


def _delivery_status() -> str:
    db.session.expire_all()
    status = db.session.scalar(select(SandboxWebhookDelivery.status))
    db.session.rollback()  # no read transaction held while the server writes
    return status


def test_repeated_and_out_of_order_deliveries_over_http_change_nothing(
        live_server, client, awaiting_payment, app, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOK_DUPLICATE_RATE", 1.0)
    payment = _paid_and_gone(client, awaiting_payment)
    assert webhooks.deliver_due().delivered == 1
    db.session.expire_all()
    assert db.session.scalar(select(SandboxWebhookDelivery.duplicates_sent)) == 1
    # A late "expired" event for the same payment (the sandbox would never send one
    # after success; a confused provider might).
    late = _forged(payment, "payment.expired", "evt_late")
    assert httpx.post(f"{live_server}{URL}", content=late, headers={
        "Sandbox-Signature": webhooks.signature_header(late)}).status_code == 200
    assert _state() == ("succeeded", "received")
    assert _payment_events() == 1
    assert len(_received()) == 2

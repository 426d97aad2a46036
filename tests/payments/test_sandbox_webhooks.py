"""The sandbox as a provider: its signed webhooks (sent over real HTTP, retried with
back-off, sometimes twice) and its refunds."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select, update

from portal.database import utcnow
from portal.extensions import db
from portal.payments.providers import InvalidWebhook, ProviderRefund
from portal.payments.sandbox import store, webhooks
from portal.payments.sandbox.models import (
    SandboxPayment,
    SandboxRefund,
    SandboxWebhookDelivery,
)
from portal.payments.sandbox.provider import SandboxProvider
from portal.payments.sandbox.refunds import RefundIdReused
from tests.payments.test_sandbox import _open


class Receiver:
    """A real HTTP server standing in for the portal: it keeps what it is sent and
    answers the status codes it is told, in turn (then 200)."""

    def __init__(self, *codes: int) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.codes = list(codes)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((dict(self.headers), body))
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver(app, monkeypatch):
    """The portal's webhook address points at a ``Receiver`` (PUBLIC_BASE_URL)."""
    found = Receiver()
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", found.base)
    yield found
    found.stop()


@pytest.fixture
def provider() -> SandboxProvider:
    return SandboxProvider()


def _deliveries() -> list[SandboxWebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(SandboxWebhookDelivery)
                                   .order_by(SandboxWebhookDelivery.id)))


def _finished(app, provider, status="succeeded", **changes) -> str:
    """A sandbox payment made final (outside any request: its webhook job runs now)."""
    reference, _path = _open(app, provider, **changes)
    assert store.finish(reference, status, method="card")
    return reference


def _make_due(delivery: SandboxWebhookDelivery) -> None:
    db.session.execute(update(SandboxWebhookDelivery)
                       .where(SandboxWebhookDelivery.id == delivery.id)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


# --- the events ---------------------------------------------------------------------


def test_a_final_status_is_announced_once_with_a_signed_event(app, provider, receiver):
    reference = _finished(app, provider)
    assert not store.finish(reference, "failed")  # no change, so no second event
    [delivery] = _deliveries()
    assert (delivery.status, delivery.attempts, delivery.type) == ("delivered", 1,
                                                                   "payment.succeeded")
    [(headers, body)] = receiver.received
    event = json.loads(body)
    assert event["id"] == delivery.event_id
    assert event["id"].startswith("evt_")
    assert event["type"] == "payment.succeeded"
    assert event["data"] == {"reference": reference}
    assert isinstance(event["created"], int)
    assert headers["Content-Type"] == "application/json"
    # What was sent checks out with the provider's own verification.
    assert provider.verify_webhook(headers, body).reference == reference


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_every_final_status_has_its_event(app, provider, receiver, status):
    _finished(app, provider, status)
    [delivery] = _deliveries()
    assert delivery.type == f"payment.{status}"


def test_an_expired_payment_is_announced(app, provider, receiver):
    reference, _path = _open(app, provider)
    db.session.execute(update(SandboxPayment).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert provider.fetch_status(reference).status == "expired"
    assert provider.fetch_status(reference).status == "expired"
    assert [d.type for d in _deliveries()] == ["payment.expired"]


def test_switched_off_no_delivery_is_recorded(app, provider, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOKS", False)
    _finished(app, provider)
    assert _deliveries() == []
    assert receiver.received == []


def test_the_webhook_url_can_be_set(app, provider, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "http://127.0.0.1:9")  # discard port
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOK_URL", f"{receiver.base}/hook")
    _finished(app, provider)
    [delivery] = _deliveries()
    assert (delivery.url, delivery.status) == (f"{receiver.base}/hook", "delivered")


@pytest.mark.parametrize("url", ["ftp://portal.test/hook", "http://portal.test/" + "x" * 500])
def test_a_bad_webhook_url_never_stops_a_payment_from_finishing(app, provider, monkeypatch,
                                                                 url):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOK_URL", url)
    reference = _finished(app, provider)
    assert provider.fetch_status(reference).status == "succeeded"
    assert _deliveries() == []


def test_in_production_a_host_header_never_chooses_where_webhooks_go(app, provider,
                                                                     monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    reference, _path = _open(app, provider)
    # Opened first: without PUBLIC_BASE_URL, production gives out no address at all.
    monkeypatch.setitem(app.config, "ENVIRONMENT", "production")
    with app.test_request_context("/", headers={"Host": "internal.example:8080"}):
        assert store.finish(reference, "succeeded")
    assert _deliveries() == []


@pytest.mark.parametrize("environment", ["development", "staging", "testing"])
@pytest.mark.parametrize("host", ["portal.test:8080", "10.0.0.7:6379", "[fd00::1]:80",
                                  "169.254.169.254", "127.0.0.1@evil.example",
                                  "localhost.evil.example", "127.0.0.1:notaport"])
def test_a_forged_host_never_chooses_where_webhooks_go(app, provider, monkeypatch, caplog,
                                                       environment, host):
    """The Host header is the citizen's: only loopback, only in development."""
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    monkeypatch.setattr(webhooks, "_logged", set())
    reference, _path = _open(app, provider)
    # Opened first: without PUBLIC_BASE_URL, staging gives out no address at all.
    monkeypatch.setitem(app.config, "ENVIRONMENT", environment)
    with app.test_request_context("/", headers={"Host": host}):
        assert store.finish(reference, "succeeded")  # the payment still finishes
    assert provider.fetch_status(reference).status == "succeeded"
    assert _deliveries() == []
    assert [r for r in caplog.records if "webhooks not sent" in r.getMessage()]


def test_why_no_webhook_is_sent_is_logged_once(app, provider, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    monkeypatch.setattr(webhooks, "_logged", set())
    for _each in range(2):
        reference, _path = _open(app, provider)
        with app.test_request_context("/", headers={"Host": "portal.test"}):
            assert store.finish(reference, "succeeded")
    assert len([r for r in caplog.records if "webhooks not sent" in r.getMessage()]) == 1


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1:5000", "http://127.0.0.1:5000/payments/webhooks/sandbox"),
    ("localhost:8080", "http://localhost:8080/payments/webhooks/sandbox"),
    ("[::1]:5000", "http://[::1]:5000/payments/webhooks/sandbox"),
    ("127.0.0.2", "http://127.0.0.2/payments/webhooks/sandbox"),
])
def test_in_development_a_loopback_request_host_is_used(app, provider, monkeypatch, host,
                                                        url):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    monkeypatch.setitem(app.config, "ENVIRONMENT", "development")
    reference, _path = _open(app, provider)
    with app.test_request_context("/", headers={"Host": host}):
        assert store.finish(reference, "succeeded")
    [delivery] = _deliveries()
    assert delivery.url == url
    assert delivery.attempts == 0  # waits for the response that is never sent here


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_outside_development_the_public_base_url_is_used_whatever_the_host(
        app, provider, monkeypatch, environment):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://portal.example.gov.hk")
    monkeypatch.setitem(app.config, "ENVIRONMENT", environment)
    reference, _path = _open(app, provider)
    with app.test_request_context("/", headers={"Host": "10.0.0.7:6379"}):
        assert store.finish(reference, "succeeded")
    [delivery] = _deliveries()
    assert delivery.url == "https://portal.example.gov.hk/payments/webhooks/sandbox"


def test_a_payment_still_pending_announces_nothing(app, provider, receiver):
    _open(app, provider)
    assert _deliveries() == []


# --- signatures ---------------------------------------------------------------------

BODY = (b'{"created":1,"data":{"reference":"sbx_000000000000000000000001"},'
        b'"id":"evt_1","type":"payment.succeeded"}')


def _verify(app, header: str | None, body: bytes = BODY, now: float | None = None):
    headers = {} if header is None else {"sandbox-signature": header}
    return webhooks.verify(headers, body, now=now)


def test_a_good_signature_is_accepted_in_any_letter_case(app):
    event = _verify(app, webhooks.signature_header(BODY))
    assert (event.event_id, event.reference, event.type) == (
        "evt_1", "sbx_000000000000000000000001", "payment.succeeded")


def test_one_matching_signature_among_several_is_enough(app):
    """Two v1 values: the provider rotating its secret."""
    good = webhooks.signature_header(BODY)
    t = good.split(",")[0]
    _verify(app, f"{t},v1={'0' * 64},{good.split(',')[1]}")


@pytest.mark.parametrize("case", ["missing", "empty", "no time", "no signature", "wrong hex",
                                  "not ascii", "upper case", "unicode digits",
                                  "other secret", "tampered body", "stale", "future",
                                  "not json", "not an event", "unknown type"])
def test_bad_signatures_and_bodies_are_refused(app, case):
    now = int(time.time())
    body = BODY
    header: str | None = webhooks.signature_header(body, now)
    if case == "missing":
        header = None
    elif case == "empty":
        header = ""
    elif case == "no time":
        header = header.split(",")[1]
    elif case == "no signature":
        header = header.split(",")[0]
    elif case == "wrong hex":
        header = header[:-1] + ("0" if header[-1] != "0" else "1")
    elif case == "not ascii":
        header = header[:-1] + "\u00e9"
    elif case == "upper case":
        header = header.upper().replace("T=", "t=").replace("V1=", "v1=")
    elif case == "unicode digits":
        header = header.replace(f"t={now}", "t=" + str(now).translate(
            str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666"
                          "\u0667\u0668\u0669")))
    elif case == "other secret":
        header = webhooks.signature_header(body, now, secret=b"someone else's")
    elif case == "tampered body":
        body = body.replace(b"000001", b"000002")
    elif case == "stale":
        header = webhooks.signature_header(body, now - webhooks.TOLERANCE_SECONDS - 1)
    elif case == "future":
        header = webhooks.signature_header(body, now + webhooks.TOLERANCE_SECONDS + 1)
    elif case == "not json":
        body = b"\xff{not json"
        header = webhooks.signature_header(body, now)
    elif case == "not an event":
        body = b'["evt_1"]'
        header = webhooks.signature_header(body, now)
    elif case == "unknown type":
        body = BODY.replace(b"payment.succeeded", b"payment.refunded")
        header = webhooks.signature_header(body, now)
    with pytest.raises(InvalidWebhook):
        _verify(app, header, body, now=now)


def test_the_tolerance_is_five_minutes(app):
    now = int(time.time())
    header = webhooks.signature_header(BODY, now - 300)
    assert _verify(app, header, now=now).event_id == "evt_1"


def test_the_secret_is_derived_from_the_secret_key_unless_set(app, monkeypatch):
    derived = webhooks.signing_secret()
    assert len(derived) == 32
    assert app.config["SECRET_KEY"].encode() not in derived
    assert webhooks.signing_secret() == derived  # the same in every process
    monkeypatch.setitem(app.config, "SECRET_KEY", app.config["SECRET_KEY"] + "x")
    assert webhooks.signing_secret() != derived
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOK_SECRET", "whsec_configured")
    assert webhooks.signing_secret() == b"whsec_configured"


# --- delivery: retries, back-off, duplicates -----------------------------------------


def test_back_off_doubles_from_the_base(app, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOK_RETRY_SECONDS", 10)
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert webhooks.backoff(40) == timedelta(seconds=webhooks.MAX_BACKOFF_SECONDS)


def test_a_failed_delivery_waits_its_back_off_then_is_retried(app, provider, receiver):
    receiver.codes = [500, 503]
    _finished(app, provider)
    [delivery] = _deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1,
                                                                         "HTTP 500")
    assert delivery.next_attempt_at > utcnow()
    # Not due yet: the sweep leaves it.
    assert webhooks.deliver_due().retrying == 0
    assert len(receiver.received) == 1
    first_wait = delivery.next_attempt_at - delivery.created_at
    _make_due(delivery)
    assert vars(webhooks.deliver_due()) == {"delivered": 0, "retrying": 1, "given_up": 0}
    [delivery] = _deliveries()
    assert (delivery.attempts, delivery.last_error) == (2, "HTTP 503")
    # The second wait is the doubled one (each measured from its own attempt).
    assert delivery.next_attempt_at - utcnow() > first_wait
    _make_due(delivery)
    assert webhooks.deliver_due().delivered == 1
    [delivery] = _deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, None)
    # The same event every time, signed afresh.
    bodies = {body for _headers, body in receiver.received}
    assert len(receiver.received) == 3
    assert len(bodies) == 1


def test_a_network_error_counts_as_a_failure(app, provider, monkeypatch):
    closed = Receiver()
    closed.stop()  # nothing listens there any more
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", closed.base)
    _finished(app, provider)
    [delivery] = _deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "ConnectError"


def test_delivery_is_given_up_after_the_last_attempt(app, provider, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOK_MAX_ATTEMPTS", 2)
    receiver.codes = [500, 500, 500]
    _finished(app, provider)
    [delivery] = _deliveries()
    _make_due(delivery)
    assert webhooks.deliver_due().given_up == 1
    [delivery] = _deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 2,
                                                                         "HTTP 500")
    _make_due(delivery)
    assert vars(webhooks.deliver_due()) == {"delivered": 0, "retrying": 0, "given_up": 0}
    assert len(receiver.received) == 2


def test_the_fail_rate_pretends_the_network_failed(app, provider, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOK_FAIL_RATE", 1.0)
    _finished(app, provider)
    [delivery] = _deliveries()
    assert (delivery.status, delivery.last_error) == ("pending", "simulated network failure")
    assert receiver.received == []
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOK_FAIL_RATE", 0.0)
    _make_due(delivery)
    assert webhooks.deliver_due().delivered == 1


def test_the_duplicate_rate_sends_the_same_event_twice(app, provider, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOK_DUPLICATE_RATE", 1.0)
    _finished(app, provider)
    [delivery] = _deliveries()
    assert (delivery.status, delivery.duplicates_sent) == ("delivered", 1)
    ids = [json.loads(body)["id"] for _headers, body in receiver.received]
    assert ids == [delivery.event_id, delivery.event_id]


def test_a_delivery_held_by_one_worker_is_not_sent_by_another(app, provider, receiver):
    receiver.codes = [500]
    _finished(app, provider)
    [delivery] = _deliveries()
    _make_due(delivery)
    assert webhooks._claim(delivery.id) is not None  # another worker holds it now
    assert webhooks.deliver(delivery.id) is None
    assert len(receiver.received) == 1


def test_rates_outside_zero_to_one_are_refused(app, provider, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_WEBHOOK_FAIL_RATE", 2)
    receiver.codes = []
    reference, _path = _open(app, provider)
    store.finish(reference, "succeeded")  # the job fails, the payment is still final
    [delivery] = _deliveries()
    assert delivery.status == "pending"
    with pytest.raises(ValueError, match="between 0 and 1"):
        webhooks.deliver_due()


def test_the_command_sends_due_webhooks(app, provider, receiver):
    receiver.codes = [500]
    _finished(app, provider)
    [delivery] = _deliveries()
    _make_due(delivery)
    result = app.test_cli_runner().invoke(args=["payments", "deliver-webhooks"])
    assert result.exit_code == 0, result.output
    assert "1 delivered, 0 to retry, 0 given up" in result.output


def test_in_a_request_the_webhook_waits_for_the_response(app, client, provider, receiver):
    """Eager jobs would otherwise POST back to this server while the citizen waits."""
    from tests.payments.test_sandbox import _card, _post

    reference, path = _open(app, provider)
    response = _post(client, path, _card())
    assert response.status_code == 303
    [delivery] = _deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert receiver.received == []
    response.close()  # the server has sent it: now the job runs
    [delivery] = _deliveries()
    assert delivery.status == "delivered"
    assert len(receiver.received) == 1


# --- refunds ------------------------------------------------------------------------


def _refunded_amount(reference: str) -> int:
    db.session.expire_all()
    return db.session.scalar(select(SandboxPayment.refunded_amount)
                             .where(SandboxPayment.reference == reference))


def test_refunds_in_part_then_the_rest(app, provider, receiver):
    reference = _finished(app, provider)  # HK$123.45
    first = provider.refund(reference, 2_345, "r1")
    assert first.status == "succeeded"
    assert first.reference.startswith("sbxr_")
    rest = provider.refund(reference, 10_000, "r2")
    assert rest.status == "succeeded"
    assert rest.reference != first.reference
    assert _refunded_amount(reference) == 12_345
    assert provider.refund(reference, 1, "r3") == ProviderRefund("failed")
    assert _refunded_amount(reference) == 12_345


def test_the_same_refund_id_refunds_once(app, provider, receiver):
    reference = _finished(app, provider)
    first = provider.refund(reference, 5_000, "same")
    assert provider.refund(reference, 5_000, "same") == first
    assert _refunded_amount(reference) == 5_000
    assert db.session.scalar(select(func.count()).select_from(SandboxRefund)) == 1
    with pytest.raises(RefundIdReused):
        provider.refund(reference, 6_000, "same")


def test_more_than_remains_is_refused_and_nothing_is_refunded(app, provider, receiver):
    reference = _finished(app, provider)
    assert provider.refund(reference, 12_346, "too-much") == ProviderRefund("failed")
    assert _refunded_amount(reference) == 0
    refund = db.session.scalar(select(SandboxRefund))
    assert (refund.status, refund.failure_code) == ("failed", "exceeds_remaining")


@pytest.mark.parametrize("status", ["failed", "cancelled", None])
def test_only_a_succeeded_payment_can_be_refunded(app, provider, receiver, status):
    if status is None:
        reference, _path = _open(app, provider)  # still pending
    else:
        reference = _finished(app, provider, status)
    assert provider.refund(reference, 100, "r") == ProviderRefund("failed")
    assert provider.refund("sbx_000000000000000000000000", 100, "r-unknown") == (
        ProviderRefund("failed"))


def test_the_refund_fail_rate_refuses_and_a_retry_is_refused_the_same(app, provider, receiver,
                                                                      monkeypatch):
    reference = _finished(app, provider)
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_REFUND_FAIL_RATE", 1.0)
    assert provider.refund(reference, 100, "r") == ProviderRefund("failed")
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_REFUND_FAIL_RATE", 0.0)
    assert provider.refund(reference, 100, "r") == ProviderRefund("failed")
    assert provider.refund(reference, 100, "r-new").status == "succeeded"


@pytest.mark.parametrize(("amount", "error"), [(0, ValueError), (-1, ValueError),
                                               (1.5, TypeError), (True, TypeError)])
def test_refund_amounts_are_positive_integers(app, provider, receiver, amount, error):
    reference = _finished(app, provider)
    with pytest.raises(error):
        provider.refund(reference, amount, "r")


def test_parallel_refunds_never_give_back_more_than_was_paid(app, provider, receiver):
    reference = _finished(app, provider)  # 12_345 cents
    barrier = threading.Barrier(8)
    answers: list[str] = []

    def refund(number: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                answers.append(provider.refund(reference, 5_000, f"r{number}").status)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=refund, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["failed"] * 6 + ["succeeded"] * 2
    assert _refunded_amount(reference) == 10_000

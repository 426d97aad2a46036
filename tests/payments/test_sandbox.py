"""The built-in sandbox provider: its records, its hosted pages and its settings."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from portal.database import utcnow
from portal.extensions import db
from portal.payments.providers import PaymentRequest, ProviderStatus, current_provider
from portal.payments.sandbox import plugin
from portal.payments.sandbox.models import SandboxPayment
from portal.payments.sandbox.provider import SandboxProvider, SandboxUnavailable
from portal.testing.helpers import csrf_token_from

RETURN_URL = "http://localhost/payments/return/abc?token=secret-token"
SUCCEEDS = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
CHALLENGE = "4000 0000 0000 3220"
OTHER_VALID = "5555 5555 5555 4444"  # passes the Luhn check, not a test number


@pytest.fixture
def provider() -> SandboxProvider:
    return SandboxProvider()


def _request(**changes: Any) -> PaymentRequest:
    values = {"payment_id": "p" * 32, "amount": 12_345, "currency": "HKD",
              "description": "Licence renewal LR-2026-000123", "return_url": RETURN_URL,
              "locale": "en"}
    return PaymentRequest(**(values | changes))


def _open(app: Flask, provider: SandboxProvider, **changes: Any) -> tuple[str, str]:
    """A new sandbox payment: (reference, path of its page)."""
    with app.test_request_context():
        session = provider.create_payment(_request(**changes))
    path = urlsplit(session.url).path  # the host is PUBLIC_BASE_URL's, or the request's
    assert path.startswith("/sandbox-pay/")
    return session.reference, path


def _record(reference: str) -> SandboxPayment:
    db.session.expire_all()
    return db.session.scalar(select(SandboxPayment).where(SandboxPayment.reference == reference))


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(SandboxPayment))


def _card(number: str = SUCCEEDS, **changes: str) -> dict[str, str]:
    return {"card_number": number, "expiry": "12/39", "cvc": "123",
            "cardholder_name": "CHAN TAI MAN"} | changes


def _post(client: Any, path: str, data: dict[str, str], form_path: str | None = None) -> Any:
    page = client.get(form_path or path)
    assert page.status_code == 200, page.status_code
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def _location(response: Any) -> str:
    """Where a redirect after a POST (303) or a GET sends the browser."""
    assert response.status_code in (302, 303), response.status_code
    return response.headers["Location"]


def _page(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- the provider ------------------------------------------------------------------


def test_create_payment_keeps_a_pending_record_and_gives_its_page(app, provider):
    reference, path = _open(app, provider)
    record = _record(reference)
    assert reference.startswith("sbx_")
    assert path == f"/sandbox-pay/{reference}"
    assert (record.status, record.amount, record.currency) == ("pending", 12_345, "HKD")
    assert record.merchant_reference == "p" * 32
    assert record.return_url == RETURN_URL
    assert (record.method, record.card_last4) == (None, None)
    assert provider.fetch_status(reference) == ProviderStatus("pending", None)


def test_references_are_random_and_unique(app, provider):
    references = {_open(app, provider)[0] for _ in range(5)}
    assert len(references) == 5


def test_the_page_url_uses_public_base_url(app, provider, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://portal.example.gov.hk")
    with app.test_request_context():
        session = provider.create_payment(_request())
    assert session.url == f"https://portal.example.gov.hk/sandbox-pay/{session.reference}"


def test_create_payment_is_committed_whatever_the_caller_does(app, provider):
    reference, _path = _open(app, provider)
    db.session.rollback()
    assert _record(reference) is not None


@pytest.mark.parametrize("changes", [
    {"amount": 0}, {"amount": -5}, {"currency": "USD"}, {"return_url": "javascript:alert(1)"},
    {"description": ""}, {"payment_id": ""},
])
def test_create_payment_refuses_bad_requests(app, provider, changes):
    with app.test_request_context(), pytest.raises(ValueError, match="must|only"):
        provider.create_payment(_request(**changes))
    assert _count() == 0


def test_amounts_are_integers(app, provider):
    with app.test_request_context(), pytest.raises(TypeError):
        provider.create_payment(_request(amount=123.45))


def test_fetch_status_of_an_unknown_reference_raises_lookup_error(app, provider):
    for reference in ("sbx_000000000000000000000000", "nothing", ""):
        with pytest.raises(LookupError):
            provider.fetch_status(reference)


def test_the_fail_rate_makes_create_payment_raise_and_creates_nothing(app, provider,
                                                                      monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_FAIL_RATE", 1)
    with app.test_request_context(), pytest.raises(SandboxUnavailable):
        provider.create_payment(_request())
    assert _count() == 0
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_FAIL_RATE", 0)
    assert _open(app, provider)


def test_the_status_fail_rate_makes_fetch_status_raise(app, provider, monkeypatch):
    reference, _path = _open(app, provider)
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_STATUS_FAIL_RATE", 1.0)
    with pytest.raises(SandboxUnavailable):
        provider.fetch_status(reference)


def test_a_fail_rate_outside_zero_to_one_is_refused(app, provider, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_FAIL_RATE", 2)
    with app.test_request_context(), pytest.raises(ValueError, match="between 0 and 1"):
        provider.create_payment(_request())


def test_latency_is_added_to_create_and_fetch(app, provider, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS_LATENCY_MS", 60)
    started = time.monotonic()
    reference, _path = _open(app, provider)
    provider.fetch_status(reference)
    assert time.monotonic() - started >= 0.12


# --- the plugin ----------------------------------------------------------------------


def test_the_portal_knows_the_sandbox(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDER", "sandbox")
    assert isinstance(current_provider(app), SandboxProvider)


def test_the_hook_contributes_the_sandbox_and_its_pages():
    bare = Flask("bare")
    bare.config["ENVIRONMENT"] = "development"
    providers = plugin.register_payment_providers(app=bare)
    assert [p.name for p in providers] == ["sandbox"]
    assert "sandbox" in bare.blueprints
    plugin.register_payment_providers(app=bare)  # twice: no second blueprint, no error


def test_the_sandbox_is_refused_in_production(caplog):
    bare = Flask("production")
    bare.config["ENVIRONMENT"] = "production"
    with caplog.at_level(logging.WARNING, logger="portal.payments.sandbox"):
        assert plugin.register_payment_providers(app=bare) == []
    assert "sandbox" not in bare.blueprints
    assert "refused" in caplog.text


def test_production_may_allow_it_explicitly():
    bare = Flask("staging")
    bare.config.update(ENVIRONMENT="production", SANDBOX_PAYMENTS_IN_PRODUCTION=True)
    assert [p.name for p in plugin.register_payment_providers(app=bare)] == ["sandbox"]


# --- the pages -----------------------------------------------------------------------


def test_the_page_looks_like_a_hosted_payment_page(app, provider, client):
    _reference, path = _open(app, provider)
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert "Sandbox Pay" in html
    assert "Sandbox: no real money" in html
    assert "HK$123.45" in html
    assert "Licence renewal LR-2026-000123" in html
    assert 'autocomplete="cc-number"' in html
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_reference_is_404(client):
    assert client.get("/sandbox-pay/sbx_000000000000000000000000").status_code == 404
    assert client.get("/sandbox-pay/whatever").status_code == 404
    assert client.get("/sandbox-pay/sbx_000000000000000000000000/challenge").status_code == 404


def test_a_good_card_succeeds_and_goes_back_to_the_portal(app, provider, client):
    reference, path = _open(app, provider)
    response = _post(client, path, _card(SUCCEEDS))
    assert response.status_code == 303
    assert response.headers["Location"] == RETURN_URL  # as given: nothing about the outcome
    record = _record(reference)
    assert (record.status, record.method, record.card_last4) == ("succeeded", "card", "4242")
    assert provider.fetch_status(reference) == ProviderStatus("succeeded", "card")
    html = _page(client, path)
    assert "Payment successful" in html
    assert RETURN_URL.replace("&", "&amp;") in html or RETURN_URL in html
    assert 'name="card_number"' not in html


def test_a_second_post_after_success_changes_nothing(app, provider, client):
    reference, path = _open(app, provider)
    token = csrf_token_from(_page(client, path))
    first = client.post(path, data={"csrf_token": token, **_card(SUCCEEDS)})
    assert _location(first) == RETURN_URL
    before = _record(reference).updated_at
    again = client.post(path, data={"csrf_token": token, **_card(DECLINED)})
    assert again.status_code == 200
    assert "Payment successful" in again.get_data(as_text=True)
    record = _record(reference)
    assert (record.status, record.card_last4, record.updated_at) == ("succeeded", "4242", before)
    cancel = client.post(f"{path}/cancel", data={"csrf_token": token})
    assert _location(cancel).endswith(path)
    assert _record(reference).status == "succeeded"


def test_ten_clicks_at_once_pay_once(app, provider):
    reference, path = _open(app, provider)
    clients = [app.test_client() for _ in range(10)]
    tokens = [csrf_token_from(_page(c, path)) for c in clients]
    barrier = threading.Barrier(len(clients))
    answers: list[Any] = []

    def click(c: Any, token: str) -> None:
        barrier.wait()
        answers.append(c.post(path, data={"csrf_token": token, **_card(SUCCEEDS)}))

    threads = [threading.Thread(target=click, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    back = [a for a in answers if a.status_code == 303 and a.headers["Location"] == RETURN_URL]
    assert len(answers) == 10
    assert len(back) == 1
    assert _record(reference).status == "succeeded"


@pytest.mark.parametrize("number", [DECLINED, OTHER_VALID])
def test_a_declined_card_fails_and_says_so(app, provider, client, number):
    reference, path = _open(app, provider)
    token = csrf_token_from(_page(client, path))
    response = client.post(path, data={"csrf_token": token, **_card(number)})
    assert _location(response).endswith(path)
    html = _page(client, path)
    assert "Your card was declined" in html
    assert f'href="{RETURN_URL}"' in html
    record = _record(reference)
    assert (record.status, record.failure_code) == ("failed", "card_declined")
    assert provider.fetch_status(reference) == ProviderStatus("failed", "card")
    # Paying again from the same form changes nothing.
    client.post(path, data={"csrf_token": token, **_card(SUCCEEDS)})
    assert _record(reference).status == "failed"


def test_the_challenge_approved_succeeds(app, provider, client):
    reference, path = _open(app, provider)
    response = _post(client, path, _card(CHALLENGE))
    assert _location(response).endswith(f"{path}/challenge")
    assert provider.fetch_status(reference) == ProviderStatus("pending", "card")
    html = _page(client, f"{path}/challenge")
    assert all(text in html for text in ("Approve", "Fail", "ending 3220"))
    # The card page now leads to the challenge.
    assert _location(client.get(path)).endswith(f"{path}/challenge")
    approved = _post(client, f"{path}/challenge", {"decision": "approve"})
    assert _location(approved) == RETURN_URL
    assert provider.fetch_status(reference) == ProviderStatus("succeeded", "card")
    # Approving again changes nothing and shows the outcome.
    assert _location(client.get(f"{path}/challenge")).endswith(path)
    assert "Payment successful" in _page(client, path)


def test_the_challenge_failed_fails(app, provider, client):
    reference, path = _open(app, provider)
    _post(client, path, _card(CHALLENGE))
    failed = _post(client, f"{path}/challenge", {"decision": "fail"})
    assert _location(failed).endswith(path)
    assert provider.fetch_status(reference) == ProviderStatus("failed", "card")
    assert _record(reference).failure_code == "authentication_failed"
    assert "Your bank did not approve the payment" in _page(client, path)


def test_the_challenge_refuses_other_decisions(app, provider, client):
    reference, path = _open(app, provider)
    _post(client, path, _card(CHALLENGE))
    response = _post(client, f"{path}/challenge", {"decision": "succeeded"})
    assert response.status_code == 200
    assert _record(reference).status == "pending"


def test_the_challenge_page_needs_a_challenge(app, provider, client):
    reference, path = _open(app, provider)
    response = client.get(f"{path}/challenge")
    assert _location(response).endswith(path)
    response = _post(client, f"{path}/challenge", {"decision": "approve"}, form_path=path)
    assert response.status_code == 303
    assert provider.fetch_status(reference).status == "pending"


@pytest.mark.parametrize("stage", ["details", "challenge"])
def test_cancel_and_go_back(app, provider, client, stage):
    reference, path = _open(app, provider)
    form_path = path
    if stage == "challenge":
        _post(client, path, _card(CHALLENGE))
        form_path = f"{path}/challenge"
    token = csrf_token_from(_page(client, form_path))
    response = client.post(f"{path}/cancel", data={"csrf_token": token})
    assert _location(response) == RETURN_URL
    assert provider.fetch_status(reference).status == "cancelled"
    assert "You cancelled the payment" in _page(client, path)
    # A second click on Cancel still goes back; nothing else changes.
    again = client.post(f"{path}/cancel", data={"csrf_token": token})
    assert _location(again) == RETURN_URL
    assert _record(reference).status == "cancelled"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"card_number": ""}, "card_number", "Enter your card number"),
    ({"card_number": "4242 4242 4242 4241"}, "card_number", "Enter a valid card number"),
    ({"card_number": "4242"}, "card_number", "Enter a valid card number"),
    ({"card_number": "4242-abcd"}, "card_number", "Enter a valid card number"),
    ({"expiry": ""}, "expiry", "Enter the expiry date"),
    ({"expiry": "13/30"}, "expiry", "Enter the expiry date as month and year"),
    ({"expiry": "1230"}, "expiry", "Enter the expiry date as month and year"),
    ({"expiry": "01/20"}, "expiry", "The card has expired"),
    ({"cvc": ""}, "cvc", "Enter the security code"),
    ({"cvc": "12"}, "cvc", "Enter the 3-digit security code"),
    ({"cvc": "1234"}, "cvc", "Enter the 3-digit security code"),
    ({"cardholder_name": ""}, "cardholder_name", "Enter the name as it is written on the card"),
])
def test_bad_card_details_are_field_errors_and_change_nothing(app, provider, client,
                                                              changes, field, message):
    reference, path = _open(app, provider)
    before = _record(reference).updated_at
    response = _post(client, path, _card(**changes))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert f'href="#{field}"' in html
    assert message in html
    assert 'value="123"' not in html  # the security code is never shown again
    record = _record(reference)
    assert (record.status, record.stage, record.card_last4, record.updated_at) == (
        "pending", "details", None, before)


def test_card_numbers_may_be_typed_full_width(app, provider, client):
    reference, path = _open(app, provider)
    response = _post(client, path, _card("４２４２ ４２４２ ４２４２ ４２４２", cvc="１２３"))
    assert response.status_code == 303
    assert _record(reference).status == "succeeded"


def test_a_post_without_csrf_token_changes_nothing(app, provider, client):
    reference, path = _open(app, provider)
    assert client.post(path, data=_card(SUCCEEDS)).status_code == 400
    assert client.post(f"{path}/cancel").status_code == 400
    assert _record(reference).status == "pending"


def test_an_unfinished_payment_expires(app, provider, client):
    reference, path = _open(app, provider)
    token = csrf_token_from(_page(client, path))
    db.session.execute(update(SandboxPayment).where(SandboxPayment.reference == reference)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = client.post(path, data={"csrf_token": token, **_card(SUCCEEDS)})
    assert response.status_code == 200
    assert "The payment has expired" in response.get_data(as_text=True)
    assert provider.fetch_status(reference) == ProviderStatus("expired", None)
    assert client.post(f"{path}/cancel", data={"csrf_token": token}).status_code == 303
    assert _record(reference).status == "expired"


def test_the_page_is_in_chinese_for_a_chinese_browser(app, provider, client):
    _reference, path = _open(app, provider, locale="zh_Hant_HK")
    html = client.get(path, headers={"Accept-Language": "zh-HK"}).get_data(as_text=True)
    assert 'lang="zh-HK"' in html

"""FPS in the sandbox: choose it, see a QR code, then confirm or cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from portal.database import utcnow
from portal.extensions import db
from portal.payments.providers import ProviderStatus
from portal.payments.sandbox import fps
from portal.payments.sandbox.models import SandboxPayment
from portal.payments.sandbox.provider import SandboxProvider
from portal.testing.helpers import csrf_token_from
from tests.payments.test_sandbox import (
    CHALLENGE,
    RETURN_URL,
    _card,
    _location,
    _open,
    _page,
    _post,
    _record,
)


@pytest.fixture
def provider() -> SandboxProvider:
    """The real sandbox (not the conftest's fake provider)."""
    return SandboxProvider()


def _fps(path: str) -> str:
    return f"{path}/fps"


def test_the_payment_page_offers_card_and_fps(app, provider, client):
    _reference, path = _open(app, provider)
    html = _page(client, path)
    assert "How do you want to pay?" in html
    assert 'autocomplete="cc-number"' in html  # the card form is still there
    assert "Or pay with FPS" in html
    assert f'href="{_fps(path)}"' in html


def test_the_fps_page_shows_a_qr_code_the_amount_and_the_payee(app, provider, client):
    reference, path = _open(app, provider)
    response = client.get(_fps(path))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "<svg" in html
    assert 'role="img" aria-label="FPS QR code to pay HK$123.45 to ' in html
    assert "HK$123.45" in html
    assert "Government of the HKSAR (sandbox)" in html
    assert "Licence renewal LR-2026-000123" in html
    assert "not in the EMVCo format" in html
    assert f'data-test="sandbox-fps-reference">{reference}<' in html  # to type in instead
    assert "I have paid in my banking app" in html
    assert "Cancel and go back" in html
    # Looking changes nothing.
    record = _record(reference)
    assert (record.status, record.stage, record.method) == ("pending", "details", None)


def test_the_qr_code_holds_a_pretend_payload_with_reference_and_amount(app, provider):
    reference, _path = _open(app, provider)
    payload = fps.payload(_record(reference))
    assert "NOT-EMVCO" in payload
    assert reference in payload
    assert "HKD 123.45" in payload
    assert fps.PAYEE in payload


def test_i_have_paid_succeeds_with_fps_and_goes_back(app, provider, client):
    reference, path = _open(app, provider)
    response = _post(client, _fps(path), {})
    assert response.status_code == 303
    assert response.headers["Location"] == RETURN_URL  # as given: nothing about the outcome
    record = _record(reference)
    assert (record.status, record.method, record.card_last4) == ("succeeded", "fps", None)
    assert provider.fetch_status(reference) == ProviderStatus("succeeded", "fps")
    assert "Payment successful" in _page(client, path)
    # The FPS page now leads to the outcome.
    assert _location(client.get(_fps(path))).endswith(path)


def test_confirming_again_after_success_changes_nothing(app, provider, client):
    reference, path = _open(app, provider)
    token = csrf_token_from(_page(client, _fps(path)))
    first = client.post(_fps(path), data={"csrf_token": token})
    assert _location(first) == RETURN_URL
    before = _record(reference).updated_at
    again = client.post(_fps(path), data={"csrf_token": token})
    assert _location(again).endswith(path)
    card = client.post(path, data={"csrf_token": token, **_card()})
    assert card.status_code == 200
    cancel = client.post(f"{path}/cancel", data={"csrf_token": token})
    assert _location(cancel).endswith(path)
    record = _record(reference)
    assert (record.status, record.method, record.updated_at) == ("succeeded", "fps", before)


def test_a_final_payment_cannot_be_paid_by_fps(app, provider, client):
    reference, path = _open(app, provider)
    token = csrf_token_from(_page(client, _fps(path)))
    assert _location(client.post(f"{path}/cancel", data={"csrf_token": token})) == RETURN_URL
    response = client.post(_fps(path), data={"csrf_token": token})
    assert _location(response).endswith(path)
    assert provider.fetch_status(reference) == ProviderStatus("cancelled", None)


def test_cancel_on_the_fps_page_cancels_and_goes_back(app, provider, client):
    reference, path = _open(app, provider)
    token = csrf_token_from(_page(client, _fps(path)))
    response = client.post(f"{path}/cancel", data={"csrf_token": token})
    assert _location(response) == RETURN_URL
    assert provider.fetch_status(reference).status == "cancelled"
    assert "You cancelled the payment" in _page(client, path)


def test_fps_is_not_offered_while_the_bank_challenges_a_card(app, provider, client):
    reference, path = _open(app, provider)
    token = csrf_token_from(_page(client, _fps(path)))
    _post(client, path, _card(CHALLENGE))
    assert _location(client.get(_fps(path))).endswith(path)
    response = client.post(_fps(path), data={"csrf_token": token})
    assert response.status_code == 303
    assert provider.fetch_status(reference) == ProviderStatus("pending", "card")


def test_an_expired_payment_cannot_be_confirmed(app, provider, client):
    reference, path = _open(app, provider)
    token = csrf_token_from(_page(client, _fps(path)))
    db.session.execute(update(SandboxPayment).where(SandboxPayment.reference == reference)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = client.post(_fps(path), data={"csrf_token": token})
    assert _location(response).endswith(path)
    assert "The payment has expired" in _page(client, path)
    assert provider.fetch_status(reference) == ProviderStatus("expired", None)
    assert _location(client.get(_fps(path))).endswith(path)


def test_confirming_needs_the_csrf_token(app, provider, client):
    reference, path = _open(app, provider)
    client.get(_fps(path))
    assert client.post(_fps(path)).status_code == 400
    assert client.post(_fps(path), data={"csrf_token": "forged"}).status_code == 400
    assert _record(reference).status == "pending"


def test_unknown_reference_is_404(client):
    assert client.get("/sandbox-pay/sbx_000000000000000000000000/fps").status_code == 404
    assert client.get("/sandbox-pay/whatever/fps").status_code == 404


def test_the_fps_page_is_in_chinese_for_a_chinese_browser(app, provider, client):
    _reference, path = _open(app, provider, locale="zh_Hant_HK")
    response = client.get(_fps(path), headers={"Accept-Language": "zh-HK"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'lang="zh-HK"' in html
    assert "<svg" in html
    assert "HK$123.45" in html

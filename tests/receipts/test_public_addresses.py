"""The address printed on a receipt (QR code, "Verify at ...", the email's link) comes from
PUBLIC_BASE_URL, never from the request that happened to trigger the issuing job."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from portal import public_urls as links
from portal.database import utcnow
from portal.extensions import db
from portal.notifications.models import OutboxEmail
from portal.receipts import issue, qr, storage
from portal.receipts.models import Receipt
from tests.payments.test_ledger import _pay, _return_path
from tests.receipts.conftest import fresh_receipt
from tests.receipts.test_render import pdf_text

PUBLIC = "https://portal.example.gov.hk"
FORGED = "evil.example"


@pytest.fixture
def qr_contents(monkeypatch) -> list[str]:
    """What each QR code made encodes (the real symbol is still made)."""
    contents: list[str] = []
    real = qr.make_qr

    def recording(content: str):
        contents.append(content)
        return real(content)

    monkeypatch.setattr(qr, "make_qr", recording)
    return contents


def _paid_with_forged_host(client, provider, application) -> Receipt:
    _pay(client, application)
    provider.status = "succeeded"
    for cookie in list(client._cookies.values()):  # the citizen's session, for that host
        client.set_cookie(cookie.key, cookie.value, domain=FORGED)
    response = client.get(_return_path(provider), headers={"Host": FORGED})
    assert response.status_code == 302, response.status_code
    db.session.expire_all()
    receipt = db.session.scalar(select(Receipt))
    assert receipt is not None
    assert receipt.status == "issued", receipt.last_error
    return receipt


def _receipt_email(receipt: Receipt) -> OutboxEmail:
    return db.session.scalar(select(OutboxEmail).where(OutboxEmail.receipt_id == receipt.id))


def test_a_forged_host_is_never_printed_on_a_receipt(
        app, client, provider, awaiting_payment, qr_contents, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", PUBLIC + "/")
    receipt = _paid_with_forged_host(client, provider, awaiting_payment)

    text = pdf_text(storage.read(receipt.storage_key))
    assert f"{PUBLIC}/verify" in text
    assert FORGED not in text
    assert qr_contents == [f"{PUBLIC}/verify?p={receipt.signed_payload}"]
    email = _receipt_email(receipt)
    assert f"{PUBLIC}/applications/{awaiting_payment.reference}" in email.body_text
    assert FORGED not in email.body_text


def test_with_no_public_base_url_tests_print_the_local_default_not_the_host(
        app, client, provider, awaiting_payment, qr_contents, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    receipt = _paid_with_forged_host(client, provider, awaiting_payment)

    text = pdf_text(storage.read(receipt.storage_key))
    assert "http://127.0.0.1:5000/verify" in text
    assert FORGED not in text
    assert qr_contents == [f"http://127.0.0.1:5000/verify?p={receipt.signed_payload}"]
    assert FORGED not in _receipt_email(receipt).body_text


def test_document_url_ignores_the_request(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", PUBLIC)
    with app.test_request_context("/", headers={"Host": FORGED}, base_url="http://x/sub"):
        assert links.document_url("receipts.verify", p="a.b") == f"{PUBLIC}/verify?p=a.b"


def test_the_local_default_follows_server_name_in_development(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    monkeypatch.setitem(app.config, "ENVIRONMENT", "development")
    monkeypatch.setitem(app.config, "SERVER_NAME", "portal.localhost:8000")
    assert links.public_base_url() == "http://portal.localhost:8000"


@pytest.mark.parametrize("environment", ["production", "staging", ""])
def test_outside_development_an_unset_public_base_url_is_an_error(
        app, monkeypatch, environment):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "  ")
    monkeypatch.setitem(app.config, "ENVIRONMENT", environment)
    with app.test_request_context("/", headers={"Host": FORGED}), \
            pytest.raises(links.PublicBaseURLMissing, match="PUBLIC_BASE_URL"):
        links.document_url("receipts.verify")


def test_in_production_without_it_the_receipt_stays_pending_and_is_retried(
        app, make_payment, issue_for, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    monkeypatch.setitem(app.config, "ENVIRONMENT", "production")
    with caplog.at_level(logging.WARNING, logger="portal.receipts"):
        failed = issue_for(make_payment())
    assert failed.status == "numbered"  # keeps its number, nothing printed
    assert "PUBLIC_BASE_URL" in failed.last_error
    assert failed.storage_key is None
    assert failed.signed_payload is None
    assert _receipt_email(failed) is None
    assert "PUBLIC_BASE_URL" in caplog.text

    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", PUBLIC)
    db.session.execute(update(Receipt).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert issue.issue_due() == 1
    done = fresh_receipt(failed.id)
    assert (done.status, done.number) == ("issued", failed.number)
    assert f"{PUBLIC}/verify" in pdf_text(storage.read(done.storage_key))


@pytest.mark.parametrize(("environment", "base", "logged"), [
    ("production", "", True),
    ("production", PUBLIC, False),
    ("development", "", False),
])
def test_the_app_says_at_start_when_receipts_cannot_be_issued(
        caplog, environment, base, logged):
    from portal import receipts

    bare = Flask("receipts_start")
    bare.config.update(ENVIRONMENT=environment, PUBLIC_BASE_URL=base)
    with caplog.at_level(logging.ERROR, logger="portal.receipts"):
        receipts.init_app(bare)
    assert ("PUBLIC_BASE_URL is not set" in caplog.text) is logged

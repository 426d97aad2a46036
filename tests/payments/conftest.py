"""A provider the tests control, and an application awaiting payment."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from portal.payments.providers import (
    InvalidWebhook,
    PaymentRequest,
    ProviderRefund,
    ProviderSession,
    ProviderStatus,
    WebhookEvent,
)
from tests.applications.conftest import permit_service  # noqa: F401 - a fixture
from tests.applications.test_journey import ADDRESS, post_step, start, submit


class FakeProvider:
    """Answers what the test says; counts what it was asked."""

    name = "fake"

    def __init__(self) -> None:
        self.requests: list[PaymentRequest] = []
        self.status = "pending"
        self.method = "card"
        self.fail = False
        self.lock = threading.Lock()
        #: (reference, amount, refund_id) of every refund asked for.
        self.refunds: list[tuple[str, int, str]] = []
        self.refund_status = "succeeded"
        #: Raised by ``refund`` when set (after counting the call).
        self.refund_error: Exception | None = None
        #: The secret a webhook must carry in its ``X-Fake-Secret`` header.
        self.webhook_secret = "fake-secret"

    def create_payment(self, request: PaymentRequest) -> ProviderSession:
        if self.fail:
            raise RuntimeError("provider down")
        with self.lock:
            self.requests.append(request)
            number = len(self.requests)
        return ProviderSession(reference=f"fake-{number}",
                               url=f"https://pay.example/{number}")

    def fetch_status(self, reference: str) -> ProviderStatus:
        return ProviderStatus(self.status, self.method if self.status == "succeeded" else None)

    def refund(self, reference: str, amount: int, refund_id: str) -> ProviderRefund:
        if self.fail:
            raise RuntimeError("provider down")
        with self.lock:
            self.refunds.append((reference, amount, refund_id))
        if self.refund_error is not None:
            raise self.refund_error
        return ProviderRefund(self.refund_status, f"fake-refund-{refund_id}")

    def verify_webhook(self, headers: Any, body: bytes) -> WebhookEvent:
        import json

        if headers.get("X-Fake-Secret") != self.webhook_secret:
            raise InvalidWebhook("bad secret")
        data = json.loads(body)
        return WebhookEvent(data["id"], data["reference"], data["type"])


#: What the receipts job stores instead of a real PDF in these tests (see below).
STAND_IN_PDF = b"%PDF-1.7\n% a stand-in: these tests are about money, not the document\n%%EOF\n"


@pytest.fixture(autouse=True)
def _receipts_without_weasyprint(monkeypatch) -> None:
    """Every test here that pays issues a receipt (numbered, signed, stored, emailed) as
    in life; only WeasyPrint's part is replaced by a stand-in, because rendering costs a
    fifth of a second a document and these tests look at the ledger, not the PDF. The
    rendering itself is tested in tests/receipts (and the browser journey reads real PDFs).
    """
    from portal.receipts import render

    monkeypatch.setattr(render, "render_prepared", lambda document: STAND_IN_PDF)


@pytest.fixture
def provider(app, monkeypatch) -> FakeProvider:
    fake = FakeProvider()
    monkeypatch.setitem(app.extensions["payment_providers"], "fake", fake)
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDER", "fake")
    return fake


@pytest.fixture
def awaiting_payment(client, permit_service, create_user, sign_in) -> Any:  # noqa: F811
    """A signed-in citizen's application for a year permit, HK$100, awaiting payment."""
    from sqlalchemy import select

    from portal.applications.models import Application
    from portal.extensions import db
    from tests.applications.test_journey import evidence

    create_user()
    sign_in(client)
    draft = start(client)
    post_step(client, draft, "details", {"full_name": "Chan Tai Man", "kind": "year"})
    post_step(client, draft, "copies", {"copies": "1"})
    post_step(client, draft, "address", ADDRESS)
    post_step(client, draft, "evidence", evidence(), content_type="multipart/form-data")
    submit(client, draft)
    application = db.session.scalar(select(Application))
    assert application.state == "awaiting_payment"
    assert application.fee_amount == 10_000
    return application

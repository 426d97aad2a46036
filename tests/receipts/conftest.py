"""Succeeded payments made directly in the ledger, and helpers to read what was issued."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from portal.extensions import db
from tests.payments.conftest import (  # noqa: F401 - fixtures
    awaiting_payment,
    permit_service,
    provider,
)

DEPARTMENTS = {
    "TD": ("Transport Department", "運輸署"),
    "IMMD": ("Immigration Department", "入境事務處"),
    "TRY": ("Treasury", "庫務署"),
}
#: The department of each built-in service.
SERVICE_DEPARTMENT = {"licence_renewal": "TD", "birth_record": "IMMD", "pay_bill": "TRY"}


@pytest.fixture(autouse=True)
def receipts_folder(app, tmp_path, monkeypatch) -> Any:
    """Each test stores its receipts in a folder of its own."""
    folder = tmp_path / "receipts"
    monkeypatch.setitem(app.config, "RECEIPTS_FOLDER", str(folder))
    return folder


@pytest.fixture
def make_payment(app, create_user, create_department) -> Any:
    """``make_payment(succeeded_at=..., service=..., user=...)``: a succeeded payment of a
    submitted application, committed (no receipt asked for yet)."""
    from portal.applications.models import Application
    from portal.applications.util import new_reference
    from portal.payments.models import Payment

    def factory(*, succeeded_at: datetime | None = None, service: str = "licence_renewal",
                user: Any = None, amount: int = 90_000, method: str = "card",
                locale: str = "en") -> Payment:
        department = SERVICE_DEPARTMENT[service]
        create_department(department, *DEPARTMENTS[department])
        if user is None:
            from portal.identity.models import User

            user = db.session.scalar(select(User).where(User.email == "citizen@example.com"))
            user = user or create_user()
        moment = succeeded_at or datetime.now(UTC)
        application = Application(
            reference=new_reference(), user_id=user.id, service=service,
            department=department, state="received", answers={}, fee_amount=amount,
            locale=locale,
        )
        db.session.add(application)
        db.session.flush()
        payment = Payment(
            public_id=secrets.token_hex(16), application_id=application.id, nonce="n",
            amount=amount, provider="sandbox", provider_reference=f"SBX-{secrets.token_hex(4)}",
            return_token_digest="0" * 64, expires_at=moment + timedelta(minutes=60),
            state="succeeded", method=method, created_at=moment, updated_at=moment,
            succeeded_at=moment,
        )
        db.session.add(payment)
        db.session.commit()
        return payment

    return factory


@pytest.fixture
def issue_for(app) -> Any:
    """``issue_for(payment)``: ask for its receipt and commit (the job runs eagerly)."""
    from portal.receipts.issue import request_receipt

    def do(payment: Any) -> Any:
        receipt = request_receipt(payment)
        receipt_id = receipt.id
        db.session.commit()
        return fresh_receipt(receipt_id)

    return do


def fresh_receipt(receipt_id: int) -> Any:
    from portal.receipts.models import Receipt

    db.session.expire_all()
    return db.session.get(Receipt, receipt_id)


def all_receipts() -> list[Any]:
    from portal.receipts.models import Receipt

    db.session.expire_all()
    return list(db.session.scalars(select(Receipt).order_by(Receipt.id)))

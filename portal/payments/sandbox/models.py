"""The sandbox provider's own records of payments, as a real provider would keep them.

Every change of status is a compare-and-set on ``status = 'pending'`` (see ``store``), so a
final status never changes and a repeated request has no second effect.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import UTCDateTime, utcnow
from portal.extensions import db

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"
STATUSES = (PENDING, SUCCEEDED, FAILED, CANCELLED, EXPIRED)
FINAL_STATUSES = frozenset(STATUSES) - {PENDING}

#: Where a pending payment stands: card details not yet accepted, or waiting for the
#: bank's challenge (3-D Secure) to be approved or failed.
STAGE_DETAILS = "details"
STAGE_CHALLENGE = "challenge"

#: Why a payment failed.
CARD_DECLINED = "card_declined"
AUTHENTICATION_FAILED = "authentication_failed"


class SandboxPayment(db.Model):
    __tablename__ = "sandbox_payments"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'cancelled', 'expired')",
            name="status",
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_sandbox_payments_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The provider's public reference (random, unique), in the page's address.
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    #: The portal's own id of the payment (``PaymentRequest.payment_id``), as a provider
    #: keeps the merchant's reference.
    merchant_reference: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[int] = mapped_column()  # integer minor units (cents)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(500))
    return_url: Mapped[str] = mapped_column(String(2000))
    locale: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    stage: Mapped[str] = mapped_column(String(12), default=STAGE_DETAILS)
    #: How it was (or was tried to be) paid: "card" or "fps"; unknown until card details
    #: are sent or the FPS payment is confirmed.
    method: Mapped[str | None] = mapped_column(String(10))
    #: The last four digits of the card; the full number and the security code are
    #: never stored.
    card_last4: Mapped[str | None] = mapped_column(String(4))
    #: Why it failed: "card_declined" or "authentication_failed".
    failure_code: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A payment still pending at this moment is expired.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

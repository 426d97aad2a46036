"""The sandbox provider's own records of payments, as a real provider would keep them.

Every change of status is a compare-and-set on ``status = 'pending'`` (see ``store``), so a
final status never changes and a repeated request has no second effect.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
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
        CheckConstraint("refunded_amount BETWEEN 0 AND amount", name="refunded_within_amount"),
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
    #: Cents given back by succeeded refunds; raised only by a compare-and-set that keeps
    #: it at most ``amount``.
    refunded_amount: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


#: A webhook delivery waits to be sent (again), was answered with 2xx, or was given up.
DELIVERY_PENDING = "pending"
DELIVERY_DELIVERED = "delivered"
DELIVERY_FAILED = "failed"


class SandboxWebhookDelivery(db.Model):
    """One event the sandbox owes the portal, as a provider's outbox of webhooks.

    Written in the same sandbox transaction as the payment's final status, so no
    outcome goes unannounced; sent by a background job and retried with back-off.
    """

    __tablename__ = "sandbox_webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        Index("ix_sandbox_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The event's id (``evt_...``): a repeated delivery carries the same one.
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    #: ``payment.succeeded``, ``payment.failed``, ``payment.cancelled``, ``payment.expired``.
    type: Mapped[str] = mapped_column(String(40))
    payment_reference: Mapped[str] = mapped_column(String(40), index=True)
    #: The JSON sent, fixed once: every attempt sends the same bytes (freshly signed).
    body: Mapped[str] = mapped_column(Text)
    #: Where it goes: the portal's webhook address when the event happened.
    url: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), default=DELIVERY_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    #: Extra copies sent after a successful attempt (``SANDBOX_PAYMENTS_WEBHOOK_DUPLICATE_RATE``).
    duplicates_sent: Mapped[int] = mapped_column(default=0)
    #: Due then; also moved ahead while one worker holds the delivery (its claim).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Why the last attempt failed (an HTTP status or an exception's name; never a body).
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


#: A refund was made or refused by the sandbox.
REFUND_SUCCEEDED = "succeeded"
REFUND_FAILED = "failed"


class SandboxRefund(db.Model):
    """Money the sandbox gave back (or refused to), once per merchant's refund id."""

    __tablename__ = "sandbox_refunds"
    __table_args__ = (
        CheckConstraint("status IN ('succeeded', 'failed')", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The sandbox's reference of the refund (``sbxr_...``).
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    #: The merchant's id of the refund: its idempotency key.
    refund_id: Mapped[str] = mapped_column(String(64), unique=True)
    payment_reference: Mapped[str] = mapped_column(String(40), index=True)
    amount: Mapped[int]  # integer cents
    status: Mapped[str] = mapped_column(String(12))
    #: Why it was refused: ``not_found``, ``not_succeeded``, ``exceeds_remaining``,
    #: ``declined`` (``SANDBOX_PAYMENTS_REFUND_FAIL_RATE``).
    failure_code: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

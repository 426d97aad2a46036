"""The payment ledger: what was asked, of whom, and how it ended."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.applications.models import Application
from portal.database import UTCDateTime, utcnow
from portal.extensions import db


class PaymentState(enum.StrEnum):
    CREATED = "created"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


#: Where a payment may go from each state; the final states go nowhere.
PAYMENT_MOVES: dict[PaymentState, frozenset[PaymentState]] = {
    PaymentState.CREATED: frozenset({PaymentState.STARTED, PaymentState.FAILED,
                                     PaymentState.CANCELLED, PaymentState.EXPIRED}),
    PaymentState.STARTED: frozenset({PaymentState.SUCCEEDED, PaymentState.FAILED,
                                     PaymentState.CANCELLED, PaymentState.EXPIRED}),
    PaymentState.SUCCEEDED: frozenset(),
    PaymentState.FAILED: frozenset(),
    PaymentState.CANCELLED: frozenset(),
    PaymentState.EXPIRED: frozenset(),
}
FINAL_STATES = frozenset(state for state, moves in PAYMENT_MOVES.items() if not moves)


class Payment(db.Model):
    """One attempt to collect an application's fee, in integer cents of HKD."""

    __tablename__ = "payments"
    __table_args__ = (
        # One open payment per application: set while open, cleared at a final state. (The
        # pay button's nonce is recorded with it: the click each payment came from.)
        UniqueConstraint("open_for"),
        UniqueConstraint("provider", "provider_reference"),
        Index("ix_payments_state_expires", "state", "expires_at"),
        # The last guard of "never more than was paid" (the refunds' compare-and-set is
        # the first): no statement, buggy or not, can give back more than the amount or
        # release more than was reserved.
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount",
                        name="refunded_amount_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Used in URLs; random.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    open_for: Mapped[int | None]
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="HKD")
    state: Mapped[str] = mapped_column(String(16), default=PaymentState.CREATED)
    provider: Mapped[str] = mapped_column(String(32))
    provider_reference: Mapped[str | None] = mapped_column(String(64))
    provider_url: Mapped[str | None] = mapped_column(String(500))
    #: How it was paid ("card", "fps"), as the provider says once it is done.
    method: Mapped[str | None] = mapped_column(String(16))
    #: SHA-256 of the secret in the return URL (the secret itself is never stored).
    return_token_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Cents given back or being given back (refunds processing or succeeded). Raised by
    #: a compare-and-set that keeps it at most ``amount``; see ``portal.payments.refunds``.
    refunded_amount: Mapped[int] = mapped_column(default=0, server_default="0")

    application: Mapped[Application] = relationship()

    @property
    def refundable_amount(self) -> int:
        """What may still be refunded (nothing unless the payment succeeded)."""
        if self.state != PaymentState.SUCCEEDED:
            return 0
        return self.amount - self.refunded_amount

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


class RefundState(enum.StrEnum):
    #: The amount is reserved on the payment; the provider is being asked.
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    #: The provider refused; the reserved amount was released.
    FAILED = "failed"
    #: Above the department's threshold: reserved, waiting for a supervisor (four eyes).
    NEEDS_APPROVAL = "needs_approval"
    #: A supervisor declined it; the reserved amount was released.
    DECLINED = "declined"


REFUND_MOVES: dict[RefundState, frozenset[RefundState]] = {
    RefundState.NEEDS_APPROVAL: frozenset({RefundState.PROCESSING, RefundState.DECLINED}),
    RefundState.DECLINED: frozenset(),
    RefundState.PROCESSING: frozenset({RefundState.SUCCEEDED, RefundState.FAILED}),
    RefundState.SUCCEEDED: frozenset(),
    RefundState.FAILED: frozenset(),
}


class Refund(db.Model):
    """Money given back on a succeeded payment, in full or in part, by a member of staff."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_refunds_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Used in URLs and as the provider's idempotency key; random.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount: Mapped[int]  # integer cents, at most what remained when it was made
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default=RefundState.PROCESSING)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    provider_reference: Mapped[str | None] = mapped_column(String(64))
    #: Four eyes: the supervisor who approved or declined it (never the requester).
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payment: Mapped[Payment] = relationship()


class ReceivedWebhook(db.Model):
    """A provider's webhook event, recorded once whatever how often it is delivered.

    Only events whose signature checked out are written. ``processed_at`` is set once
    the payment it names was settled (or found unknown); until then a repeated delivery
    is processed again, so a failure while settling is retried by the provider.
    """

    __tablename__ = "received_webhooks"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))
    #: The provider's reference of the payment the event names.
    reference: Mapped[str] = mapped_column(String(64))
    #: The provider's word for it (``payment.succeeded``); recorded, never trusted.
    type: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: ``settled`` (the provider was asked and the ledger updated as it said) or
    #: ``unknown_payment`` (no payment has the reference; nothing done).
    outcome: Mapped[str | None] = mapped_column(String(20))

"""Receipts (and credit notes) as issued documents, their numbers and signing keys.

A ``Receipt`` row is written in the same transaction as its cause (a payment that
succeeded, a refund that succeeded): it is the outbox entry of the document. A background
job then numbers it (gapless, per series), renders and signs it, and stores the bytes once.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.applications.models import Application
from portal.database import UTCDateTime, utcnow
from portal.extensions import db
from portal.payments.models import Payment, Refund


class ReceiptKind(enum.StrEnum):
    RECEIPT = "receipt"
    CREDIT_NOTE = "credit_note"
    #: A document a service issues on approval (a renewed licence): which one is named by
    #: its cause, ``document:<application id>:<DocumentSpec.name>``.
    DOCUMENT = "document"


class ReceiptStatus(enum.StrEnum):
    #: Asked for; no number yet.
    PENDING = "pending"
    #: Has its number (taken with no gap); the PDF is not stored yet.
    NUMBERED = "numbered"
    #: Rendered, signed and stored; never changes again (only ``voided_at`` may be set).
    ISSUED = "issued"


class Receipt(db.Model):
    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("series", "sequence"),
        Index("ix_receipts_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Used in URLs; random.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: One document per cause: ``payment:<id>`` for a receipt, ``refund:<id>`` for a
    #: credit note, ``document:<application id>:<name>`` for an issued document. The
    #: unique constraint makes "issued exactly once" hold under races.
    cause: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=ReceiptKind.RECEIPT)
    status: Mapped[str] = mapped_column(String(16), default=ReceiptStatus.PENDING)
    #: The payment a receipt or credit note is for (None for an issued document, such
    #: as a renewed licence, which belongs to ``application_id``).
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    #: The application an issued document belongs to.
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"),
                                                       index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    #: The department's code (``TD``).
    department: Mapped[str] = mapped_column(String(16))
    #: Where the number comes from, e.g. ``TD/2026-27`` (credit notes: ``TD/CN/2026-27``,
    #: documents their own, ``TD/LIC/2026-27``, set when they are asked for).
    series: Mapped[str | None] = mapped_column(String(40))
    sequence: Mapped[int | None]
    #: The number printed, e.g. ``TD/2026-27/000123``.
    number: Mapped[str | None] = mapped_column(String(48), unique=True)
    #: The citizen's language when it was asked for (the email's language; the PDF
    #: carries both).
    locale: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int]  # integer cents (0 for an issued document)
    currency: Mapped[str] = mapped_column(String(3), default="HKD")
    #: Short code to type in on the verify page, e.g. ``7KQM-X3PD-9RTA``.
    short_code: Mapped[str | None] = mapped_column(String(20), unique=True)
    #: The signed payload in the QR code and its signing key's id.
    signed_payload: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[str | None] = mapped_column(String(32))
    #: Where the stored PDF is (a key in the receipts storage) and its SHA-256.
    storage_key: Mapped[str | None] = mapped_column(String(80))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set while a worker holds the row, so two workers never issue it twice.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(String(500))

    payment: Mapped[Payment | None] = relationship()
    refund: Mapped[Refund | None] = relationship()
    application: Mapped[Application | None] = relationship()

    @property
    def is_document(self) -> bool:
        return self.kind == ReceiptKind.DOCUMENT

    def owning_application(self) -> Application:
        """The application it is for: a document's own, a receipt's through its payment."""
        if self.application_id is not None and self.application is not None:
            return self.application
        if self.payment is None:
            raise LookupError(f"receipt {self.id} belongs to no application")
        return self.payment.application


class ReceiptCounter(db.Model):
    """The last number taken in a series (``TD/2026-27``); raised in the transaction that
    gives a receipt its number, so a rollback gives the number back and none is skipped."""

    __tablename__ = "receipt_counters"

    series: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(default=0)


class ReceiptSigningKey(db.Model):
    """An Ed25519 key pair for signing receipts. Retired keys stay published so that
    receipts signed with them keep verifying."""

    __tablename__ = "receipt_signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: The raw 32-byte public key, base64url without padding.
    public_key: Mapped[str] = mapped_column(String(64))
    #: The private key, encrypted with ``portal.crypto.protect``.
    private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: No longer used to sign (still published).
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

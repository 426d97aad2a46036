"""The outbox: every email is a row written in the same transaction as its cause."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import UTCDateTime, utcnow
from portal.extensions import db


class EmailStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


#: What each status is called on a page.
EMAIL_STATUS_LABELS = {
    EmailStatus.QUEUED: _l("Waiting to send"),
    EmailStatus.SENT: _l("Sent"),
    EmailStatus.FAILED: _l("Failed"),
}


class OutboxEmail(db.Model):
    __tablename__ = "outbox_emails"
    __table_args__ = (Index("ix_outbox_emails_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recipient: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(16))
    #: Which template produced it, e.g. ``identity/confirm_email``.
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=EmailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set while a worker holds the row, so two workers never send it twice.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: An issued receipt or credit note sent with the email as a PDF attachment.
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"))
    #: The application the email is about, so its case shows each message's delivery state.
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL"), index=True)

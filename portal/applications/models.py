"""Drafts, applications, their events and supporting documents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import UTCDateTime, utcnow
from portal.extensions import db
from portal.identity.models import User


class DraftStatus:
    OPEN = "open"
    SUBMITTED = "submitted"


class Draft(db.Model):
    """An application being filled in, saved after every step."""

    __tablename__ = "drafts"
    __table_args__ = (Index("ix_drafts_user_status", "user_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Used in URLs: random, so draft ids cannot be guessed or counted.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(40))
    #: ``{step: {field: [raw form values]}}`` exactly as entered (re-validated at submission).
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Steps whose answers passed validation, in the order they were completed.
    completed_steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=DraftStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Application(db.Model):
    """A submitted application: answers frozen at submission, state moved by the workflow."""

    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_user", "user_id", "submitted_at"),
        Index("ix_applications_department_state", "department", "state"),
        # At most one open application per key of a service (NULLs never collide).
        UniqueConstraint("service", "open_key", name="uq_applications_service_open_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Readable aloud: no 0/O or 1/I/L, with a check character.
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    #: The draft it came from; unique, so a draft becomes at most one application.
    draft_id: Mapped[int | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="SET NULL"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    service: Mapped[str] = mapped_column(String(40))
    department: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(40))
    #: ``{step: {field: [raw values]}}`` of the steps that applied, copied at submission.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    fee_amount: Mapped[int] = mapped_column(default=0)
    fee_currency: Mapped[str] = mapped_column(String(3), default="HKD")
    locale: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The service's ``exclusive_key`` of the answers (a bill number) while the application
    #: is open; cleared when it reaches a final state, so the key can be used again.
    open_key: Mapped[str | None] = mapped_column(String(200))
    #: Set when the department's clock starts (at submission, or once paid).
    decision_due: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
    events: Mapped[list[ApplicationEvent]] = relationship(
        back_populates="application", order_by="ApplicationEvent.id"
    )
    uploads: Mapped[list[Upload]] = relationship(
        back_populates="application", order_by="Upload.id",
        primaryjoin="Application.id == Upload.application_id",
    )


class ApplicationEvent(db.Model):
    """One entry of an application's timeline: who did what, when, from which state."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    #: ``submitted`` or a workflow action.
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    #: "citizen", a staff role, or "system".
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: A reason or message shown with the event (already in the words the actor chose).
    note: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="events")


class Upload(db.Model):
    """A supporting document. The bytes live outside the web root under ``storage_key``."""

    __tablename__ = "uploads"
    __table_args__ = (UniqueConstraint("storage_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Used in URLs; random.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    draft_id: Mapped[int | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="SET NULL"), index=True
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    field: Mapped[str] = mapped_column(String(64))
    #: The name the citizen's file had, for display only (never used to store or serve).
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application | None] = relationship(
        back_populates="uploads", foreign_keys=[application_id]
    )

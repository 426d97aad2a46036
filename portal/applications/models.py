"""Drafts, applications, their events and supporting documents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
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
        # The work queue reads pages in due-date order (keyset on due date, id), by state
        # or by whom a case is assigned to, within one department.
        Index("ix_applications_queue_state", "department", "state", "decision_due", "id"),
        Index("ix_applications_queue_assignee", "department", "assigned_to_id", "state",
              "decision_due", "id"),
        # The department's reports: received and decided per week.
        Index("ix_applications_department_submitted", "department", "submitted_at"),
        Index("ix_applications_department_decided", "department", "decided_at"),
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
    #: The applicant's names (English and Chinese) copied at submission, so staff can
    #: search the queue by name without a join.
    applicant_name: Mapped[str | None] = mapped_column(String(160))
    #: The member of staff handling the case (None: in the department's unassigned pile).
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Since when the department waits for the citizen (a workflow ``waiting`` state):
    #: the pledge's clock is paused; the due date moves on when the citizen answers.
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the application reached a final state.
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
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
    #: For a rejection: a code of ``portal.backoffice.reasons.REJECTION_REASONS``, shown
    #: to the citizen in their own language (``note`` holds the free text, if any).
    reason_code: Mapped[str | None] = mapped_column(String(40))
    #: Staff-only entries (claimed, assigned) are not shown on the citizen's timeline.
    internal: Mapped[bool] = mapped_column(default=False)
    #: Whom the entry is about, besides the actor: the person a case was assigned to.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="events")
    subject: Mapped[User | None] = relationship(foreign_keys=[subject_id])


class CaseNote(db.Model):
    """An internal note on a case: staff of the department only, never the citizen."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship()


class MessageKind:
    #: Staff to citizen, for information only.
    MESSAGE = "message"
    #: Staff to citizen, asking for more information (the citizen's task until answered).
    INFORMATION_REQUEST = "information_request"
    #: Citizen to staff: the answer to an information request (documents may come with it).
    REPLY = "reply"


class CaseMessage(db.Model):
    """A message between the department and the citizen about one application."""

    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Used in URLs; random.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    #: ``staff`` or ``citizen``.
    sender: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    #: A reply names the information request it answers.
    in_reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("case_messages.id"))
    #: An information request: when the citizen answered it (None: still open).
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship()


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

"""The audit events and the head of their hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import UTCDateTime
from portal.extensions import db

#: The ``prev_hash`` of the first event.
GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):
    """One thing a person (or the portal itself) did. Never updated, never deleted.

    ``id`` is given out under the chain's lock (from :class:`AuditChainHead`), not by a
    sequence, so ids follow the chain with no gap: a gap means a removed row.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_department_created", "department", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: For joins; set to NULL if the user is ever removed, so it is not hashed:
    #: ``actor_ref`` keeps the id as recorded and is.
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_ref: Mapped[int | None]
    actor_role: Mapped[str | None] = mapped_column(String(32))
    #: The department's code (``TD``); NULL for portal-wide events.
    department: Mapped[str | None] = mapped_column(String(16))
    #: ``auth.sign_in``, ``staff.created``, ``refund.requested``, ``receipt.downloaded``...
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    #: Facts about the action; never secrets, never an HKID (checked by ``record``).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(db.Model):
    """The one row (id 1) saying how long the chain is and how it ends.

    Every ``record`` updates it first, which takes the write lock (the row lock on
    PostgreSQL, the database's write lock on SQLite) until the transaction ends; it also
    lets ``verify`` notice that the last rows were removed.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)

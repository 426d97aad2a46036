"""Writing audit events into the hash chain, and checking the chain.

Each event's ``hash`` is ``sha256(prev_hash + canonical JSON of its fields)`` and its
``prev_hash`` is the hash of the event before it. Taking the previous hash and inserting
happen under one lock held to the end of the transaction:

* PostgreSQL: ``pg_advisory_xact_lock`` on a fixed key, then the head row's update;
* SQLite: the first statement of ``record`` is the head row's ``UPDATE``, a write, so the
  transaction holds the database's write lock (and reads the newest head) from then on.

So two transactions recording at once are put one after the other (never two events with
one ``prev_hash``), and a transaction that rolls back takes its events and its move of
the head with it, leaving the chain as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import insert, select, text, update

from portal.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from portal.database import utcnow
from portal.extensions import db
from portal.identity.hkid import InvalidHKID, normalise_hkid
from portal.log import current_request_id

#: ``pg_advisory_xact_lock`` key of the chain ("audit" in ASCII).
ADVISORY_LOCK_KEY = 0x6175646974
HEAD_ID = 1

#: Keys never allowed in ``details`` (matched anywhere in the key, any case).
SECRET_KEY_PARTS = ("password", "secret", "token", "hkid", "totp", "otp", "security_code",
                    "card", "cvv", "session")
#: Something shaped like an HKID in a value (``A123456(7)``, ``AB9876543``); refused
#: when its check character is right (random ids of the same shape rarely are).
HKID_PATTERN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,2}[0-9]{6}\(?[0-9Aa]\)?(?![A-Za-z0-9])")

HASHED_FIELDS = ("id", "created_at", "actor_ref", "actor_role", "department", "action",
                 "target_type", "target_id", "details", "ip", "request_id", "prev_hash")


class UnsafeAuditDetails(ValueError):
    """``details`` held something that must not be kept in the log (a secret, an HKID)."""


def _is_hkid(candidate: str) -> bool:
    try:
        normalise_hkid(candidate)
    except InvalidHKID:
        return False
    return True


def _check_details(details: Any, path: str = "details") -> None:
    if isinstance(details, dict):
        for key, value in details.items():
            if not isinstance(key, str):
                raise UnsafeAuditDetails(f"{path}: keys are strings")
            if any(part in key.lower() for part in SECRET_KEY_PARTS):
                raise UnsafeAuditDetails(f"{path}.{key} looks like a secret")
            _check_details(value, f"{path}.{key}")
    elif isinstance(details, list | tuple):
        for index, value in enumerate(details):
            _check_details(value, f"{path}[{index}]")
    elif isinstance(details, str):
        if any(_is_hkid(found.group()) for found in HKID_PATTERN.finditer(details)):
            raise UnsafeAuditDetails(f"{path} looks like it holds an HKID")
    elif isinstance(details, float):
        raise UnsafeAuditDetails(f"{path}: no floats (money is integer cents)")
    elif details is not None and not isinstance(details, bool | int):
        raise UnsafeAuditDetails(f"{path}: {type(details).__name__} is not JSON")


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(fields: dict[str, Any]) -> str:
    """The hash of an event from its fields (``HASHED_FIELDS``; ``created_at`` a datetime)."""
    canonical = {name: fields.get(name) for name in HASHED_FIELDS if name != "prev_hash"}
    canonical["created_at"] = _timestamp(fields["created_at"])
    body = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((fields["prev_hash"] + body).encode("utf-8")).hexdigest()


def _target(target: Any) -> tuple[str | None, str | None]:
    """``("refund", "ab12...")`` from a model (its public id or reference if it has one)."""
    if target is None:
        return None, None
    if isinstance(target, tuple):
        kind, key = target
        return str(kind), str(key)
    kind = getattr(target, "__tablename__", type(target).__name__.lower())
    for attribute in ("reference", "public_id", "id"):
        key = getattr(target, attribute, None)
        if key is not None:
            return kind, str(key)
    raise ValueError(f"{kind} has no id yet; flush it before recording")


def _take_head() -> tuple[int, str]:
    """Lock the chain for this transaction and take the next id and the previous hash."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    statement = (update(AuditChainHead).where(AuditChainHead.id == HEAD_ID)
                 .values(last_id=AuditChainHead.last_id + 1)
                 .returning(AuditChainHead.last_id, AuditChainHead.last_hash)
                 .execution_options(synchronize_session=False))
    row = session.execute(statement).one_or_none()
    if row is None:  # a database made without the migration's head row
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        session.execute(upsert(AuditChainHead).values(
            id=HEAD_ID, last_id=0, last_hash=GENESIS_HASH).on_conflict_do_nothing())
        row = session.execute(statement).one()
    return row[0], row[1]


def record(action: str, *, actor: Any = None, target: Any = None,
           department: str | None = None, details: dict[str, Any] | None = None) -> int:
    """Add an event to the current transaction (committed or rolled back with it).

    ``actor`` is the user who acted (None for the portal itself: a worker, the CLI);
    ``target`` a model instance or ``(type, id)``; ``department`` defaults to the
    actor's department. Returns the event's id.

    It takes the chain's lock, held until the transaction ends: call it as late as
    possible, just before the commit (every audited transaction of the portal waits on
    that lock, and taking it before other row locks invites lock-order deadlocks).

    :raises UnsafeAuditDetails: ``details`` holds a secret-looking key, an HKID or
        something that is not plain JSON.
    """
    details = dict(details or {})
    _check_details(details)
    target_type, target_id = _target(target)
    actor_id = getattr(actor, "id", None)
    if department is None and actor is not None and getattr(actor, "department", None):
        department = actor.department.code
    ip = request_id = None
    if has_request_context():
        ip = request.remote_addr
        request_id = current_request_id()
    event_id, prev_hash = _take_head()
    fields: dict[str, Any] = {
        "id": event_id, "created_at": utcnow(), "actor_ref": actor_id,
        "actor_role": getattr(actor, "role", None), "department": department,
        "action": action, "target_type": target_type, "target_id": target_id,
        "details": details, "ip": ip, "request_id": request_id, "prev_hash": prev_hash,
    }
    digest = event_hash(fields)
    db.session.execute(insert(AuditEvent).values(actor_id=actor_id, hash=digest, **fields))
    db.session.execute(update(AuditChainHead).where(AuditChainHead.id == HEAD_ID)
                       .values(last_hash=digest).execution_options(synchronize_session=False))
    return event_id


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` found: ``broken_at`` is None when the chain is whole."""

    count: int
    head_hash: str
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _events(batch: int = 1000) -> Iterator[Any]:
    """Every event in id order, as plain rows (nothing kept in the session)."""
    table = AuditEvent.__table__
    last = 0
    while True:
        rows = list(db.session.execute(
            select(table).where(table.c.id > last).order_by(table.c.id).limit(batch)))
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def verify() -> ChainReport:
    """Walk the chain in id order, recompute every hash; stop at the first broken row."""
    previous_hash, previous_id, count = GENESIS_HASH, 0, 0
    for event in _events():
        fields = {name: getattr(event, name) for name in HASHED_FIELDS}
        if event_hash(fields) != event.hash or (
                event.actor_id is not None and event.actor_id != event.actor_ref):
            return ChainReport(count, previous_hash, event.id,
                               f"row {event.id} was altered (its hash does not match its fields)")
        if event.prev_hash != previous_hash or event.id != previous_id + 1:
            before = f"row {previous_id}" if previous_id else "the start of the chain"
            return ChainReport(count, previous_hash, event.id,
                               f"row {event.id}: its prev_hash does not match {before}; a row "
                               "before it was removed (or altered with its hash recomputed)")
        previous_hash, previous_id, count = event.hash, event.id, count + 1
    head = db.session.execute(select(AuditChainHead.last_id, AuditChainHead.last_hash)
                              .where(AuditChainHead.id == HEAD_ID)).one_or_none()
    if head is None and count:
        return ChainReport(count, previous_hash, previous_id,
                           "the chain's head row (audit_chain_head) is missing")
    head_id, head_hash = (head[0], head[1]) if head else (0, GENESIS_HASH)
    if (head_id, head_hash) != (previous_id, previous_hash):
        return ChainReport(count, previous_hash, previous_id + 1,
                           f"row {previous_id + 1} is missing: the chain's head says it ends at "
                           f"row {head_id}, the last row found is {previous_id or 'none'}")
    return ChainReport(count, previous_hash)

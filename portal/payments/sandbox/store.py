"""Reading and changing the sandbox's records, independently of the caller's transaction.

The sandbox stands in for a provider on another server, so its writes never ride on the
portal's database session: each one runs in a short transaction of its own
(``db.engine.begin()``) and is committed at once, whatever the caller later commits or
rolls back. Callers (like the portal calling a real provider over the network) should
not hold a write transaction open while they call it: on SQLite that would make the
sandbox wait for the lock.

Status changes are compare-and-set: ``UPDATE ... WHERE status = 'pending'``, so of two
concurrent requests only one changes anything, and a final status never changes. The change
that makes a payment final also writes the webhook delivery announcing it, in the same
transaction (the sandbox's outbox; see ``webhooks``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from portal.database import utcnow
from portal.extensions import db
from portal.payments.sandbox.models import (
    EXPIRED,
    PENDING,
    STAGE_CHALLENGE,
    STAGE_DETAILS,
    SandboxPayment,
)

_TABLE = SandboxPayment.__table__
REFERENCE_PREFIX = "sbx_"


def new_reference() -> str:
    return REFERENCE_PREFIX + secrets.token_hex(12)


def create(*, merchant_reference: str, amount: int, currency: str, description: str,
           return_url: str, locale: str, lifetime: timedelta) -> str:
    """Keep a new pending payment; returns its reference."""
    now = utcnow()
    reference = new_reference()
    with db.engine.begin() as conn:
        conn.execute(
            _TABLE.insert().values(
                reference=reference, merchant_reference=merchant_reference, amount=amount,
                currency=currency, description=description, return_url=return_url,
                locale=locale, status=PENDING, stage=STAGE_DETAILS, created_at=now,
                updated_at=now, expires_at=now + lifetime,
            )
        )
    return reference


def get(reference: str) -> SandboxPayment | None:
    """The payment ``reference`` as it stands now (expired first if its time is up).

    A transient snapshot: never added to the caller's session, never stale from it.
    """
    if not reference.startswith(REFERENCE_PREFIX) or len(reference) > 40:
        return None
    row = _read(reference)
    if row is not None and row["status"] == PENDING and row["expires_at"] <= utcnow():
        expire_if_due(reference)
        row = _read(reference)
    return None if row is None else SandboxPayment(**dict(row))


def _read(reference: str) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(
            select(_TABLE).where(_TABLE.c.reference == reference)
        ).mappings().first()


def expire_if_due(reference: str, now: datetime | None = None) -> bool:
    """Expire the payment if it is still pending past its time. Returns whether it did."""
    now = now or utcnow()
    return _change(
        update(_TABLE)
        .where(_TABLE.c.reference == reference, _TABLE.c.status == PENDING,
               _TABLE.c.expires_at <= now)
        .values(status=EXPIRED, updated_at=now),
        announce=(reference, EXPIRED),
    )


def start_challenge(reference: str, card_last4: str) -> bool:
    """Card details accepted, the bank wants a challenge: pending, stage "challenge"."""
    now = utcnow()
    return _change(
        update(_TABLE)
        .where(_TABLE.c.reference == reference, _TABLE.c.status == PENDING,
               _TABLE.c.stage == STAGE_DETAILS, _TABLE.c.expires_at > now)
        .values(stage=STAGE_CHALLENGE, method="card", card_last4=card_last4, updated_at=now)
    )


def finish(reference: str, status: str, *, stage: str | None = None,
           **values: Any) -> bool:
    """Move a pending payment to the final ``status``; only from ``stage`` if given.

    Returns whether this call made the change (False: it was already final, expired, or
    at another stage; nothing changed).
    """
    now = utcnow()
    condition = [_TABLE.c.reference == reference, _TABLE.c.status == PENDING,
                 _TABLE.c.expires_at > now]
    if stage is not None:
        condition.append(_TABLE.c.stage == stage)
    return _change(update(_TABLE).where(*condition).values(status=status, updated_at=now,
                                                            **values),
                   announce=(reference, status))


def _change(statement: Any, announce: tuple[str, str] | None = None) -> bool:
    """Run one compare-and-set; when it made a payment final (``announce``: its
    reference and new status), write the webhook delivery in the same transaction and
    have it sent once that transaction is committed."""
    from portal.payments.sandbox import webhooks

    delivery_id = None
    with db.engine.begin() as conn:
        changed = conn.execute(statement).rowcount == 1
        if changed and announce is not None:
            delivery_id = webhooks.record_delivery(conn, *announce)
    if delivery_id is not None:
        webhooks.send_soon(delivery_id)
    return changed

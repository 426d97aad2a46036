"""Refunds at the sandbox: once per merchant's refund id, never more than was paid.

Like the sandbox's other writes, a refund runs in a transaction of its own. The amount is
taken off the payment by a compare-and-set that keeps ``refunded_amount`` at most
``amount``, and the refund row (unique on ``refund_id``) is written in the same
transaction: two refunds at once can never give back more than was paid, and the same
refund asked twice (a retry) is answered as the first time and refunds nothing more.
A refused refund is kept too, so that a retry is refused the same way.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from portal.database import utcnow
from portal.extensions import db
from portal.payments.providers import ProviderRefund
from portal.payments.sandbox.models import (
    REFUND_FAILED,
    REFUND_SUCCEEDED,
    SUCCEEDED,
    SandboxPayment,
    SandboxRefund,
)

_PAYMENTS = SandboxPayment.__table__
_REFUNDS = SandboxRefund.__table__
REFERENCE_PREFIX = "sbxr_"


class RefundIdReused(ValueError):
    """The refund id was used before for another payment or amount (a merchant's bug)."""


def _answer(row: object) -> ProviderRefund:
    if row.status == REFUND_SUCCEEDED:  # type: ignore[attr-defined]
        return ProviderRefund("succeeded", row.reference)  # type: ignore[attr-defined]
    return ProviderRefund("failed")


def _earlier(conn: Connection, refund_id: str, reference: str, amount: int) -> object | None:
    row = conn.execute(select(_REFUNDS).where(_REFUNDS.c.refund_id == refund_id)).first()
    if row is not None and (row.payment_reference, row.amount) != (reference, amount):
        raise RefundIdReused(f"refund id {refund_id!r} was used for another refund")
    return row


def refund(reference: str, amount: int, refund_id: str, *, declined: bool) -> ProviderRefund:
    """Give back ``amount`` cents of the succeeded payment ``reference``.

    ``declined`` refuses it as a bank might (``SANDBOX_PAYMENTS_REFUND_FAIL_RATE``).
    :raises RefundIdReused: ``refund_id`` was used with another payment or amount.
    """
    with db.engine.connect() as conn:
        earlier = _earlier(conn, refund_id, reference, amount)
    if earlier is not None:
        return _answer(earlier)
    now = utcnow()
    try:
        with db.engine.begin() as conn:
            payment = conn.execute(
                select(_PAYMENTS.c.status, _PAYMENTS.c.amount, _PAYMENTS.c.refunded_amount)
                .where(_PAYMENTS.c.reference == reference)
            ).first()
            failure = None
            if payment is None:
                failure = "not_found"
            elif payment.status != SUCCEEDED:
                failure = "not_succeeded"
            elif declined:
                failure = "declined"
            else:
                taken = conn.execute(
                    update(_PAYMENTS)
                    .where(_PAYMENTS.c.reference == reference,
                           _PAYMENTS.c.status == SUCCEEDED,
                           _PAYMENTS.c.refunded_amount + amount <= _PAYMENTS.c.amount)
                    .values(refunded_amount=_PAYMENTS.c.refunded_amount + amount,
                            updated_at=now)
                ).rowcount == 1
                if not taken:
                    failure = "exceeds_remaining"
            row = {"reference": REFERENCE_PREFIX + secrets.token_hex(12),
                   "refund_id": refund_id, "payment_reference": reference, "amount": amount,
                   "status": REFUND_FAILED if failure else REFUND_SUCCEEDED,
                   "failure_code": failure, "created_at": now}
            conn.execute(_REFUNDS.insert().values(**row))
    except IntegrityError:
        # The same refund id asked at the same moment: that one's transaction won, and
        # this one's (with its amount taken off) was rolled back whole.
        with db.engine.connect() as conn:
            earlier = _earlier(conn, refund_id, reference, amount)
        if earlier is None:
            raise
        return _answer(earlier)
    return ProviderRefund("failed") if failure else ProviderRefund("succeeded", row["reference"])

"""Voiding an issued receipt or credit note (one issued in error).

A voided document keeps its number, file and signature (the number is never reused and
the PDF never changes); only ``voided_at`` and ``void_reason`` are set, once, and the
verify page then tells anyone checking it not to accept it. The signed payload cannot say
so (it was signed before), which is why the verify page looks the receipt up.
"""

from __future__ import annotations

import logging

from sqlalchemy import update

from portal.database import utcnow
from portal.extensions import db
from portal.receipts.models import Receipt, ReceiptStatus

log = logging.getLogger("portal.receipts")

#: The most a reason may say (the ``void_reason`` column).
REASON_MAX_LENGTH = 500


class VoidRefused(Exception):
    """Why a receipt was not voided, in words for the person who asked."""


def void_receipt(receipt: Receipt, reason: str, actor: str) -> Receipt:
    """Void an issued receipt, once (compare-and-set on ``voided_at IS NULL``); commits.

    ``actor`` (who asked: a staff member's email, ``cli:<user>``) is logged with the
    reason, for the audit trail. Raises ``VoidRefused`` for a receipt not issued yet, one
    voided already, or a missing or too long reason.
    """
    reason = (reason or "").strip()
    if not reason:
        raise VoidRefused("a reason is required")
    if len(reason) > REASON_MAX_LENGTH:
        raise VoidRefused(f"the reason is too long (at most {REASON_MAX_LENGTH} characters)")
    if not (actor or "").strip():
        raise VoidRefused("who voids the receipt must be recorded")
    label = receipt.number or f"#{receipt.id}"
    voided = db.session.execute(
        update(Receipt)
        .where(Receipt.id == receipt.id, Receipt.status == ReceiptStatus.ISSUED.value,
               Receipt.voided_at.is_(None))
        .values(voided_at=utcnow(), void_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if voided != 1:
        db.session.rollback()
        db.session.refresh(receipt)
        if receipt.status != ReceiptStatus.ISSUED:
            raise VoidRefused(f"receipt {label} is not issued yet ({receipt.status}): only "
                              "an issued receipt can be voided")
        raise VoidRefused(f"receipt {label} was already voided at "
                          f"{receipt.voided_at:%Y-%m-%d %H:%M} UTC")
    db.session.commit()
    db.session.refresh(receipt)
    log.info("receipt %s voided by %s: %s", label, actor, reason)
    return receipt

"""Settling payments the citizen never came back from (reconciliation)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import shared_task
from sqlalchemy import select

from portal.extensions import db
from portal.payments import ledger
from portal.payments.models import Payment, PaymentState

log = logging.getLogger("portal.payments")


@dataclass
class Reconciled:
    checked: int = 0
    settled: int = 0
    expired: int = 0
    errors: int = 0


def reconcile_payments() -> Reconciled:
    """Ask the provider about every open payment; record what it says, expire late ones.

    Safe to run from several workers at once: every change is a compare-and-set, so a
    payment is settled once whoever gets there first.
    """
    result = Reconciled()
    open_ids = db.session.scalars(
        select(Payment.id).where(Payment.state.in_((PaymentState.CREATED.value,
                                                    PaymentState.STARTED.value)))
        .order_by(Payment.id)
    ).all()
    db.session.rollback()
    for payment_id in open_ids:
        payment = db.session.get(Payment, payment_id)
        if payment is None or payment.is_final:
            continue
        result.checked += 1
        try:
            ledger.settle(payment)
        except Exception as exc:  # noqa: BLE001 - one payment's problem stops no other
            db.session.rollback()
            result.errors += 1
            log.warning("could not reconcile payment %s: %s", payment.public_id,
                        type(exc).__name__)
            continue
        if payment.state == PaymentState.EXPIRED:
            result.expired += 1
        elif payment.is_final:
            result.settled += 1
    return result


@shared_task(name="portal.payments.tasks.reconcile_payments")
def reconcile() -> dict[str, int]:
    return vars(reconcile_payments())

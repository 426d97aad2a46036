"""Settling payments the citizen never came back from, and refunds the provider did not
answer (reconciliation)."""

from __future__ import annotations

import contextlib
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


@dataclass
class ReconciledRefunds:
    checked: int = 0
    succeeded: int = 0
    failed: int = 0
    errors: int = 0
    #: Still processing ``STUCK_AFTER`` after being asked for (each logged as an error).
    stuck: int = 0


def reconcile_refunds() -> ReconciledRefunds:
    """Ask the provider again about refunds left processing (it was down when asked).

    The same refund id goes to the provider, which treats it as the same refund; the
    answer is recorded by a compare-and-set, so once, whoever gets there first. There is
    no last attempt (the amount stays reserved until the provider answers, since the money
    may have moved), but a refund still processing ``STUCK_AFTER`` after it was asked for
    is logged as an error on every run, for a person to take up with the provider.
    """
    from portal.database import utcnow
    from portal.payments.models import Refund, RefundState
    from portal.payments.refunds import (
        STUCK_AFTER,
        RefundPending,
        send_refund,
        unfinished_refunds,
    )

    result = ReconciledRefunds()
    for refund_id in unfinished_refunds():
        row = db.session.get(Refund, refund_id)
        if row is None or row.state != RefundState.PROCESSING:
            continue
        result.checked += 1
        # Sent when approved (four eyes) or else when asked for: a refund that waited a
        # day for approval is not stuck the moment it is sent.
        public_id, asked_at = row.public_id, row.decided_at or row.created_at
        try:
            send_refund(row)
        except Exception as exc:  # noqa: BLE001 - one refund's problem stops no other
            db.session.rollback()
            result.errors += 1
            if not isinstance(exc, RefundPending):
                log.warning("could not reconcile refund %s: %s", public_id,
                            type(exc).__name__)
            if asked_at <= utcnow() - STUCK_AFTER:
                result.stuck += 1
                log.error("refund %s has been processing since %s: the provider has not "
                          "answered; ask it about refund id %s", public_id,
                          asked_at.isoformat(), public_id)
            continue
        if row.state == RefundState.SUCCEEDED:
            result.succeeded += 1
        elif row.state == RefundState.FAILED:
            result.failed += 1
    return result


#: The name the periodic job is registered under (``portal.jobs.BEAT_SCHEDULE``).
RECONCILE_TASK = "portal.payments.tasks.reconcile_payments_and_refunds"


@shared_task(name=RECONCILE_TASK)
def reconcile_payments_and_refunds() -> dict[str, int]:
    """The periodic job: refunds, then payments, each whatever happened to the other.

    Each half runs under its own guard, so that a fault in one (the database gone for a
    moment, a bug) never skips the other; its figures are then missing from the result
    and ``refunds_failed_to_run`` or ``payments_failed_to_run`` is 1.
    """
    figures: dict[str, int] = {}
    for prefix, run in (("refunds_", reconcile_refunds), ("", reconcile_payments)):
        try:
            done = run()
        except Exception:  # noqa: BLE001 - logged with its traceback; the other half runs
            with contextlib.suppress(Exception):  # the database itself may be the fault
                db.session.rollback()
            log.exception("reconciliation of %s stopped",
                          "refunds" if prefix else "payments")
            figures[f"{prefix or 'payments_'}failed_to_run"] = 1
            continue
        figures.update({f"{prefix}{name}": count for name, count in vars(done).items()})
    return figures

"""Giving money back on a succeeded payment, in full or in part, by a member of staff.

A refund happens in two steps so that no lock is held while the provider works:

1. ``reserve_refund`` raises the payment's ``refunded_amount`` by one compare-and-set
   that lets through only what remains (``refunded_amount + amount <= amount`` on a
   succeeded payment), and inserts the refund (``processing``) in the same transaction,
   which is committed at once. Two staff refunding at once cannot exceed the payment:
   the database lets the second reservation through only if the first left room for it.
2. ``send_refund`` asks the payment's own provider, with the refund's ``public_id`` as
   the idempotency key, and records its answer by a compare-and-set on the refund's
   state, so the answer is recorded once whoever gets there first (a staff request, or
   ``reconcile_refunds`` asking again later when the provider was down).

The provider's answer is one of three (see ``PaymentProvider.refund``): a
``ProviderRefund`` (succeeded, or failed: refused), an exception meaning "refused for good"
(``PERMANENT_REFUND_ERRORS``: a bad request, an unknown payment, a reused refund id),
after which the refund fails and its amount is released, or any other exception ("try
again": a network fault, an outage), after which it stays processing with its amount
reserved. A refund still processing ``STUCK_AFTER`` after it was asked for is logged as an
error on every reconciliation run, for a person to look into.

Four eyes: a refund of more than its department's ``refund_approval_threshold`` is
reserved as in step 1 but in state ``needs_approval``, so that nobody can over-refund
meanwhile, and is not sent. Another member of staff with the right to approve, never the
one who asked, then either approves it (``approve_refund``: a compare-and-set to
``processing``, then step 2 as usual) or declines it (``decline_refund``: a
compare-and-set to ``declined`` that releases the amount, once, like a refusal).
Reconciliation never touches a refund waiting for approval: it has not been sent.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal.applications.models import ApplicationEvent
from portal.audit import log as audit
from portal.database import utcnow
from portal.extensions import db
from portal.identity.models import Department, User
from portal.payments.ledger import provider_of
from portal.payments.models import REFUND_MOVES, Payment, PaymentState, Refund, RefundState
from portal.payments.providers import PERMANENT_REFUND_ERRORS
from portal.payments.states import compare_and_set

log = logging.getLogger("portal.payments")

#: The longest reason a refund may carry (the column's length).
REASON_MAX_LENGTH = 500
#: What a refund id (the provider's idempotency key) looks like.
REFUND_ID = re.compile(r"^[0-9a-f]{32}$")
#: The action of the application event recorded when a refund succeeds.
REFUNDED_ACTION = "refunded"
#: The action of the (staff-only) application event recorded when a refund is declined.
DECLINED_ACTION = "refund_declined"
#: A refund still processing this long after it was last touched is asked about again by
#: reconciliation (a staff request may be asking the provider right now).
RETRY_AFTER = timedelta(minutes=2)
#: A refund still processing this long after it was asked for is logged as an error on
#: every reconciliation run: the provider has not answered for a day (no column counts
#: the attempts; the age says as much, since reconciliation asks every few minutes).
STUCK_AFTER = timedelta(hours=24)


class RefundRefused(Exception):  # noqa: N818 - reads as the outcome
    """Nothing was reserved or sent; the message says why (for logs, not people)."""


class NotRefundable(RefundRefused):
    """The payment did not succeed, so there is nothing to give back."""


class MoreThanRemains(RefundRefused):
    """The amount is more than what remains of the payment (``remaining`` cents)."""

    def __init__(self, remaining: int) -> None:
        self.remaining = remaining
        super().__init__(f"at most {remaining} cents remain")


class DuplicateRefund(RefundRefused):
    """The refund id was already used for a different refund."""


class RefundPending(Exception):
    """The provider could not be reached: the refund stays processing (the amount stays
    reserved) and reconciliation asks again with the same refund id later."""

    def __init__(self, refund: Refund) -> None:
        self.refund = refund
        super().__init__(f"refund {refund.public_id} is still processing")


class IllegalRefundMove(Exception):
    """A refund cannot go from its state to the one asked (a final state never changes)."""


class NotYourDecision(RefundRefused):
    """This member of staff may not approve or decline this refund."""


class OwnRefund(NotYourDecision):
    """Four eyes: the person who asked for a refund never approves or declines it."""


class AlreadyDecided(Exception):  # noqa: N818 - reads as the outcome
    """Someone decided first (or the refund never needed a decision): ``refund`` is the
    row as it is now, with ``state`` and ``decided_by_id`` telling who did what."""

    def __init__(self, refund: Refund) -> None:
        self.refund = refund
        super().__init__(f"refund {refund.public_id} is already {refund.state}")


def refund(payment: Payment, amount: int, reason: str, staff: User, *,
           refund_id: str | None = None) -> Refund:
    """Give back ``amount`` cents of ``payment`` for ``reason``, asked by ``staff``.

    Returns the refund, succeeded or failed as the provider said, or waiting for approval
    (reserved, not sent) when the amount is above the department's threshold.
    ``refund_id`` (the confirmation form's nonce) makes a repeated submission return the
    first refund.

    :raises ValueError: the amount is not a positive whole number of cents, or the
        reason is empty or too long.
    :raises NotRefundable: the payment did not succeed.
    :raises MoreThanRemains: the amount is more than what remains.
    :raises RefundPending: the provider could not be reached; the refund stays processing.
    """
    reserved = reserve_refund(payment, amount, reason, staff, refund_id=refund_id)
    if reserved.state != RefundState.PROCESSING:
        return reserved  # waiting for approval, or a repeated submission already answered
    return send_refund(reserved)


def approval_threshold(payment: Payment) -> int | None:
    """Cents above which a refund of ``payment`` needs a second person (None: never)."""
    return db.session.scalar(
        select(Department.refund_approval_threshold)
        .where(Department.code == payment.application.department))


def needs_approval(payment: Payment, amount: int) -> bool:
    """Whether a refund of ``amount`` takes what is given back on the payment (this and
    every refund before it, sent or waiting) above the department's threshold: refunds
    split into parts under the threshold still need the second person."""
    threshold = approval_threshold(payment)
    return threshold is not None and payment.refunded_amount + amount > threshold


def reserve_refund(payment: Payment, amount: int, reason: str, staff: User, *,
                   refund_id: str | None = None) -> Refund:
    """Reserve ``amount`` on ``payment`` and record the refund; committed.

    The refund is processing (to be sent), or waiting for approval when the amount is
    above the department's threshold: reserved all the same, so that nobody else can
    refund it meanwhile.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("a refund is a positive whole number of cents")
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX_LENGTH:
        raise ValueError(f"a refund needs a reason of 1 to {REASON_MAX_LENGTH} characters")
    if refund_id is None:
        refund_id = secrets.token_hex(16)
    elif not REFUND_ID.match(refund_id):
        raise ValueError("a refund id is 32 lower-case hexadecimal characters")
    db.session.commit()  # nothing of the caller's is left pending in this transaction
    existing = _refund_with_id(refund_id)
    if existing is not None:
        return _same_refund(existing, payment, amount, staff)
    threshold = approval_threshold(payment)
    waits = False  # decided below, on the total as reserved (see needs_approval)
    now = utcnow()
    row = Refund(public_id=refund_id, payment_id=payment.id, amount=amount, reason=reason,
                 state=RefundState.NEEDS_APPROVAL if waits else RefundState.PROCESSING,
                 requested_by_id=staff.id, created_at=now, updated_at=now)
    try:
        db.session.add(row)
        db.session.flush()  # a second submission of the same form stops here
        reserved = db.session.execute(
            update(Payment)
            .where(Payment.id == payment.id,
                   Payment.state == PaymentState.SUCCEEDED.value,
                   Payment.refunded_amount + amount <= Payment.amount)
            .values(refunded_amount=Payment.refunded_amount + amount, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    except IntegrityError:
        db.session.rollback()
        existing = _refund_with_id(refund_id)
        if existing is None:
            raise
        return _same_refund(existing, payment, amount, staff)
    if reserved != 1:
        db.session.rollback()
        db.session.refresh(payment)
        if payment.state != PaymentState.SUCCEEDED:
            raise NotRefundable(f"payment {payment.public_id} is {payment.state}")
        raise MoreThanRemains(payment.refundable_amount)
    # The total given back, this refund included, read under the row lock the update
    # took: two parts asked for at the same moment see each other.
    total = db.session.scalar(select(Payment.refunded_amount).where(Payment.id == payment.id))
    waits = threshold is not None and total > threshold
    if waits:
        row.state = RefundState.NEEDS_APPROVAL
    audit.record("refund.requested", actor=staff, target=row,
                 department=payment.application.department,
                 details={"amount": amount, "payment": payment.public_id})
    if waits:
        audit.record("refund.sent_for_approval", actor=staff, target=row,
                     department=payment.application.department,
                     details={"amount": amount, "payment": payment.public_id,
                              "threshold": threshold})
    # Committed before the provider is called: no lock is held while it works.
    db.session.commit()
    db.session.refresh(payment)
    log.info("refund %s of %d cents reserved on payment %s by user %s%s", row.public_id,
             amount, payment.public_id, staff.id, " (waiting for approval)" if waits else "")
    return row


def _refund_with_id(refund_id: str) -> Refund | None:
    return db.session.scalar(select(Refund).where(Refund.public_id == refund_id))


def _same_refund(existing: Refund, payment: Payment, amount: int, staff: User) -> Refund:
    """A repeated submission gets its first refund back; anything else is refused."""
    if (existing.payment_id, existing.amount, existing.requested_by_id) != (
            payment.id, amount, staff.id):
        raise DuplicateRefund(f"refund id {existing.public_id} is taken")
    return existing


def _check_decider(row: Refund, staff: User) -> None:
    """Four eyes, in the domain and not only in the view: another person, with the right
    to approve refunds, of the department handling the refund's application."""
    from portal.backoffice.access import Permission, can

    if row.requested_by_id is not None and row.requested_by_id == staff.id:
        raise OwnRefund(f"user {staff.id} asked for refund {row.public_id}")
    department = staff.department
    if (not can(staff, Permission.APPROVE_REFUNDS) or department is None
            or department.code != row.payment.application.department):
        raise NotYourDecision(f"user {staff.id} may not decide refund {row.public_id}")


def _waiting(row: Refund) -> None:
    if row.state != RefundState.NEEDS_APPROVAL:
        raise AlreadyDecided(row)


def approve_refund(row: Refund, staff: User) -> Refund:
    """``staff`` approves a refund waiting for approval, which is then sent at once (as
    ``send_refund``, with the refund's id as the provider's idempotency key).

    :raises OwnRefund: ``staff`` asked for it.
    :raises NotYourDecision: ``staff`` may not approve refunds of its department.
    :raises AlreadyDecided: someone approved or declined it first.
    :raises RefundPending: approved, but the provider could not be reached; the refund
        stays processing and reconciliation sends it later.
    """
    _check_decider(row, staff)
    _waiting(row)
    if not move_refund(row, RefundState.PROCESSING, decided_by_id=staff.id,
                       decided_at=utcnow()):
        db.session.commit()
        raise AlreadyDecided(row)
    payment = row.payment
    _tell_requester(row, staff, approved=True)
    audit.record("refund.approved", actor=staff, target=row,
                 department=payment.application.department,
                 details={"amount": row.amount, "payment": payment.public_id,
                          "requested_by": row.requested_by_id})
    db.session.commit()  # approved whatever the provider says next
    log.info("refund %s approved by user %s", row.public_id, staff.id)
    return send_refund(row)


def _tell_requester(row: Refund, staff: User, *, approved: bool,
                    reason: str | None = None) -> None:
    """Email the person who asked for the refund, in their language, what was decided
    (in the decision's transaction, through the outbox)."""
    from portal.i18n import format_hkd
    from portal.identity.util import email_user
    from portal.notifications.outbox import external_url

    requester = db.session.get(User, row.requested_by_id) if row.requested_by_id else None
    if requester is None or not requester.is_active:
        return
    locale = requester.preferred_language
    reference = row.payment.application.reference
    email_user(requester, "backoffice/refund_decided", approved=approved,
               amount=format_hkd(row.amount, locale), reference=reference,
               decider=staff.display_name(locale), reason=reason,
               link=external_url("backoffice.application_payments", reference=reference))


def decline_refund(row: Refund, staff: User, reason: str) -> Refund:
    """``staff`` declines a refund waiting for approval, for ``reason``: its amount is
    released (once: only the move that wins releases) and the case's timeline says so
    (an entry for staff only).

    :raises ValueError: the reason is empty or too long.
    :raises OwnRefund: ``staff`` asked for it.
    :raises NotYourDecision: ``staff`` may not decline refunds of its department.
    :raises AlreadyDecided: someone approved or declined it first.
    """
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX_LENGTH:
        raise ValueError(f"declining needs a reason of 1 to {REASON_MAX_LENGTH} characters")
    _check_decider(row, staff)
    _waiting(row)
    now = utcnow()
    if not move_refund(row, RefundState.DECLINED, decided_by_id=staff.id, decided_at=now,
                       decline_reason=reason, completed_at=now):
        db.session.commit()
        raise AlreadyDecided(row)
    _release(row)
    application = row.payment.application
    db.session.add(ApplicationEvent(
        application_id=application.id, action=DECLINED_ACTION,
        from_state=application.state, to_state=application.state, actor_role=staff.role,
        actor_id=staff.id, note=f"{refund_note(row.amount)}: {reason}", internal=True))
    _tell_requester(row, staff, approved=False, reason=reason)
    audit.record("refund.declined", actor=staff, target=row,
                 department=application.department,
                 details={"amount": row.amount, "payment": row.payment.public_id,
                          "requested_by": row.requested_by_id})
    db.session.commit()
    db.session.refresh(row.payment)
    log.info("refund %s declined by user %s; %d cents released", row.public_id, staff.id,
             row.amount)
    return row


def waiting_for_approval(department: str, limit: int) -> tuple[list[Refund], int]:
    """The department's refunds waiting for approval, oldest first (at most ``limit``),
    and how many there are in all."""
    from sqlalchemy import func
    from sqlalchemy.orm import selectinload

    from portal.applications.models import Application

    waiting = (select(Refund).join(Payment, Payment.id == Refund.payment_id)
               .join(Application, Application.id == Payment.application_id)
               .where(Refund.state == RefundState.NEEDS_APPROVAL.value,
                      Application.department == department))
    # The page names each refund's application and applicant: loaded in three queries.
    rows = list(db.session.scalars(
        waiting.options(selectinload(Refund.payment).selectinload(Payment.application)
                        .selectinload(Application.user))
        .order_by(Refund.created_at, Refund.id).limit(limit)))
    total = len(rows)
    if total == limit:
        total = db.session.scalar(select(func.count()).select_from(waiting.subquery()))
    return rows, total


def send_refund(row: Refund) -> Refund:
    """Ask the payment's provider to give the refund back and record its answer (once).

    A refusal, or an exception in ``PERMANENT_REFUND_ERRORS``, fails the refund and
    releases its amount (once, whoever records it).

    :raises RefundPending: the provider could not be reached (or is not installed);
        nothing changed.
    """
    if row.state != RefundState.PROCESSING:
        return row
    payment = row.payment
    try:
        provider = provider_of(payment)
    except LookupError as exc:
        # The provider's plugin is missing (not loaded, disabled): a fault of this
        # installation, mended by a person, after which reconciliation sends the refund.
        db.session.rollback()
        log.error("refund %s: %s", row.public_id, exc)
        raise RefundPending(row) from exc
    try:
        answer = provider.refund(payment.provider_reference, row.amount, row.public_id)
    except PERMANENT_REFUND_ERRORS as exc:
        db.session.rollback()
        log.error("refund %s was refused for good by provider %s: %s: %s", row.public_id,
                  payment.provider, type(exc).__name__, exc)
        _record_failure(row)
        return row
    except Exception as exc:
        db.session.rollback()
        log.warning("refund %s could not reach the provider: %s", row.public_id,
                    type(exc).__name__)
        raise RefundPending(row) from exc
    if answer.status == "succeeded":
        _record_success(row, answer.reference)
    else:
        _record_failure(row)
    return row


def move_refund(row: Refund, target: RefundState, **values: Any) -> bool:
    """Move ``row`` to ``target`` if it is still in the state read (compare-and-set).

    Returns False when another request moved it first (the object is then refreshed).
    """
    return compare_and_set(row, REFUND_MOVES, target, IllegalRefundMove,
                           updated_at=utcnow(), **values)


def _record_success(row: Refund, provider_reference: str | None) -> None:
    """Succeeded: the credit note is asked for and the timeline told, in one transaction."""
    from portal.receipts.issue import request_credit_note

    now = utcnow()
    if not move_refund(row, RefundState.SUCCEEDED, completed_at=now,
                       provider_reference=provider_reference):
        db.session.commit()
        return  # recorded by another request meanwhile
    request_credit_note(row)
    _add_refund_event(row)
    audit.record("refund.succeeded", target=row, department=row.payment.application.department,
                 details={"amount": row.amount, "payment": row.payment.public_id})
    db.session.commit()
    log.info("refund %s succeeded", row.public_id)


def _record_failure(row: Refund) -> None:
    """Failed: the reserved amount is released, once (only the move that wins releases)."""
    if not move_refund(row, RefundState.FAILED, completed_at=utcnow()):
        db.session.commit()
        return
    _release(row)
    audit.record("refund.failed", target=row, department=row.payment.application.department,
                 details={"amount": row.amount, "payment": row.payment.public_id})
    db.session.commit()
    db.session.refresh(row.payment)
    log.warning("refund %s was refused by the provider; %d cents released", row.public_id,
                row.amount)


def _release(row: Refund) -> None:
    """Give the payment back the amount ``row`` reserved; only after the move to a final
    state without money moving (failed, declined) was won, so once."""
    db.session.execute(
        update(Payment).where(Payment.id == row.payment_id)
        .values(refunded_amount=Payment.refunded_amount - row.amount, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def refund_note(amount: int) -> str:
    """The event's note: the amount, written the same in both languages (``HK$50.00``)."""
    from portal.i18n import ENGLISH, format_hkd

    return format_hkd(amount, ENGLISH)


def _add_refund_event(row: Refund) -> None:
    """An entry in the application's timeline; the application's state does not change."""
    application = row.payment.application
    staff = db.session.get(User, row.requested_by_id) if row.requested_by_id else None
    db.session.add(ApplicationEvent(
        application_id=application.id, action=REFUNDED_ACTION,
        from_state=application.state, to_state=application.state,
        actor_role=staff.role if staff is not None else "system",
        actor_id=staff.id if staff is not None else None,
        note=refund_note(row.amount),
    ))


def refunds_of(payments: list[Payment]) -> list[Refund]:
    """Every refund of ``payments``, newest first."""
    ids = [payment.id for payment in payments]
    if not ids:
        return []
    return list(db.session.scalars(
        select(Refund).where(Refund.payment_id.in_(ids))
        .order_by(Refund.created_at.desc(), Refund.id.desc())
    ))


def unfinished_refunds(retry_after: timedelta = RETRY_AFTER) -> list[int]:
    """Ids of refunds still processing and untouched for ``retry_after``."""
    cutoff = utcnow() - retry_after
    ids = db.session.scalars(
        select(Refund.id).where(Refund.state == RefundState.PROCESSING.value,
                                Refund.updated_at <= cutoff)
        .order_by(Refund.id)
    ).all()
    db.session.rollback()
    return list(ids)

"""Asking for receipts and issuing each exactly once.

``request_receipt`` / ``request_credit_note`` add a pending ``Receipt`` to the transaction
of their cause (a payment that succeeded, a refund that completed); issued documents (a
renewed licence) come the same way from ``documents.request_documents`` in the approving
transaction. The row is the outbox entry of the document, unique per cause. After commit a
job (``issue_receipt``) takes it:

1. claims the row (compare-and-set on ``claimed_until``), so one worker works on it;
2. numbers it in one short transaction (``numbering.take_number``), never again after;
3. signs it, renders the PDF, stores the bytes, and in one transaction moves it to
   issued (compare-and-set on status numbered) and queues the citizen's email.

A crash anywhere leaves a pending or numbered row that the sweep (``issue_due``) takes up
again with back-off; a render that lost its compare-and-set deletes its file.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import datetime, timedelta

from flask import current_app, has_request_context
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from portal.applications.models import Application
from portal.database import utcnow
from portal.extensions import db
from portal.i18n import LOCALES
from portal.jobs import Sweep
from portal.payments.models import Payment, Refund
from portal.receipts import numbering, storage
from portal.receipts.models import Receipt, ReceiptKind, ReceiptStatus

log = logging.getLogger("portal.receipts")

_PENDING_KEY = "portal_receipts_pending"
#: How long a worker may hold a receipt before another may take it over (a render takes
#: well under a second; this covers a slow machine, not a crashed worker's wait).
CLAIM_SECONDS = 300
#: With no Celery beat (the embedded default), lost and failed jobs are retried at most
#: this often, riding along with new receipts and with any request that commits;
#: `portal receipts issue-pending` and beat do the same on their own schedule.
#: How many a ride-along catch-up issues at most: it holds a server thread (after the
#: response when in a request), each render a fraction of a second.
EAGER_SWEEP_LIMIT = 10
#: How many a beat or CLI sweep issues at most.
SWEEP_LIMIT = 100
#: In the embedded default, due receipts are retried at most once a minute.
SWEEP = Sweep(60.0)
_sweeping = threading.local()
_OPEN = (ReceiptStatus.PENDING.value, ReceiptStatus.NUMBERED.value)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes between attempts, at most six hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


# --- asking ------------------------------------------------------------------------------


def request_receipt(payment: Payment) -> Receipt:
    """The receipt of a payment that succeeded, added to the current transaction (once)."""
    application = payment.application
    return _request(
        cause=f"payment:{payment.id}", kind=ReceiptKind.RECEIPT, payment=payment,
        refund=None, amount=payment.amount, department=application.department,
        locale=citizen_locale(application),
    )


def request_credit_note(refund: Refund) -> Receipt:
    """The credit note of a refund that completed, added to the current transaction (once)."""
    payment = refund.payment
    return _request(
        cause=f"refund:{refund.id}", kind=ReceiptKind.CREDIT_NOTE, payment=payment,
        refund=refund, amount=refund.amount, department=payment.application.department,
        locale=citizen_locale(payment.application),
    )


def citizen_locale(application: Application) -> str:
    """The language the citizen's emails use: their preference, else the application's."""
    preferred = getattr(application.user, "preferred_language", None)
    if preferred in LOCALES:
        return str(preferred)
    return application.locale if application.locale in LOCALES else LOCALES[0]


def _request(*, cause: str, kind: ReceiptKind, payment: Payment | None,
             refund: Refund | None, amount: int, department: str, locale: str,
             application: Application | None = None, series: str | None = None,
             created_at: datetime | None = None) -> Receipt:
    """The pending row of ``cause`` (inserted once, however often or concurrently asked);
    an issued document has no payment but its ``application`` and a preset ``series``."""
    existing = db.session.scalar(select(Receipt).where(Receipt.cause == cause))
    if existing is not None:
        return existing
    now = created_at or utcnow()
    # Another transaction asking for the same document (the unique cause) makes this
    # insert wait for it and then do nothing: one document per cause, and no error.
    inserted = numbering.insert_unless_present(
        Receipt, "cause", public_id=secrets.token_hex(16), cause=cause, kind=kind.value,
        status=ReceiptStatus.PENDING.value,
        payment_id=payment.id if payment is not None else None,
        application_id=application.id if application is not None else None,
        refund_id=refund.id if refund is not None else None, department=department,
        locale=locale, amount=amount,
        currency=payment.currency if payment is not None else "HKD", series=series,
        attempts=0, next_attempt_at=now, created_at=now,
    )
    receipt = db.session.scalars(select(Receipt).where(Receipt.cause == cause)).one()
    if inserted:
        db.session.info.setdefault(_PENDING_KEY, []).append(receipt.id)
    return receipt


@event.listens_for(Session, "after_commit")
def _issue_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    from portal.jobs import enqueue

    for receipt_id in pending or ():
        enqueue("portal.receipts.tasks.issue_receipt", receipt_id)
    if pending or has_request_context():
        _catch_up_soon()


def _catch_up_soon() -> None:
    """In the embedded default (no beat), retry due receipts at most once a minute.

    It rides along with new receipts and with any request that commits (as the email
    outbox's retries do). Inside a request it runs after the response is sent, so no
    citizen waits for other citizens' receipts; elsewhere (a CLI command, a job) it runs
    at once. Either way at most ``EAGER_SWEEP_LIMIT`` renders.
    """
    from portal.jobs import after_response, is_eager

    if getattr(_sweeping, "active", False) or not is_eager() or not SWEEP.take():
        return
    after_response(_run_catch_up)


def _run_catch_up() -> None:
    from portal.jobs import enqueue

    _sweeping.active = True
    try:
        enqueue("portal.receipts.tasks.issue_due_receipts", EAGER_SWEEP_LIMIT)
    finally:
        _sweeping.active = False


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


# --- issuing -----------------------------------------------------------------------------


def claim(receipt_id: int) -> bool:
    """Take a due, unfinished receipt for this worker (compare-and-set) and commit."""
    now = utcnow()
    db.session.rollback()  # a fresh transaction: nothing read before the claim
    claimed = db.session.execute(
        update(Receipt)
        .where(
            Receipt.id == receipt_id,
            Receipt.status.in_(_OPEN),
            Receipt.next_attempt_at <= now,
            or_(Receipt.claimed_until.is_(None), Receipt.claimed_until < now),
        )
        .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
                attempts=Receipt.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def issue_receipt(receipt_id: int) -> str | None:
    """Issue one receipt; returns its status afterwards, or None if it was not ours to
    issue (not due, held by another worker, or already issued)."""
    if not claim(receipt_id):
        return None
    try:
        receipt = _numbered(receipt_id)
        if receipt is None or _render_and_finish(receipt) is None:
            return None
    except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
        db.session.rollback()  # (a file already stored was deleted by its writer)
        return _record_failure(receipt_id, exc)
    log.info("receipt %s issued", receipt_id)
    return ReceiptStatus.ISSUED.value


def _numbered(receipt_id: int) -> Receipt | None:
    """The receipt with its number (taking one if it has none yet)."""
    receipt = db.session.get(Receipt, receipt_id)
    if receipt is None or receipt.status == ReceiptStatus.ISSUED:
        return None
    if receipt.status == ReceiptStatus.PENDING:
        # A document's series was set when it was asked for (its service's code).
        series = receipt.series or numbering.series_for(
            receipt.department, receipt.kind, _moment_of(receipt))
        db.session.rollback()  # numbering starts its own short transaction
        numbering.take_number(receipt_id, series)  # None: numbered meanwhile, by another
        receipt = db.session.get(Receipt, receipt_id)
        db.session.refresh(receipt)
        if receipt.status != ReceiptStatus.NUMBERED:
            return None
    return receipt


def _moment_of(receipt: Receipt) -> datetime:
    """The moment whose fiscal year numbers the document: payment success, refund done,
    or (an issued document) when it was asked for."""
    if receipt.payment is None:
        return receipt.created_at
    if receipt.kind == ReceiptKind.CREDIT_NOTE and receipt.refund is not None:
        return receipt.refund.completed_at or receipt.refund.updated_at
    return receipt.payment.succeeded_at or receipt.payment.updated_at


def _render_and_finish(receipt: Receipt) -> storage.StoredFile | None:
    """Sign, render, store, then move to issued and queue the email in one transaction.

    No transaction is open while WeasyPrint runs (hundreds of milliseconds): the first
    signing key, if there is none yet, is created and committed first; everything the page
    needs is read; then the transaction ends before the render. The receipt is detached
    from the session meanwhile: the values set on it reach the database only through the
    final compare-and-set, never through a flush (another worker may have issued it).
    """
    from portal.receipts import render, signing

    receipt_id = receipt.id
    signing.active_key()  # may insert the first key: committed now, not held open
    db.session.commit()
    receipt = db.session.get(Receipt, receipt_id)
    if receipt is None or receipt.status != ReceiptStatus.NUMBERED:
        db.session.rollback()
        return None
    _ = (receipt.owning_application().user, receipt.payment, receipt.refund)  # loaded now
    db.session.expunge(receipt)
    receipt.issued_at = utcnow()
    signing.sign_receipt(receipt)
    document = render.prepare_receipt(receipt)
    db.session.rollback()  # read only: nothing to keep, and nothing open during the render
    pdf = render.render_prepared(document)
    stored = storage.store(pdf)
    try:
        finished = db.session.execute(
            update(Receipt)
            .where(Receipt.id == receipt.id, Receipt.status == ReceiptStatus.NUMBERED.value)
            .values(status=ReceiptStatus.ISSUED.value, issued_at=receipt.issued_at,
                    short_code=receipt.short_code, key_id=receipt.key_id,
                    signed_payload=receipt.signed_payload, storage_key=stored.key,
                    sha256=stored.sha256, size=stored.size, claimed_until=None,
                    last_error=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if finished != 1:  # issued meanwhile by a worker whose claim we outlived
            db.session.rollback()
            storage.delete(stored.key)
            return None
        _queue_email(receipt)  # in the same transaction: one email per receipt
        db.session.commit()
    except BaseException:
        db.session.rollback()
        storage.delete(stored.key)
        raise
    return stored


def _queue_email(receipt: Receipt) -> object:
    from portal.i18n import force_locale, format_hkd
    from portal.notifications.outbox import queue_email
    from portal.plugins.manager import services
    from portal.public_urls import document_url

    if receipt.is_document:
        from portal.receipts.documents import queue_document_email

        return queue_document_email(receipt)
    application = receipt.owning_application()
    user = application.user
    definition = services(current_app).active.get(application.service)
    with force_locale(receipt.locale):
        service_title = str(definition.title) if definition is not None else application.service
        amount = format_hkd(receipt.amount, receipt.locale)
    kind = "receipts/credit_note" if receipt.kind == ReceiptKind.CREDIT_NOTE else "receipts/receipt"
    email = queue_email(
        recipient=user.email, kind=kind, locale=receipt.locale, user_id=user.id,
        application_id=application.id, name=user.display_name(receipt.locale),
        number=receipt.number, amount=amount,
        service_title=service_title, reference=application.reference,
        link=document_url("applications.detail", reference=application.reference),
    )
    email.receipt_id = receipt.id
    return email


def _record_failure(receipt_id: int, exc: Exception) -> str | None:
    """Keep the failure on the row and set the next attempt (the number, if any, stays)."""
    message = f"{type(exc).__name__}: {exc}"[:500]
    receipt = db.session.get(Receipt, receipt_id)
    if receipt is None:
        return None
    db.session.execute(
        update(Receipt)
        .where(Receipt.id == receipt_id, Receipt.status.in_(_OPEN))
        .values(last_error=message, claimed_until=None,
                next_attempt_at=utcnow() + backoff(receipt.attempts))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.warning("receipt %s attempt %s failed: %s", receipt_id, receipt.attempts, message)
    db.session.refresh(receipt)
    return receipt.status


def issue_due(limit: int = SWEEP_LIMIT) -> int:
    """Issue every due receipt (a lost job, a failure whose back-off is over); a count."""
    now = utcnow()
    ids = db.session.scalars(
        select(Receipt.id)
        .where(
            Receipt.status.in_(_OPEN),
            Receipt.next_attempt_at <= now,
            or_(Receipt.claimed_until.is_(None), Receipt.claimed_until < now),
        )
        .order_by(Receipt.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    return sum(1 for receipt_id in ids if issue_receipt(receipt_id) == ReceiptStatus.ISSUED)

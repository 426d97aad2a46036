"""Starting and settling payments. Every change of state is a compare-and-set.

A payment is created for an application awaiting payment, with the fee fixed at
submission. The pay button's nonce makes repeated or parallel clicks one payment, and an
application has at most one open payment (``open_for``), so a second tab resumes the
first. The outcome is taken only from the provider (``settle``), never from the browser.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.applications import engine
from portal.applications.models import Application
from portal.crypto import token_digest
from portal.database import utcnow
from portal.extensions import db
from portal.payments.models import FINAL_STATES, PAYMENT_MOVES, Payment, PaymentState
from portal.payments.providers import PaymentRequest, current_provider, providers
from portal.payments.states import compare_and_set
from portal.plugins.service import AWAITING_PAYMENT, PAYMENT_RECEIVED, IllegalTransition

log = logging.getLogger("portal.payments")

#: What the provider's answer means for the ledger.
_OUTCOMES = {
    "succeeded": PaymentState.SUCCEEDED,
    "failed": PaymentState.FAILED,
    "cancelled": PaymentState.CANCELLED,
    "expired": PaymentState.EXPIRED,
}


class IllegalPaymentMove(Exception):
    """A payment cannot go from its state to the one asked (a final state never changes)."""


class PaymentUnavailable(Exception):
    """The provider could not open a payment; nothing was recorded."""


def token_matches(payment: Payment, token: str) -> bool:
    return hmac.compare_digest(payment.return_token_digest, token_digest(token or ""))


def move(payment: Payment, target: PaymentState, **values: Any) -> bool:
    """Move ``payment`` to ``target`` if it is still in the state read.

    Raises ``IllegalPaymentMove`` for a move the state machine forbids; returns False
    when another request moved it first (the object is then refreshed).
    """
    changes: dict[str, Any] = {"updated_at": utcnow(), **values}
    if target in FINAL_STATES:
        changes["open_for"] = None
    if target is PaymentState.SUCCEEDED:
        changes["succeeded_at"] = changes["updated_at"]
    return compare_and_set(payment, PAYMENT_MOVES, target, IllegalPaymentMove, **changes)


def open_payment(application: Application) -> Payment | None:
    return db.session.scalar(select(Payment).where(Payment.open_for == application.id))


def payments_of(application: Application) -> list[Payment]:
    return list(db.session.scalars(
        select(Payment).where(Payment.application_id == application.id)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
    ))


#: A payment with no provider reference this long after it was made was abandoned (the
#: process opening it died): it is recorded as failed, and the citizen can pay again.
ABANDONED_AFTER = timedelta(minutes=2)


def _expire_if_late(payment: Payment) -> None:
    """Only for a payment the provider was asked about (or never heard of)."""
    if payment.is_final:
        return
    now = utcnow()
    if payment.provider_reference is None and payment.created_at <= now - ABANDONED_AFTER:
        move(payment, PaymentState.FAILED)
    elif payment.expires_at <= now:
        move(payment, PaymentState.EXPIRED)


def provider_of(payment: Payment) -> Any:
    """The provider that holds ``payment`` (never another one).

    :raises LookupError: that provider is not installed (any more).
    """
    found = providers(current_app).get(payment.provider)
    if found is None:
        raise LookupError(f"payment provider {payment.provider!r} is not installed")
    return found


def start_payment(application: Application, nonce: str, *, description: str,
                  locale: str, _again: bool = True) -> Payment:
    """The application's open payment, or a new one opened at the provider.

    Safe under repeated and parallel clicks and second tabs: any open payment of the
    application is given back instead of a second one. A payment past its time is settled
    with its provider first (the citizen may have paid it), never just dropped. Returns a
    succeeded payment when it turns out the fee was paid.
    """
    from portal.notifications.outbox import external_url

    existing = open_payment(application)
    if existing is not None:
        if existing.provider_reference is not None and existing.expires_at <= utcnow():
            existing = settle(existing)  # asks the provider; expires it only if unpaid
        else:
            _expire_if_late(existing)
            db.session.commit()
        if existing.state == PaymentState.SUCCEEDED:
            return existing
        if not existing.is_final:
            if existing.provider_url is None:  # another click is opening it right now
                db.session.rollback()
                return _wait_for_the_winner(application, nonce, description, locale, _again)
            return existing
    try:
        provider = current_provider(current_app)
    except LookupError as exc:
        log.error("payments are unavailable: %s", exc)
        raise PaymentUnavailable from exc
    token = secrets.token_urlsafe(32)
    payment = Payment(
        public_id=secrets.token_hex(16),
        application_id=application.id,
        nonce=nonce[:64],
        open_for=application.id,
        amount=application.fee_amount,
        currency=application.fee_currency,
        provider=provider.name,
        return_token_digest=token_digest(token),
        expires_at=utcnow() + timedelta(minutes=current_app.config["PAYMENT_EXPIRY_MINUTES"]),
    )
    try:
        with db.session.begin_nested():
            db.session.add(payment)
            db.session.flush()
    except IntegrityError:
        # Another click or tab got there first: resume its payment.
        db.session.rollback()
        return _wait_for_the_winner(application, nonce, description, locale, _again)
    # Committed before the provider is called: no lock is held while it works, and the
    # unique open payment keeps every other click on this one.
    db.session.commit()
    try:
        session = provider.create_payment(PaymentRequest(
            payment_id=payment.public_id, amount=payment.amount, currency=payment.currency,
            description=description,
            return_url=external_url("payments.returned", payment_id=payment.public_id,
                                    token=token),
            locale=locale,
        ))
    except Exception as exc:
        db.session.rollback()
        log.warning("payment provider %s could not open a payment: %s", provider.name,
                    type(exc).__name__)
        move(payment, PaymentState.FAILED)  # recorded; nothing was taken; try again
        db.session.commit()
        raise PaymentUnavailable from exc
    move(payment, PaymentState.STARTED, provider_reference=session.reference,
         provider_url=session.url)
    db.session.commit()
    return payment


def _wait_for_the_winner(application: Application, nonce: str, description: str,
                         locale: str, again: bool) -> Payment:
    """The payment another click is opening; its provider page appears in a moment."""
    import time

    for _attempt in range(30):
        winner = open_payment(application)
        if winner is None:
            # The other click's payment ended (its provider failed): try once ourselves.
            if again:
                return start_payment(application, nonce, description=description,
                                     locale=locale, _again=False)
            raise PaymentUnavailable("the payment being opened did not start")
        if winner.provider_url or winner.is_final:
            return winner
        _expire_if_late(winner)  # abandoned by a process that died: failed, retried above
        db.session.commit()
        time.sleep(0.1)
    raise PaymentUnavailable("the payment being opened took too long")


def settle(payment: Payment) -> Payment:
    """Ask the provider how ``payment`` stands and record it (once).

    On success the application leaves ``awaiting_payment`` in the same transaction.
    Repeated or late answers change nothing more.
    """
    if payment.is_final or payment.provider_reference is None:
        _expire_if_late(payment)
        db.session.commit()
        return payment
    answer = provider_of(payment).fetch_status(payment.provider_reference)
    target = _OUTCOMES.get(answer.status)
    if target is None:  # still pending at the provider
        _expire_if_late(payment)
        db.session.commit()
        return payment
    if not move(payment, target, method=answer.method):
        db.session.commit()
        return payment  # settled by another request meanwhile
    event = None
    if target is PaymentState.SUCCEEDED:
        from portal.receipts.issue import request_receipt

        request_receipt(payment)  # in this transaction: one receipt per payment, never lost
        event = _application_paid(payment)
    db.session.commit()
    if event is not None:
        engine.announce_transition(payment.application, event)
    return payment


def _application_paid(payment: Payment) -> Any:
    application = payment.application
    if application.state != AWAITING_PAYMENT:
        # Withdrawn while paying, say: the money is recorded; staff refund it (Step 3).
        log.warning("payment %s succeeded for application %s in state %s", payment.public_id,
                    application.reference, application.state)
        return None
    try:
        return engine.transition(application, PAYMENT_RECEIVED, actor_role="system")
    except IllegalTransition:
        log.warning("payment %s succeeded but application %s could not move",
                    payment.public_id, application.reference)
        return None

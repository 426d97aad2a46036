"""The sandbox's hosted pages: card details or FPS, the bank's challenge, the outcome.

The browser is sent back to the portal's ``return_url`` only as it was given (it carries
the portal's token, never the outcome); the portal then asks ``fetch_status``.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, url_for

from portal.payments.sandbox import cards, store
from portal.payments.sandbox import fps as fps_qr
from portal.payments.sandbox.forms import CancelForm, CardForm, ChallengeForm, FpsPaidForm
from portal.payments.sandbox.models import (
    AUTHENTICATION_FAILED,
    CANCELLED,
    CARD_DECLINED,
    FAILED,
    STAGE_CHALLENGE,
    STAGE_DETAILS,
    SUCCEEDED,
    SandboxPayment,
)


def _payment(reference: str) -> SandboxPayment:
    payment = store.get(reference)
    if payment is None:
        abort(404)
    return payment


def _here(payment: SandboxPayment) -> Any:
    return redirect(url_for("sandbox.pay", reference=payment.reference), code=303)


def _back_to_portal(payment: SandboxPayment) -> Any:
    return redirect(payment.return_url, code=303)


def _outcome(payment: SandboxPayment) -> Any:
    return render_template("sandbox/outcome.html", payment=payment)


def pay(reference: str) -> Any:
    """The choice of card (its form) or FPS; or, once the payment is final, its outcome
    (never a second charge)."""
    payment = _payment(reference)
    if payment.is_final:
        return _outcome(payment)
    if payment.stage == STAGE_CHALLENGE:
        return redirect(url_for("sandbox.challenge", reference=reference), code=303)
    form = CardForm()
    if form.validate_on_submit():
        number = form.card_number.data
        last4 = number[-4:]
        result = cards.outcome(number)
        if result == cards.OUTCOME_CHALLENGE:
            store.start_challenge(reference, last4)
            return redirect(url_for("sandbox.challenge", reference=reference), code=303)
        if result == cards.OUTCOME_SUCCEEDED:
            if store.finish(reference, SUCCEEDED, stage=STAGE_DETAILS, method="card",
                            card_last4=last4):
                return _back_to_portal(payment)
            return _here(payment)
        store.finish(reference, FAILED, stage=STAGE_DETAILS, method="card", card_last4=last4,
                     failure_code=CARD_DECLINED)
        return _here(payment)
    # The security code is never shown again, not even after a mistake elsewhere.
    form.cvc.raw_data = None
    form.cvc.data = ""
    return render_template("sandbox/pay.html", payment=payment, form=form,
                           test_cards=cards.TEST_CARDS, cancel_form=CancelForm())


def challenge(reference: str) -> Any:
    """The pretend bank's check (like 3-D Secure): Approve or Fail."""
    payment = _payment(reference)
    if payment.is_final or payment.stage != STAGE_CHALLENGE:
        return _here(payment)
    form = ChallengeForm()
    if form.validate_on_submit():
        if form.decision.data == "approve":
            if store.finish(reference, SUCCEEDED, stage=STAGE_CHALLENGE):
                return _back_to_portal(payment)
        else:
            store.finish(reference, FAILED, stage=STAGE_CHALLENGE,
                         failure_code=AUTHENTICATION_FAILED)
        return _here(payment)
    return render_template("sandbox/challenge.html", payment=payment, form=form,
                           cancel_form=CancelForm())


def fps(reference: str) -> Any:
    """FPS: a QR code for the banking app, then "I have paid" (the sandbox believes it).

    Only a payment still at the details stage can be paid so: not one whose card already
    waits for the bank's challenge, and never a final one.
    """
    payment = _payment(reference)
    if payment.is_final or payment.stage != STAGE_DETAILS:
        return _here(payment)
    form = FpsPaidForm()
    if form.validate_on_submit():
        if store.finish(reference, SUCCEEDED, stage=STAGE_DETAILS, method=fps_qr.METHOD):
            return _back_to_portal(payment)
        return _here(payment)
    if form.errors:
        abort(400)  # only the CSRF token can be wrong
    return render_template("sandbox/fps.html", payment=payment, form=form,
                           qr=fps_qr.qr_code(payment), payee=str(fps_qr.PAYEE_SHOWN),
                           cancel_form=CancelForm())


def cancel(reference: str) -> Any:
    """Cancel and go back to the portal (a payment already final stays as it is)."""
    payment = _payment(reference)
    form = CancelForm()
    if not form.validate_on_submit():
        abort(400)
    if store.finish(reference, CANCELLED):
        return _back_to_portal(payment)
    payment = _payment(reference)
    if payment.status == CANCELLED:  # a double click: the first one cancelled it
        return _back_to_portal(payment)
    return _here(payment)

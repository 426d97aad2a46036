"""The citizen pays: the pay button, and the way back from the provider."""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from portal.applications.views import own_application
from portal.extensions import db
from portal.i18n import current_locale, force_locale
from portal.payments import ledger, webhooks
from portal.payments.models import Payment, PaymentState
from portal.plugins.manager import services
from portal.plugins.service import AWAITING_PAYMENT


def pay(reference: str) -> Any:
    """The pay button (POST, with a nonce): one payment however often it is pressed."""
    application = own_application(reference)
    if application.state != AWAITING_PAYMENT or application.fee_amount <= 0:
        flash(gettext("There is nothing to pay for this application."), "success")
        return redirect(url_for("applications.detail", reference=reference))
    nonce = (request.form.get("nonce") or "").strip()
    if not 16 <= len(nonce) <= 64 or not nonce.isalnum():
        abort(400)
    definition = services(current_app).active.get(application.service)
    with force_locale(current_locale()):
        title = str(definition.title) if definition else application.service
    description = gettext("%(service)s, application %(reference)s", service=title,
                          reference=application.reference)
    try:
        payment = ledger.start_payment(application, nonce, description=description,
                                       locale=current_locale())
    except ledger.PaymentUnavailable:
        return render_template("payments/unavailable.html", application=application), 503
    if payment.state == PaymentState.SUCCEEDED:  # paid after all (a late return)
        flash(gettext("Payment received. Thank you."), "success")
        return redirect(url_for("applications.detail", reference=reference))
    return redirect(payment.provider_url)


def returned(payment_id: str) -> Any:
    """Back from the provider. The URL proves nothing about the outcome: ask the provider."""
    payment = db.session.scalar(select(Payment).where(Payment.public_id == payment_id))
    if (payment is None or payment.application.user_id != current_user.id
            or not ledger.token_matches(payment, request.args.get("token", ""))):
        abort(404)
    payment = ledger.settle(payment)
    reference = payment.application.reference
    if payment.state == PaymentState.SUCCEEDED:
        flash(gettext("Payment received. Thank you."), "success")
    elif payment.state in (PaymentState.FAILED, PaymentState.CANCELLED, PaymentState.EXPIRED):
        flash(gettext("The payment was not made. You can try again."), "error")
    else:
        return render_template("payments/checking.html", payment=payment), 202
    return redirect(url_for("applications.detail", reference=reference))


def webhook(provider: str) -> Any:
    """A provider's notification (POST, no session, no CSRF token: its signature is the
    proof). A body over ``webhooks.MAX_BODY_BYTES`` is refused unread."""
    limit = webhooks.MAX_BODY_BYTES
    if request.content_length is not None and request.content_length > limit:
        abort(413)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        abort(413)
    answer = webhooks.receive(provider, request.headers, body)
    return jsonify(result=answer.result), answer.status

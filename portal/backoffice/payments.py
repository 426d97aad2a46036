"""Staff pages of an application's payments, and refunding them.

Only staff of the application's department see an application here; anyone else (a
portal administrator, staff of another department) gets the same 404 as for a reference
that does not exist. A refund is asked for in three steps: the amount and reason, a
confirmation that names the amount and the person, then the refund itself (a POST with
CSRF and a nonce that makes a repeated submission one refund). A refund above the
department's threshold is reserved and waits for approval instead of being sent (four
eyes): supervisors and department administrators list those waiting and approve or
decline each, never one they asked for themselves.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.applications.models import Application
from portal.applications.util import normalise_reference
from portal.audit import log as audit
from portal.backoffice.access import Permission, can
from portal.backoffice.forms import (
    APPROVE,
    ConfirmRefundForm,
    FindApplicationForm,
    RefundDecisionForm,
    RefundForm,
    format_amount_input,
)
from portal.extensions import db
from portal.i18n import current_locale, format_hkd
from portal.identity.auth import may_handle_application
from portal.identity.models import User
from portal.payments import refunds
from portal.payments.ledger import payments_of
from portal.payments.models import Payment, Refund, RefundState

#: The most refunds the approvals page lists at once (the oldest first).
APPROVALS_SHOWN = 200


def _may_handle(application: Application) -> bool:
    """The portal's one rule for staff and a case (``may_handle_application``)."""
    return may_handle_application(current_user, application)


def _application_or_404(reference: str) -> Application:
    normalised = normalise_reference(reference)
    application = None
    if normalised is not None:
        application = db.session.scalar(
            select(Application).where(Application.reference == normalised))
    if application is None or not _may_handle(application):
        abort(404)
    return application


def _payment_or_404(application: Application, payment_id: str) -> Payment:
    payment = db.session.scalar(
        select(Payment).where(Payment.public_id == payment_id,
                              Payment.application_id == application.id))
    if payment is None:
        abort(404)
    return payment


def citizen_name(application: Application) -> str:
    return application.user.display_name(current_locale())


def method_label(method: str | None) -> str:
    if method == "card":
        return _("Card")
    if method == "fps":
        return _("FPS")
    return method or ""


def find_application() -> Any:
    """The search from staff home: a reference in any case, with or without dashes."""
    form = FindApplicationForm(request.args)
    if request.args and form.validate():
        reference = form.reference.data
        application = db.session.scalar(
            select(Application).where(Application.reference == reference))
        if application is not None and _may_handle(application):
            return redirect(url_for(".case", reference=reference))
        # The same answer whether it does not exist or belongs to another department.
        form.reference.errors = [_("No application of your department has this reference")]
    return render_template("backoffice/payments/find.html", form=form)


def application_payments(reference: str) -> Any:
    application = _application_or_404(reference)
    if application.reference != reference:
        return redirect(url_for(".application_payments", reference=application.reference))
    from portal.plugins.manager import services

    payments = payments_of(application)
    given_back = refunds.refunds_of(payments)
    audit.record("case.payments_viewed", actor=current_user, target=application,
                 department=application.department)
    db.session.commit()
    waiting: dict[int, int] = {}
    for row in given_back:
        if row.state == RefundState.NEEDS_APPROVAL:
            waiting[row.payment_id] = waiting.get(row.payment_id, 0) + row.amount
    return render_template(
        "backoffice/payments/application.html", application=application,
        definition=services(current_app).active.get(application.service),
        citizen=citizen_name(application), payments=payments, refunds=given_back,
        requesters=_names_of_requesters(given_back), method_label=method_label,
        waiting=waiting, may_decide=_may_decide,
    )


def _may_decide(row: Refund) -> bool:
    """Whether the signed-in person may approve or decline ``row`` (the page's link; the
    decision itself checks again)."""
    return (row.state == RefundState.NEEDS_APPROVAL
            and can(current_user, Permission.APPROVE_REFUNDS)
            and row.requested_by_id != current_user.id)


def _names_of_requesters(rows: list[Any]) -> dict[int, str]:
    """Names of the staff who asked for or decided ``rows``, by user id."""
    ids = {row.requested_by_id for row in rows if row.requested_by_id}
    ids |= {row.decided_by_id for row in rows if getattr(row, "decided_by_id", None)}
    if not ids:
        return {}
    users = db.session.scalars(select(User).where(User.id.in_(ids))).all()
    return {user.id: user.display_name(current_locale()) for user in users}


def refund_form(reference: str, payment_id: str) -> Any:
    """The amount (prefilled with what remains) and the reason; then the confirmation."""
    application = _application_or_404(reference)
    payment = _payment_or_404(application, payment_id)
    remaining = payment.refundable_amount
    if remaining <= 0:
        flash(_("Nothing remains to be refunded on this payment."), "error")
        return redirect(url_for(".application_payments", reference=application.reference))
    form = RefundForm(remaining=remaining)
    if request.method == "GET":
        form.amount.data = format_amount_input(remaining)
    elif not request.form.get("change") and form.validate_on_submit():
        # "Change" on the confirmation shows this form again with what was typed.
        confirm = ConfirmRefundForm(nonce=secrets.token_hex(16))
        return render_template(
            "backoffice/payments/confirm.html", application=application, payment=payment,
            citizen=citizen_name(application), form=confirm, amount=form.cents,
            amount_text=format_amount_input(form.cents), reason=form.reason.data)
    return render_template("backoffice/payments/refund.html", application=application,
                           payment=payment, form=form, remaining=remaining)


def confirm_refund(reference: str, payment_id: str) -> Any:
    """Make the refund: the amount and reason are checked again against what remains now."""
    application = _application_or_404(reference)
    payment = _payment_or_404(application, payment_id)
    confirm = ConfirmRefundForm()
    form = RefundForm(remaining=payment.refundable_amount)
    nonce = confirm.nonce.data or ""
    back = redirect(url_for(".application_payments", reference=application.reference))
    if not confirm.validate_on_submit() or not refunds.REFUND_ID.match(nonce):
        abort(400)
    if payment.refundable_amount <= 0:
        flash(_("Nothing remains to be refunded on this payment."), "error")
        return back
    if not form.validate():
        return render_template("backoffice/payments/refund.html", application=application,
                               payment=payment, form=form, remaining=payment.refundable_amount)
    amount = format_hkd(form.cents)
    name = citizen_name(application)
    try:
        made = refunds.refund(payment, form.cents, form.reason.data, current_user,
                              refund_id=nonce)
    except refunds.MoreThanRemains as exc:
        form.amount.errors = [_(
            "Enter an amount no more than %(amount)s, what remains of this payment",
            amount=format_hkd(exc.remaining))]
        return render_template("backoffice/payments/refund.html", application=application,
                               payment=payment, form=form, remaining=exc.remaining)
    except refunds.NotRefundable:
        flash(_("Nothing remains to be refunded on this payment."), "error")
        return back
    except refunds.DuplicateRefund:
        abort(400)
    except refunds.RefundPending:
        flash(_("The payment provider did not answer. The refund of %(amount)s to %(name)s "
                "is kept and will be completed automatically; you do not need to do it "
                "again.", amount=amount, name=name), "error")
        return back
    current_app.logger.info("refund %s of payment %s asked by user %s: %s", made.public_id,
                            payment.public_id, current_user.id, made.state)
    if made.state == RefundState.NEEDS_APPROVAL:
        threshold = refunds.approval_threshold(payment) or 0
        flash(_("Sent for approval: a supervisor must approve refunds over %(threshold)s",
                threshold=format_hkd(threshold)), "success")
    elif made.state == RefundState.SUCCEEDED:
        flash(_("%(amount)s was refunded to %(name)s. They will get a credit note by email.",
                amount=amount, name=name), "success")
    elif made.state == RefundState.FAILED:
        flash(_("The payment provider refused the refund of %(amount)s. Nothing was "
                "refunded; you can try again.", amount=amount), "error")
    elif made.state == RefundState.DECLINED:  # this confirmation, sent again after a decline
        flash(_decided_message(made), "error")
    else:
        flash(_("The refund of %(amount)s to %(name)s is being processed.", amount=amount,
                name=name), "error")
    return back


# --- four eyes: refunds above the department's threshold --------------------------------


def refund_approvals() -> Any:
    """The department's refunds waiting for approval, oldest first."""
    rows, total = refunds.waiting_for_approval(current_user.department.code, APPROVALS_SHOWN)
    return render_template("backoffice/refunds/approvals.html", refunds=rows, total=total,
                           requesters=_names_of_requesters(rows), citizen_name=citizen_name)


def _refund_or_404(public_id: str) -> Refund:
    """A refund of the signed-in person's department that needed a decision; 404 for any
    other (another department's looks missing)."""
    row = None
    if refunds.REFUND_ID.match(public_id):
        row = db.session.scalar(select(Refund).where(Refund.public_id == public_id))
    if row is None or not _may_handle(row.payment.application):
        abort(404)
    if row.state != RefundState.NEEDS_APPROVAL and row.decided_by_id is None:
        abort(404)  # it never waited for approval: there is nothing to decide
    return row


def _decided_message(row: Refund) -> str:
    """Who decided ``row`` first, plainly."""
    names = _names_of_requesters([row])
    name = names.get(row.decided_by_id or 0) or _("someone else")
    if row.state == RefundState.DECLINED:
        return _("This refund was already declined by %(name)s.", name=name)
    return _("This refund was already approved by %(name)s.", name=name)


def refund_decision(public_id: str) -> Any:
    """Approve or decline one refund waiting for approval (never one's own)."""
    row = _refund_or_404(public_id)
    application = row.payment.application
    form = RefundDecisionForm()
    own = row.requested_by_id == current_user.id

    def page(status: int = 200, notice: str | None = None) -> Any:
        context: dict[str, Any] = {}
        if row.state == RefundState.NEEDS_APPROVAL and not own:
            context["form"] = form
        return render_template(
            "backoffice/refunds/decision.html", refund=row, payment=row.payment,
            application=application, citizen=citizen_name(application),
            names=_names_of_requesters([row]), notice=notice, **context), status

    if request.method == "GET":
        audit.record("refund.decision_viewed", actor=current_user, target=row,
                     department=application.department)
        db.session.commit()
        if own:
            return page(notice=_own_message())
        if row.state != RefundState.NEEDS_APPROVAL:
            return page(notice=_decided_message(row))
        return page()
    if own:
        # Checked here for a plain page; the domain refuses it all the same.
        return page(403, _own_message())
    back = redirect(url_for(".refund_approvals"))
    if row.state != RefundState.NEEDS_APPROVAL:
        flash(_decided_message(row), "error")
        return back
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return page()
    amount, name = format_hkd(row.amount), citizen_name(application)
    try:
        if form.decision.data == APPROVE:
            refunds.approve_refund(row, current_user)
        else:
            refunds.decline_refund(row, current_user, form.decline_reason.data)
    except refunds.AlreadyDecided as exc:
        flash(_decided_message(exc.refund), "error")
        return back
    except refunds.OwnRefund:
        return page(403, _own_message())
    except refunds.NotYourDecision:
        abort(404)
    except refunds.RefundPending:
        flash(_("You approved the refund of %(amount)s to %(name)s. The payment provider "
                "did not answer; the refund will be completed automatically.",
                amount=amount, name=name), "error")
        return back
    if row.state == RefundState.DECLINED:
        flash(_("You declined the refund of %(amount)s to %(name)s. Nothing was refunded; "
                "the amount can be refunded again.", amount=amount, name=name), "success")
    elif row.state == RefundState.SUCCEEDED:
        flash(_("You approved the refund: %(amount)s was refunded to %(name)s. They will "
                "get a credit note by email.", amount=amount, name=name), "success")
    elif row.state == RefundState.FAILED:
        flash(_("You approved the refund, but the payment provider refused it. Nothing was "
                "refunded."), "error")
    else:
        flash(_("The refund of %(amount)s to %(name)s is being processed.", amount=amount,
                name=name), "error")
    return back


def _own_message() -> str:
    return _("You asked for this refund, so someone else must approve or decline it.")

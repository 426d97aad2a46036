"""Routes of the payments area."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from portal.applications.blueprint import answers_limited
from portal.extensions import csrf
from portal.identity.auth import citizen_required
from portal.payments import views

bp = Blueprint("payments", __name__)

bp.add_url_rule("/applications/<reference>/pay", "pay",
                answers_limited(citizen_required(views.pay)), methods=["POST"])
bp.add_url_rule("/payments/<payment_id>/return", "returned", citizen_required(views.returned))
# Signed by the provider instead of carrying a CSRF token; no session is used.
bp.add_url_rule("/payments/webhooks/<provider>", "webhook", csrf.exempt(views.webhook),
                methods=["POST"])


_STATE_LABELS = {
    "created": _l("Not started"),
    "started": _l("Started, not finished"),
    "succeeded": _l("Paid"),
    "failed": _l("Not paid: declined"),
    "cancelled": _l("Not paid: cancelled"),
    "expired": _l("Not paid: timed out"),
}
_STATE_CLASSES = {"succeeded": "govuk-tag--green", "failed": "govuk-tag--red",
                  "cancelled": "govuk-tag--grey", "expired": "govuk-tag--grey"}


@bp.app_template_global()
def payment_state_label(state: str) -> str:
    return str(_STATE_LABELS.get(state, state))


@bp.app_template_global()
def payment_state_class(state: str) -> str:
    return _STATE_CLASSES.get(state, "govuk-tag--yellow")


_REFUND_CLASSES = {"processing": "govuk-tag--yellow", "succeeded": "govuk-tag--green",
                   "failed": "govuk-tag--red",
                   # The colours of the states the citizen reads the same way: waiting
                   # for approval is "being processed", declined is "not refunded".
                   "needs_approval": "govuk-tag--yellow", "declined": "govuk-tag--red"}


@bp.app_template_global()
def refund_state_class(state: str) -> str:
    """The tag colour of a refund's state, the same for citizens and staff (the words
    differ: each page names the state for its reader)."""
    return _REFUND_CLASSES.get(state, "")

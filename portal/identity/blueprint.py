"""Routes of the identity area (the views live in ``views.py``)."""

from __future__ import annotations

from flask import Blueprint, current_app

from portal.extensions import limiter
from portal.identity import views
from portal.identity.auth import signed_in_required

bp = Blueprint("identity", __name__)


def _sign_in_limit() -> str:
    return current_app.config["SIGN_IN_RATE_LIMIT"]


# Every route that checks a secret or sends an email is rate limited per address.
_limited = limiter.limit(_sign_in_limit, methods=["POST"])

bp.add_url_rule("/register", "register", _limited(views.register), methods=["GET", "POST"])
bp.add_url_rule("/register/check-your-email", "check_email", views.check_email)
bp.add_url_rule("/confirm/<token>", "confirm_email", views.confirm_email)
bp.add_url_rule(
    "/confirm-email/resend", "resend_confirmation", _limited(views.resend_confirmation),
    methods=["GET", "POST"],
)
bp.add_url_rule("/sign-in", "sign_in", _limited(views.sign_in), methods=["GET", "POST"])
bp.add_url_rule("/sign-in/confirm-your-email", "unconfirmed", views.unconfirmed)
bp.add_url_rule(
    "/sign-in/security-code", "second_factor", _limited(views.second_factor),
    methods=["GET", "POST"],
)
bp.add_url_rule(
    "/sign-in/set-up-security-code", "enrol_second_factor", _limited(views.enrol_second_factor),
    methods=["GET", "POST"],
)
bp.add_url_rule("/sign-out", "sign_out", views.sign_out, methods=["POST"])
bp.add_url_rule(
    "/password/forgotten", "forgot_password", _limited(views.forgot_password),
    methods=["GET", "POST"],
)
bp.add_url_rule("/password/check-your-email", "reset_sent", views.reset_sent)
bp.add_url_rule(
    "/reset/<token>", "reset_password", _limited(views.reset_password), methods=["GET", "POST"]
)
bp.add_url_rule(
    "/invitation/<token>", "accept_invitation", _limited(views.accept_invitation),
    methods=["GET", "POST"],
)
bp.add_url_rule("/account", "account", signed_in_required(views.account))
bp.add_url_rule(
    "/account/details", "edit_profile", signed_in_required(views.edit_profile),
    methods=["GET", "POST"],
)
bp.add_url_rule(
    "/account/identity-card/remove", "remove_hkid", signed_in_required(views.remove_hkid),
    methods=["POST"],
)
bp.add_url_rule(
    "/account/password", "change_password", _limited(signed_in_required(views.change_password)),
    methods=["GET", "POST"],
)

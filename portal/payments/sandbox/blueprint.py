"""Routes of the sandbox's hosted payment pages."""

from __future__ import annotations

from flask import Blueprint, Response

from portal.payments.sandbox import views

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox-pay")

bp.add_url_rule("/<reference>", "pay", views.pay, methods=["GET", "POST"])
bp.add_url_rule("/<reference>/challenge", "challenge", views.challenge, methods=["GET", "POST"])
bp.add_url_rule("/<reference>/fps", "fps", views.fps, methods=["GET", "POST"])
bp.add_url_rule("/<reference>/cancel", "cancel", views.cancel, methods=["POST"])


@bp.after_request
def _not_stored(response: Response) -> Response:
    # Card forms and outcomes are never kept by the browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response

"""Routes of the applications area."""

from __future__ import annotations

from flask import Blueprint

from portal.applications import views
from portal.identity.auth import citizen_required, signed_in_required

bp = Blueprint("applications", __name__)

_both = ["GET", "POST"]
bp.add_url_rule("/dashboard", "dashboard", citizen_required(views.dashboard))
bp.add_url_rule("/services/<name>/apply", "start", citizen_required(views.start), methods=_both)
bp.add_url_rule("/drafts/<draft_id>", "resume", citizen_required(views.resume))
bp.add_url_rule("/drafts/<draft_id>/check", "check", citizen_required(views.check), methods=_both)
bp.add_url_rule("/drafts/<draft_id>/saved", "saved", citizen_required(views.saved))
bp.add_url_rule("/drafts/<draft_id>/delete", "discard", citizen_required(views.discard),
                methods=_both)
bp.add_url_rule("/drafts/<draft_id>/<step>", "step", citizen_required(views.step), methods=_both)
bp.add_url_rule("/applications/<reference>", "detail", citizen_required(views.detail))
bp.add_url_rule("/applications/<reference>/confirmation", "confirmation",
                citizen_required(views.confirmation))
bp.add_url_rule("/applications/<reference>/withdraw", "withdraw",
                citizen_required(views.withdraw), methods=_both)
bp.add_url_rule("/uploads/<upload_id>", "download", signed_in_required(views.download))

_TAG_COLOURS = {
    "awaiting_payment": "govuk-tag--yellow",
    "approved": "govuk-tag--green",
    "paid": "govuk-tag--green",
    "completed": "govuk-tag--green",
    "rejected": "govuk-tag--red",
    "withdrawn": "govuk-tag--grey",
}


@bp.app_template_global()
def state_class(state: str) -> str:
    """The colour of a status tag (the words come from the service)."""
    return _TAG_COLOURS.get(state, "govuk-tag--blue")

"""Routes of the applications area."""

from __future__ import annotations

from flask import Blueprint, current_app

from portal.applications import views
from portal.extensions import limiter
from portal.identity.auth import citizen_required, signed_in_required

bp = Blueprint("applications", __name__)


def _answers_limit() -> str:
    return current_app.config["ANSWERS_RATE_LIMIT"]


#: Starting, answering and paying write rows and files: a flood from one address is
#: refused (429). The payments area uses the same limit.
answers_limited = limiter.limit(_answers_limit, methods=["POST"])

_both = ["GET", "POST"]
bp.add_url_rule("/dashboard", "dashboard", citizen_required(views.dashboard))
bp.add_url_rule("/services/<name>/apply", "start", answers_limited(citizen_required(views.start)),
                methods=_both)
bp.add_url_rule("/drafts/<draft_id>", "resume", citizen_required(views.resume))
bp.add_url_rule("/drafts/<draft_id>/check", "check", answers_limited(citizen_required(views.check)),
                methods=_both)
bp.add_url_rule("/drafts/<draft_id>/saved", "saved", citizen_required(views.saved))
bp.add_url_rule("/drafts/<draft_id>/delete", "discard", citizen_required(views.discard),
                methods=_both)
bp.add_url_rule("/drafts/<draft_id>/<step>", "step", answers_limited(citizen_required(views.step)),
                methods=_both)
bp.add_url_rule("/applications/<reference>", "detail", citizen_required(views.detail))
bp.add_url_rule("/applications/<reference>/confirmation", "confirmation",
                citizen_required(views.confirmation))
bp.add_url_rule("/applications/<reference>/withdraw", "withdraw",
                citizen_required(views.withdraw), methods=_both)
bp.add_url_rule("/applications/<reference>/reply", "reply",
                answers_limited(citizen_required(views.reply)), methods=_both)
bp.add_url_rule("/uploads/<upload_id>", "download", signed_in_required(views.download))

_TAG_COLOURS = {
    "awaiting_payment": "govuk-tag--yellow",
    "awaiting_information": "govuk-tag--yellow",
    "approved": "govuk-tag--green",
    "paid": "govuk-tag--green",
    "completed": "govuk-tag--green",
    "rejected": "govuk-tag--red",
    "withdrawn": "govuk-tag--grey",
}


@bp.app_template_global()
def state_label(definition: object, state: str) -> str:
    """A state's name from its service, or the core's when the service is not loaded."""
    return views.state_name(definition, state)


@bp.app_template_global()
def action_label(definition: object, action: str) -> str:
    from portal.plugins.service import ACTION_LABELS

    if definition is not None:
        return str(definition.action_label(action))  # type: ignore[attr-defined]
    return str(ACTION_LABELS.get(action, action))


@bp.app_template_global()
def event_label(definition: object, action: str) -> str:
    """What a timeline entry says was done: "Approved" where the button said "Approve"."""
    from portal.plugins.service import EVENT_LABELS

    if action in EVENT_LABELS:
        return str(EVENT_LABELS[action])
    return action_label(definition, action)


@bp.app_template_global()
def state_class(state: str) -> str:
    """The colour of a status tag (the words come from the service)."""
    return _TAG_COLOURS.get(state, "govuk-tag--blue")

"""Forms of the case view's actions.

A form that changes the case carries what the page showed: the state, who had the case
and the last change (``shown_*``). The action is refused, with a plain account of what
happened instead, when the case is no longer as the person saw it.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField
from wtforms.validators import DataRequired

from portal.applications.reasons import REJECTION_REASONS
from portal.backoffice.casework import (
    MESSAGE_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    Shown,
)
from portal.forms import (
    PortalForm,
    RadiosField,
    SelectListField,
    SubmitButton,
    TextAreaField,
    ValidationError,
    as_choices,
)

#: The one choice of the reason list that needs words of the officer's own.
OTHER_REASON = "other"


class ShownForm(PortalForm):
    """The case as the page showed it (hidden fields, filled by ``show``)."""

    shown_state = HiddenField()
    shown_assignee = HiddenField()
    shown_version = HiddenField()

    def show(self, shown: Shown) -> ShownForm:
        self.shown_state.data = shown.state
        self.shown_assignee.data = "" if shown.assignee_id is None else str(shown.assignee_id)
        self.shown_version.data = str(shown.version)
        return self

    def shown(self) -> Shown | None:
        """What the page showed, or None when the hidden fields were tampered with."""
        state = self.shown_state.data or ""
        assignee = self.shown_assignee.data or ""
        version = self.shown_version.data or ""
        if not state or not version.isdigit() or (assignee and not assignee.isdigit()):
            return None
        return Shown(state=state, assignee_id=int(assignee) if assignee else None,
                     version=int(version))


class ClaimForm(ShownForm):
    submit = SubmitButton(_l("Claim this case"))


class AssignForm(ShownForm):
    assignee = SelectListField(_l("Assign to"), validate_choice=False,
                               description=_l("Officers and supervisors of your department."))
    submit = SubmitButton(_l("Save"))

    def validate_assignee(self, field: Any) -> None:
        offered = {str(choice.value) for choice in field.choices}
        if (field.data or "") not in offered:
            raise ValidationError(_l("Select a person from the list, or Unassigned"))


class ActionForm(ShownForm):
    """A workflow action with an optional note the applicant reads (approve, a service's
    own action)."""

    note = TextAreaField(
        _l("Note for the applicant (optional)"), max_length=REASON_MAX_LENGTH,
        description=_l("The applicant sees this note on their application page and in "
                       "the email we send them."))
    submit = SubmitButton(_l("Confirm"))


class RejectForm(ShownForm):
    reason = RadiosField(
        _l("Reason for the rejection"),
        [DataRequired(_l("Select the reason for the rejection"))],
        choices=as_choices(list(REJECTION_REASONS.items())),
        invalid_choice_message=_l("Select the reason for the rejection"),
        description=_l("The applicant reads the reason in their own language."),
    )
    details = TextAreaField(
        _l("Explain the decision"), max_length=REASON_MAX_LENGTH,
        description=_l("Needed if you chose “Another reason”. The applicant reads these "
                       "words as you write them."))
    submit = SubmitButton(_l("Reject application"))

    def validate_details(self, field: Any) -> None:
        if self.reason.data == OTHER_REASON and not field.data:
            raise ValidationError(_l("Explain the reason for the rejection"))


class RequestInformationForm(ShownForm):
    message = TextAreaField(
        _l("What do you need from the applicant?"),
        [DataRequired(_l("Enter what the applicant needs to send or tell you"))],
        max_length=MESSAGE_MAX_LENGTH,
        description=_l("Say exactly what to send or answer. The applicant gets this by "
                       "email and answers on their application page. The time we take to "
                       "decide stops until they answer."))
    submit = SubmitButton(_l("Send the request"))


class NoteForm(PortalForm):
    body = TextAreaField(
        _l("Note"), [DataRequired(_l("Enter the note"))], max_length=NOTE_MAX_LENGTH,
        description=_l("Only staff of your department see internal notes. The applicant "
                       "never does."))
    submit = SubmitButton(_l("Add note"))


class MessageForm(PortalForm):
    body = TextAreaField(
        _l("Message"), [DataRequired(_l("Enter the message"))],
        max_length=MESSAGE_MAX_LENGTH,
        description=_l("The applicant gets this by email and sees it on their application "
                       "page. To ask for something they must answer, ask for more "
                       "information instead."))
    submit = SubmitButton(_l("Send message"))

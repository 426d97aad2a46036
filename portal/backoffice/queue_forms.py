"""Forms of the work queue: its filters (a GET form) and bulk assignment (POST, CSRF)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import Field, HiddenField
from wtforms.validators import DataRequired, StopValidation

from portal.applications.util import normalise_reference
from portal.backoffice import queue
from portal.forms import (
    PortalForm,
    SelectListField,
    SubmitButton,
    TextField,
    ValidationError,
    as_choices,
)

#: Shortest part of a name the queue searches for (one letter matches nearly everyone).
NAME_SEARCH_MIN = 2
#: Most cases one bulk assignment may name (a page of the queue).
BULK_LIMIT = queue.PAGE_SIZE
#: The assignee choice that sends cases back to the unassigned pile.
NOBODY = "unassigned"


class ChoiceField(SelectListField):
    """A select whose unknown values get a message that says what to do."""

    def __init__(self, *args: Any, invalid: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", "")  # a value left out of the query string is "any"
        super().__init__(*args, **kwargs)
        self.invalid = invalid

    def pre_validate(self, form: Any) -> None:
        try:
            super().pre_validate(form)
        except ValidationError as exc:
            raise StopValidation(self.invalid) from exc


class QueueFilterForm(PortalForm):
    """The queue's filters, read from the query string (a search changes nothing: no CSRF).
    The view sets the service and state choices from the department's services."""

    class Meta:
        csrf = False

    service = ChoiceField(_l("Service"), choices=as_choices([("", "")]),
                          invalid=_l("Choose a service from the list"))
    state = ChoiceField(_l("Status"), choices=as_choices([("", "")]),
                        invalid=_l("Choose a status from the list"))
    assigned = ChoiceField(
        _l("Assigned to"),
        choices=as_choices([("", _l("Anyone")), (queue.ASSIGNED_TO_ME, _l("Me")),
                            (queue.UNASSIGNED, _l("No one (unassigned)"))]),
        invalid=_l("Choose who the cases are assigned to from the list"))
    due = ChoiceField(
        _l("Due"),
        choices=as_choices([("", _l("Any time")), (queue.OVERDUE, _l("Overdue")),
                            (queue.DUE_SOON, _l("Within the number of days below"))]),
        invalid=_l("Choose when the cases are due from the list"))
    days = TextField(_l("Number of days"), max_length=3, default=str(queue.DEFAULT_DUE_DAYS),
                     description=_l("From 1 to %(most)d, counted from today",
                                    most=queue.MAX_DUE_DAYS))
    q = TextField(_l("Reference or applicant's name"), max_length=100,
                  description=_l("A whole reference, like K7MX-4P9Q-R, or part of a name "
                                 "in English or Chinese"))

    def validate_days(self, field: Any) -> None:
        text = (field.data or "").strip()
        if not text:
            if self.due.data == queue.DUE_SOON:
                raise ValidationError(_l("Enter the number of days"))
            return
        if not text.isascii() or not text.isdigit() or not (
                1 <= int(text) <= queue.MAX_DUE_DAYS):
            raise ValidationError(_l("Enter a whole number of days from 1 to %(most)d",
                                     most=queue.MAX_DUE_DAYS))

    def validate_q(self, field: Any) -> None:
        text = field.data or ""
        if text and normalise_reference(text) is None and len(text) < NAME_SEARCH_MIN:
            raise ValidationError(_l("Enter at least %(count)d characters of the name, "
                                     "or a whole reference", count=NAME_SEARCH_MIN))

    @property
    def due_days(self) -> int:
        text = (self.days.data or "").strip()
        return int(text) if text.isascii() and text.isdigit() else queue.DEFAULT_DUE_DAYS

    def to_filters(self) -> queue.Filters:
        """The validated filters (call after ``validate()``)."""
        text = self.q.data or ""
        reference = normalise_reference(text) if text else None
        return queue.Filters(
            service=self.service.data or None, state=self.state.data or None,
            assigned=self.assigned.data or None, due=self.due.data or None,
            days=self.due_days, reference=reference,
            name=text if text and reference is None else None,
        )

    def query_args(self) -> dict[str, str]:
        """The filters as given, for links that keep them (only this form's fields)."""
        args = {name: self[name].data for name in ("service", "state", "assigned", "due", "q")
                if self[name].data}
        if self.due.data == queue.DUE_SOON or (
                self.days.data and self.days.data != str(queue.DEFAULT_DUE_DAYS)):
            args["days"] = self.days.data
        return args


class CasesField(Field):
    """The ticked rows: each value is ``REFERENCE:assignee id`` as the page showed it
    (empty after the colon: unassigned), so each case is assigned only if unchanged."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = list(valuelist)

    def _value(self) -> str:
        return ""

    def parsed(self) -> tuple[list[tuple[str, int | None]], int]:
        """``([(reference, expected assignee id)], count of unreadable values)``."""
        cases: dict[str, int | None] = {}
        unreadable = 0
        for value in self.data or []:
            reference, _, expected = str(value).partition(":")
            canonical = normalise_reference(reference) if len(value) <= 40 else None
            if canonical is None or not (expected == "" or expected.isdigit()):
                unreadable += 1
                continue
            cases.setdefault(canonical, int(expected) if expected else None)
        return list(cases.items()), unreadable


class BulkAssignForm(PortalForm):
    cases = CasesField()
    assignee = ChoiceField(_l("Assign the selected cases to"),
                           [DataRequired(_l("Choose who to assign the selected cases to"))],
                           choices=as_choices([("", "")]),
                           invalid=_l("Choose someone from the list"))
    #: The queue's query string, to go back to the same filters and page.
    view = HiddenField()
    submit = SubmitButton(_l("Assign"))

    def validate_cases(self, field: Any) -> None:
        if not field.data:
            raise ValidationError(_l("Select at least one case to assign"))
        if len(field.data) > BULK_LIMIT:
            raise ValidationError(_l("Select no more than %(count)d cases at a time",
                                     count=BULK_LIMIT))

    def validate_view(self, field: Any) -> None:
        if field.data and len(field.data) > 2000:
            field.data = ""  # only ever the way back: start from the first page instead

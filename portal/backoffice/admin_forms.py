"""Forms of the back office's administration pages: departments, staff roles, department
settings and the audit log's filters."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField
from wtforms.validators import InputRequired, Optional

from portal.applications.fields import DateField
from portal.forms import (
    PortalForm,
    RadiosField,
    SelectListField,
    SubmitButton,
    TextField,
    ValidationError,
    as_choices,
)
from portal.identity.forms import ROLE_LABELS
from portal.identity.models import DEPARTMENT_ROLES

#: The largest refund threshold accepted, in cents (HK$10,000,000; the column is 32-bit).
MAX_THRESHOLD = 1_000_000_000
_AMOUNT = re.compile(r"^(\d+(\.\d*)?|\.\d+)$")
_CURRENCY_PREFIX = re.compile(r"^(HK\$|\$|HKD)", re.IGNORECASE)
#: An application reference, an id or a code, as the audit log's target filter takes it.
_TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:/-]*$")


class CheckedSelect(SelectListField):
    """A select whose "not one of the choices" message is the portal's own (translated)."""

    def __init__(self, *args: Any, invalid_message: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("validate_choice", False)
        super().__init__(*args, **kwargs)
        self.invalid_message = invalid_message or _l("Select an option from the list")

    def pre_validate(self, form: Any) -> None:
        if self.data and self.data not in {choice.value for choice in self.choices}:
            raise ValidationError(self.invalid_message)


class DepartmentForm(PortalForm):
    code = TextField(
        _l("Code"),
        [InputRequired(_l("Enter the department's code"))],
        max_length=8,
        description=_l("2 to 8 capital letters, like TD. It appears in receipt numbers and "
                       "cannot change once the department has staff or applications."),
    )
    name_en = TextField(_l("Name in English"),
                        [InputRequired(_l("Enter the department's name in English"))],
                        max_length=200)
    name_zh = TextField(_l("Name in Chinese"),
                        [InputRequired(_l("Enter the department's name in Chinese"))],
                        max_length=100)
    #: A digest of the department as the form showed it (compare-and-set).
    seen = HiddenField()
    submit = SubmitButton(_l("Save department"))

    def validate_code(self, field: Any) -> None:
        from portal.backoffice.admin import CODE_PATTERN

        field.data = (field.data or "").upper()
        if not CODE_PATTERN.match(field.data):
            raise ValidationError(_l("Enter a code of 2 to 8 letters, like TD"))


class StaffEditForm(PortalForm):
    role = RadiosField(
        _l("Role"),
        [InputRequired(_l("Select a role"))],
        choices=as_choices([(role.value, label) for role, label in ROLE_LABELS.items()]),
    )
    department = CheckedSelect(_l("Department"), choices=[], default="",
                               invalid_message=_l("Select a department from the list"))
    #: The role and department the administrator saw (``role:department id``).
    seen = HiddenField()
    submit = SubmitButton(_l("Save changes"))

    def validate_department(self, field: Any) -> None:
        if self.role.data in {r.value for r in DEPARTMENT_ROLES} and not field.data:
            raise ValidationError(_l("Select the department this person works in"))


class ConfirmForm(PortalForm):
    """A button that changes something (CSRF only)."""

    submit = SubmitButton(_l("Continue"))


def parse_threshold(text: str) -> int:
    """A threshold typed in HK$ (``1,000``, ``HK$500.50``) in cents; zero allowed.

    :raises ValidationError: with the message for the person typing it.
    """
    compact = _CURRENCY_PREFIX.sub("", text.replace(",", "").replace(" ", ""))
    if not _AMOUNT.match(compact):
        raise ValidationError(_l("Enter the amount as a number, like 1000.00"))
    try:
        value = Decimal(compact)
    except InvalidOperation as exc:  # pragma: no cover - the pattern lets none through
        raise ValidationError(_l("Enter the amount as a number, like 1000.00")) from exc
    if "." in compact and len(compact.split(".", 1)[1]) > 2:
        raise ValidationError(_l("Enter the amount with no more than 2 decimal places, "
                                 "like 1000.50"))
    cents = int(value * 100)
    ceiling = highest_threshold()
    if cents > ceiling:
        from portal.i18n import format_hkd

        raise ValidationError(_l("Enter an amount of %(amount)s or less",
                                 amount=format_hkd(ceiling)))
    return cents


def highest_threshold() -> int:
    """The highest refund approval threshold a department may set (cents): the operator's
    ``REFUND_APPROVAL_THRESHOLD_MAX``, so no department can switch four eyes off."""
    from flask import current_app

    return min(int(current_app.config["REFUND_APPROVAL_THRESHOLD_MAX"]), MAX_THRESHOLD)


class DepartmentSettingsForm(PortalForm):
    threshold = TextField(
        _l("Refunds above this amount need a second person's approval, in HK$"),
        [InputRequired(message=_l("Enter the amount above which a refund needs approval"))],
        max_length=20,
        description=_l("For example, 1000.00. Enter 0 for every refund to need approval."),
    )
    #: The threshold the administrator saw, in cents ("" for none).
    seen = HiddenField()
    submit = SubmitButton(_l("Save settings"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The threshold in cents (None: never), once the form validated.
        self.cents: int | None = None

    def validate_threshold(self, field: Any) -> None:
        self.cents = parse_threshold(field.data)


class AuditFilterForm(PortalForm):
    """The audit log's filters (a GET form: reading changes nothing, so no CSRF)."""

    class Meta:
        csrf = False

    action = CheckedSelect(_l("Action"), choices=[], default="")
    actor = CheckedSelect(_l("Done by"), choices=[], default="")
    target = TextField(_l("Target"), [Optional()], max_length=64,
                       description=_l("An application reference, like K7MX-4P9Q-R, or an "
                                      "id shown in the Target column."))
    # No Optional(): it would hide "enter the date as numbers" when only the day is blank.
    date_from = DateField(_l("From"), description=_l("For example, 27 3 2026"))
    date_to = DateField(_l("To"), description=_l("For example, 27 3 2026"))
    submit = SubmitButton(_l("Filter"))

    def validate_target(self, field: Any) -> None:
        if field.data and not _TARGET.match(field.data):
            raise ValidationError(_l("Enter a reference or id using letters, digits and "
                                     "dashes only"))

    def validate_date_to(self, field: Any) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date must be the same as or after the start "
                                     "date"))

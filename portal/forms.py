"""The base of every form in the portal, and fields shared across areas.

``PortalForm`` adds what every form needs on top of Flask-WTF (CSRF): text is trimmed,
control characters are refused with a field error, and fields the form does not declare
are never read, so posting ``status=approved`` or ``fee=0`` changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovPasswordInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import PasswordField, RadioField, SelectField, StringField, SubmitField
from wtforms import TextAreaField as _TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation, ValidationError

__all__ = [
    "as_choices",
    "EmailField",
    "PasswordInputField",
    "PortalForm",
    "RadiosField",
    "SelectListField",
    "SubmitButton",
    "TextAreaField",
    "TextField",
    "ValidationError",
    "contains_control_characters",
    "error_summary",
]

# C0 and C1 controls (line breaks apart), zero-width and bidirectional override characters
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]"
)
_LINE_BREAKS = re.compile(r"[\r\n\t]")


def contains_control_characters(value: str, *, multiline: bool = False) -> bool:
    if _CONTROL.search(value):
        return True
    return not multiline and bool(_LINE_BREAKS.search(value))


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value.strip())
    return value


class _TranslatedErrorPrefix:
    """GOV.UK Frontend reads "Error:" to screen readers before a field's message, and
    govuk-frontend-wtf leaves that prefix in English. Every widget the portal uses gets it
    in the page's language here, once, instead of in each template."""

    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)  # type: ignore[misc]
        if params.get("errorMessage"):
            params["errorMessage"]["visuallyHiddenText"] = gettext("Error")
        return params


class _TextInput(_TranslatedErrorPrefix, GovTextInput):
    pass


class _TextArea(_TranslatedErrorPrefix, GovTextArea):
    pass


class _PasswordInput(_TranslatedErrorPrefix, GovPasswordInput):
    pass


class _RadioInput(_TranslatedErrorPrefix, GovRadioInput):
    pass


class _Select(_TranslatedErrorPrefix, GovSelect):
    pass


def as_choices(pairs: Any) -> list[SelectChoice]:
    """Choices for radios and selects from ``(value, label)`` pairs."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


def _check_text(field: Any, *, multiline: bool) -> None:
    """Refuse control characters and over-long answers before any other check."""
    value = field.data
    if not isinstance(value, str) or not value:
        return
    if contains_control_characters(value, multiline=multiline):
        raise StopValidation(_l("Remove the special characters from this answer"))
    if field.max_length and len(value) > field.max_length:
        raise StopValidation(
            _l("Answer must be %(count)d characters or fewer", count=field.max_length)
        )


class TextField(StringField):
    """A single-line text input with a maximum length."""

    widget = _TextInput()

    def __init__(self, label: Any = None, validators: Any = None, *, max_length: int = 200,
                 **kwargs: Any) -> None:
        kwargs.setdefault("filters", [_strip])
        super().__init__(label, validators, **kwargs)
        self.max_length = max_length

    def pre_validate(self, form: Any) -> None:
        _check_text(self, multiline=False)


class TextAreaField(_TextAreaField):
    widget = _TextArea()

    def __init__(self, label: Any = None, validators: Any = None, *, max_length: int = 5000,
                 **kwargs: Any) -> None:
        kwargs.setdefault("filters", [_strip])
        super().__init__(label, validators, **kwargs)
        self.max_length = max_length

    def pre_validate(self, form: Any) -> None:
        _check_text(self, multiline=True)


class EmailField(TextField):
    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, max_length=254, **kwargs)

    def pre_validate(self, form: Any) -> None:
        super().pre_validate(form)
        if not self.data:
            return
        try:
            result = validate_email(self.data, check_deliverability=False)
        except EmailNotValidError as exc:
            raise StopValidation(
                _l("Enter an email address in the correct format, like name@example.com")
            ) from exc
        self.data = result.normalized.lower()


class PasswordInputField(PasswordField):
    widget = _PasswordInput()

    def pre_validate(self, form: Any) -> None:
        # Anything up to this length is checked by the password rules; longer input is
        # refused before it reaches the (deliberately slow) hash.
        if isinstance(self.data, str) and len(self.data) > 1024:
            raise StopValidation(_l("Answer must be %(count)d characters or fewer", count=1024))


class RadiosField(RadioField):
    widget = _RadioInput()


class SelectListField(SelectField):
    widget = _Select()


class SubmitButton(SubmitField):
    widget = GovSubmitInput()


class PortalForm(FlaskForm):
    """Every form's base. Text fields trim input, refuse control characters and enforce
    their maximum length (see ``TextField``); CSRF comes from Flask-WTF."""


def error_summary(form: FlaskForm) -> list[dict[str, str]]:
    """Errors in the order of the fields, linked to each field, for the error summary."""
    items = []
    for field in form:
        if field.errors:
            # A radio group's first option carries the field's id, so this focuses it too.
            # A date's first box is its day.
            anchor = f"{field.name}-day" if field.type == "DateField" else field.id
            items.append({"text": str(field.errors[0]), "href": f"#{anchor}"})
    return items


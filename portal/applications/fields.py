"""Question types for service forms beyond plain text: dates, numbers, a confirmation box
and a supporting document.

Every message is translated and specific (GOV.UK's error message patterns), and bad input
(an impossible date, "two" copies, a renamed executable) is a field error, never a 500.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovDateInput,
    GovFileInput,
    GovTextInput,
)
from wtforms import BooleanField, Field
from wtforms.validators import StopValidation

from portal.forms import _TranslatedErrorPrefix

__all__ = ["ConfirmField", "DateField", "UploadField", "WholeNumberField"]


class _DateInput(_TranslatedErrorPrefix, GovDateInput):
    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)
        for item, label in zip(params["items"], (gettext("Day"), gettext("Month"),
                                                 gettext("Year")), strict=True):
            item["label"] = label
            item["inputmode"] = "numeric"
        if field.description:
            params["hint"] = {"text": str(field.description)}
        return params


class DateField(Field):
    """A date asked as day, month and year (GOV.UK date input).

    ``past_only`` refuses dates after today (a date of birth); ``future_only`` refuses
    dates before today.
    """

    widget = _DateInput()

    def __init__(self, label: Any = None, validators: Any = None, *, past_only: bool = False,
                 future_only: bool = False, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.past_only, self.future_only = past_only, future_only

    def _value(self) -> str:
        return self.data.strftime("%d %m %Y") if isinstance(self.data, date) else ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        parts = [str(value).strip() for value in valuelist][:3]
        parts += [""] * (3 - len(parts))
        self.raw_data = parts
        if not any(parts):
            self.data = None
            return
        if not all(re.fullmatch(r"\d{1,4}", part) for part in parts):
            self.data = None
            raise ValueError(_l("Enter the date as numbers, for example 27 3 2007"))
        day, month, year = (int(part) for part in parts)
        try:
            if not 1900 <= year <= 2200:
                raise ValueError
            self.data = date(year, month, day)
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter a real date, for example 27 3 2007")) from None

    def pre_validate(self, form: Any) -> None:
        if self.process_errors or self.data is None:
            return
        from portal.i18n import hong_kong_today

        today = hong_kong_today()
        if self.past_only and self.data > today:
            raise StopValidation(_l("The date must be today or in the past"))
        if self.future_only and self.data < today:
            raise StopValidation(_l("The date must be today or in the future"))


class _NumberInput(_TranslatedErrorPrefix, GovTextInput):
    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)
        params["inputmode"] = "numeric"
        params["classes"] = (params.get("classes", "") + " govuk-input--width-4").strip()
        return params


class WholeNumberField(Field):
    """A whole number from ``minimum`` to ``maximum`` (say, number of copies)."""

    widget = _NumberInput()

    def __init__(self, label: Any = None, validators: Any = None, *, minimum: int = 0,
                 maximum: int = 999, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else str(self.data)

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if not text:
            return
        if not re.fullmatch(r"\d{1,6}", text):
            raise ValueError(_l("Enter a whole number, like 2"))
        self.data = int(text)

    def pre_validate(self, form: Any) -> None:
        if self.process_errors or self.data is None:
            return
        if not self.minimum <= self.data <= self.maximum:
            raise StopValidation(_l("Enter a number from %(minimum)d to %(maximum)d",
                                    minimum=self.minimum, maximum=self.maximum))


class _Checkbox(_TranslatedErrorPrefix, GovCheckboxInput):
    pass


class ConfirmField(BooleanField):
    """One box the citizen ticks to confirm a statement (a health declaration)."""

    widget = _Checkbox()
    false_values = (False, "false", "", "n", "no", "0")


class _FileInput(_TranslatedErrorPrefix, GovFileInput):
    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)
        accept = ",".join(MIME_TYPES[kind] for kind in field.kinds)
        params.setdefault("attributes", {})["accept"] = accept
        # GOV.UK's enhanced upload: a drop zone and a button in the page's language,
        # instead of the browser's own control, which speaks the browser's language.
        params.update({
            "javascript": True,
            "chooseFilesButtonText": gettext("Choose file"),
            "noFileChosenText": gettext("No file chosen"),
            "dropInstructionText": gettext("or drop file"),
            "enteredDropZoneText": gettext("Entered drop zone"),
            "leftDropZoneText": gettext("Left drop zone"),
        })
        hint = str(field.description) if field.description else ""
        if field.uploaded_name:
            current = gettext("Uploaded: %(name)s. Choose a file only if you want to replace it.",
                              name=field.uploaded_name)
            hint = f"{hint} {current}".strip()
        if hint:
            params["hint"] = {"text": hint}
        return params


#: What each kind of document is, by its first bytes (never by its name).
MIME_TYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}
KIND_NAMES = {"pdf": "PDF", "jpeg": "JPG", "png": "PNG"}


class UploadField(Field):
    """A supporting document: PDF, JPEG or PNG (checked from content), up to ``max_bytes``.

    The core stores the file when the step is posted; the answer is the upload's id.
    """

    widget = _FileInput()

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # Checked where the form class is written, so a plugin with a mistake fails to load.
        kinds = kwargs.get("kinds", ("pdf", "jpeg", "png"))
        if not kinds or set(kinds) - set(MIME_TYPES):
            raise ValueError(f"upload kinds must be among {sorted(MIME_TYPES)}")
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, label: Any = None, validators: Any = None, *,
                 kinds: tuple[str, ...] = ("pdf", "jpeg", "png"),
                 max_bytes: int = 5 * 1024 * 1024, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.kinds = tuple(kinds)
        self.max_bytes = max_bytes
        #: The file name of the upload already given, shown next to the chooser.
        self.uploaded_name: str | None = None

    def _value(self) -> str:
        return ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        value = valuelist[0] if valuelist else None
        self.data = value if isinstance(value, str) and value else None

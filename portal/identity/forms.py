"""Forms of the identity area."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from flask_babel import lazy_gettext as _l
from wtforms.validators import InputRequired, Optional

from portal.forms import (
    EmailField,
    PasswordInputField,
    PortalForm,
    RadiosField,
    SelectListField,
    SubmitButton,
    TextField,
    ValidationError,
    as_choices,
)
from portal.identity.districts import DISTRICTS
from portal.identity.hkid import InvalidHKID, normalise_hkid
from portal.identity.models import DEPARTMENT_ROLES, Role
from portal.identity.passwords import MAX_LENGTH, MIN_LENGTH, password_problem

# English names: Latin letters (with accents), spaces, hyphens, apostrophes, full stops.
_NAME_EN = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ' .,\-’]*$")
# Chinese names: CJK ideographs (with extensions), the middle dot, spaces.
_NAME_ZH = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134a·・ ]+$")

LANGUAGE_CHOICES = [("en", "English"), ("zh_Hant_HK", "繁體中文")]


def language_choices() -> Any:
    return as_choices(LANGUAGE_CHOICES)


def _password_messages() -> dict[str, Any]:
    return {
        "too_short": _l("Password must be %(count)d characters or more", count=MIN_LENGTH),
        "too_long": _l("Password must be %(count)d characters or fewer", count=MAX_LENGTH),
        "common": _l(
            "Choose a password that is harder to guess: this one is too common or simple"
        ),
    }


def check_new_password(password: str, related: list[str]) -> None:
    problem = password_problem(password, related)
    if problem:
        raise ValidationError(_password_messages()[problem])


def validate_name_en(_form: Any, field: Any) -> None:
    if field.data and not _NAME_EN.match(field.data):
        raise ValidationError(
            _l("Enter your name in English using letters, spaces, hyphens and apostrophes only")
        )


def validate_name_zh(_form: Any, field: Any) -> None:
    if field.data and not _NAME_ZH.match(field.data):
        raise ValidationError(_l("Enter your name in Chinese characters only"))


class RegisterForm(PortalForm):
    email = EmailField(
        _l("Email address"),
        [InputRequired(_l("Enter your email address"))],
        description=_l("We will send a link to this address to confirm it is yours."),
    )
    name_en = TextField(
        _l("Full name in English"),
        [InputRequired(_l("Enter your full name in English")), validate_name_en],
        max_length=100,
        description=_l("As shown on your identity document."),
    )
    name_zh = TextField(
        _l("Full name in Chinese (optional)"), [Optional(), validate_name_zh], max_length=50
    )
    password = PasswordInputField(
        _l("Create a password"),
        [InputRequired(_l("Enter a password"))],
        description=_l(
            "Use %(min)d to %(max)d characters. A few unrelated words are easy to remember "
            "and hard to guess.", min=MIN_LENGTH, max=MAX_LENGTH,
        ),
    )
    preferred_language = RadiosField(
        _l("Which language should we use for emails and pages?"),
        [InputRequired(_l("Select the language you prefer"))],
        choices=language_choices(),
        default="en",
    )
    submit = SubmitButton(_l("Create account"))

    def validate_password(self, field: Any) -> None:
        check_new_password(field.data or "", [self.email.data or "", self.name_en.data or ""])


class SignInForm(PortalForm):
    email = EmailField(_l("Email address"), [InputRequired(_l("Enter your email address"))])
    password = PasswordInputField(_l("Password"), [InputRequired(_l("Enter your password"))])
    submit = SubmitButton(_l("Sign in"))


class TwoFactorForm(PortalForm):
    code = TextField(
        _l("Security code"),
        [InputRequired(_l("Enter the 6-digit security code from your authenticator app"))],
        max_length=10,
        description=_l("The 6-digit code shown in your authenticator app."),
    )
    submit = SubmitButton(_l("Continue"))

    def validate_code(self, field: Any) -> None:
        field.data = re.sub(r"\s", "", field.data or "")
        if not re.fullmatch(r"\d{6}", field.data):
            raise ValidationError(_l("The security code must be 6 digits"))


class EmailOnlyForm(PortalForm):
    email = EmailField(_l("Email address"), [InputRequired(_l("Enter your email address"))])
    submit = SubmitButton(_l("Send the link"))


class NewPasswordForm(PortalForm):
    password = PasswordInputField(
        _l("New password"),
        [InputRequired(_l("Enter a new password"))],
        description=_l("Use %(min)d to %(max)d characters.", min=MIN_LENGTH, max=MAX_LENGTH),
    )
    submit = SubmitButton(_l("Save password"))

    #: Set by the view: the account's email and name, which a password must not echo.
    related: list[str] = []

    def validate_password(self, field: Any) -> None:
        check_new_password(field.data or "", self.related)


class ChangePasswordForm(PortalForm):
    current_password = PasswordInputField(
        _l("Current password"), [InputRequired(_l("Enter your current password"))]
    )
    password = PasswordInputField(
        _l("New password"),
        [InputRequired(_l("Enter a new password"))],
        description=_l("Use %(min)d to %(max)d characters.", min=MIN_LENGTH, max=MAX_LENGTH),
    )
    submit = SubmitButton(_l("Change password"))

    related: list[str] = []

    def validate_password(self, field: Any) -> None:
        check_new_password(field.data or "", self.related)


class ProfileForm(PortalForm):
    name_en = TextField(
        _l("Full name in English"),
        [InputRequired(_l("Enter your full name in English")), validate_name_en],
        max_length=100,
    )
    name_zh = TextField(
        _l("Full name in Chinese (optional)"), [Optional(), validate_name_zh], max_length=50
    )
    preferred_language = RadiosField(
        _l("Preferred language"),
        [InputRequired(_l("Select the language you prefer"))],
        choices=language_choices(),
    )
    mobile = TextField(
        _l("Mobile phone number (optional)"),
        [Optional()],
        max_length=20,
        description=_l("A Hong Kong number, like 9123 4567."),
    )
    address_flat = TextField(_l("Flat, floor and block (optional)"), [Optional()], max_length=100)
    address_building = TextField(_l("Building or estate (optional)"), [Optional()], max_length=100)
    address_street = TextField(_l("Street and number (optional)"), [Optional()], max_length=150)
    district = SelectListField(
        _l("District (optional)"),
        [Optional()],
        choices=as_choices([("", _l("Select a district")), *DISTRICTS.items()]),
        default="",
    )
    hkid = TextField(
        _l("Hong Kong Identity Card number (optional)"),
        [Optional()],
        max_length=14,
        description=_l(
            "Including the check digit in brackets, like A123456(3). Leave blank to keep "
            "the number we hold."
        ),
    )
    submit = SubmitButton(_l("Save changes"))

    def validate_mobile(self, field: Any) -> None:
        if not field.data:
            return
        try:
            number = phonenumbers.parse(field.data, "HK")
        except phonenumbers.NumberParseException as exc:
            raise ValidationError(
                _l("Enter a Hong Kong mobile number with 8 digits, like 9123 4567")
            ) from exc
        is_mobile = phonenumbers.number_type(number) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
        if number.country_code != 852 or not phonenumbers.is_valid_number(number) or not is_mobile:
            raise ValidationError(
                _l("Enter a Hong Kong mobile number with 8 digits, like 9123 4567")
            )
        field.data = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def validate_district(self, field: Any) -> None:
        if field.data and field.data not in DISTRICTS:
            raise ValidationError(_l("Select a district from the list"))

    def validate_hkid(self, field: Any) -> None:
        if not field.data:
            return
        try:
            field.data = normalise_hkid(field.data)
        except InvalidHKID as exc:
            raise ValidationError(
                _l("Enter a valid Hong Kong Identity Card number, like A123456(3)")
            ) from exc


ROLE_LABELS = {
    Role.OFFICER: _l("Officer"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.DEPARTMENT_ADMIN: _l("Department administrator"),
    Role.PORTAL_ADMIN: _l("Portal administrator"),
}


class StaffCreateForm(PortalForm):
    email = EmailField(
        _l("Email address"), [InputRequired(_l("Enter the staff member's email address"))]
    )
    name_en = TextField(
        _l("Full name in English"),
        [InputRequired(_l("Enter the staff member's full name in English")), validate_name_en],
        max_length=100,
    )
    name_zh = TextField(
        _l("Full name in Chinese (optional)"), [Optional(), validate_name_zh], max_length=50
    )
    role = RadiosField(
        _l("Role"),
        [InputRequired(_l("Select a role"))],
        choices=as_choices([(role.value, label) for role, label in ROLE_LABELS.items()]),
    )
    department = SelectListField(_l("Department"), choices=[], default="")
    submit = SubmitButton(_l("Create staff account"))

    def validate_department(self, field: Any) -> None:
        if self.role.data in {r.value for r in DEPARTMENT_ROLES} and not field.data:
            raise ValidationError(_l("Select the department this person works in"))

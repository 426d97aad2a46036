"""The questions of a driving licence renewal, one form per step."""

from __future__ import annotations

from typing import Any

from portal.toolkit import (
    AddressForm,
    ConfirmField,
    InputRequired,
    InvalidHKID,
    RadiosField,
    ServiceForm,
    TextAreaField,
    TextField,
    UploadField,
    ValidationError,
    as_choices,
    normalise_hkid,
)

from .fees import FULL_LICENCE_FEES
from .i18n import _

PHOTO_MAX_BYTES = 2 * 1024 * 1024

LICENCE_TYPES = as_choices([
    ("full", _("Full driving licence")),
    ("probationary", _("Probationary driving licence")),
])

VALIDITY_PERIODS = as_choices([
    ("10_years", _("10 years: HK$%(fee)d", fee=FULL_LICENCE_FEES["10_years"] // 100)),
    ("3_years", _("3 years, if you are 70 or over: HK$%(fee)d",
                  fee=FULL_LICENCE_FEES["3_years"] // 100)),
    ("1_year", _("1 year, if you are 70 or over: HK$%(fee)d",
                 fee=FULL_LICENCE_FEES["1_year"] // 100)),
])

YES_NO = as_choices([("yes", _("Yes")), ("no", _("No"))])


class LicenceDetailsForm(ServiceForm):
    licence_number = TextField(
        _("Driving licence number"),
        [InputRequired(message=_("Enter your driving licence number"))],
        max_length=20,
        description=_("This is the identity card number printed on your licence, "
                      "like A123456(3)"),
    )

    def validate_licence_number(self, field: Any) -> None:
        try:
            # A Hong Kong driving licence carries its holder's identity card number.
            field.data = normalise_hkid(field.data)
        except InvalidHKID as exc:
            if exc.reason == "check":
                raise ValidationError(_(
                    "Check your driving licence number: the character in brackets does "
                    "not match the rest of the number"
                )) from None
            raise ValidationError(_(
                "Enter your driving licence number in the right format: 1 or 2 letters, "
                "6 numbers and a check character, like A123456(3)"
            )) from None


class LicenceTypeForm(ServiceForm):
    licence_type = RadiosField(
        _("Which driving licence are you renewing?"),
        [InputRequired(message=_("Select the type of driving licence you are renewing"))],
        choices=LICENCE_TYPES,
        invalid_choice_message=_("Select the type of driving licence you are renewing"),
    )


class ValidityForm(ServiceForm):
    validity_period = RadiosField(
        _("How long should your new licence be valid for?"),
        [InputRequired(message=_("Select how long your new licence should be valid for"))],
        choices=VALIDITY_PERIODS,
        invalid_choice_message=_("Select how long your new licence should be valid for"),
        description=_("A licence for 1 or 3 years is only for drivers aged 70 or over."),
    )


class PhotoForm(ServiceForm):
    photo = UploadField(
        _("Upload a photo of yourself"),
        [InputRequired(message=_("Upload a photo of yourself"))],
        kinds=("jpeg", "png"),
        max_bytes=PHOTO_MAX_BYTES,
        description=_("A recent colour photo of your face, taken against a plain "
                      "background. JPG or PNG, up to 2 MB."),
    )


class LicenceAddressForm(AddressForm):
    """Where the new licence is posted; prefilled from the profile."""


class HealthForm(ServiceForm):
    medical_condition = RadiosField(
        _("Do you have a medical condition to declare?"),
        [InputRequired(message=_("Select yes if you have a medical condition to declare"))],
        choices=YES_NO,
        invalid_choice_message=_("Select yes if you have a medical condition to declare"),
        description=_("For example epilepsy, diabetes treated with insulin, a heart "
                      "condition, or a condition that affects your eyesight."),
    )
    medical_details = TextAreaField(
        _("If you answered yes, give details of your condition (optional otherwise)"),
        max_length=2000,
    )
    health_declaration = ConfirmField(
        _("I declare that I do not suffer from any disease or disability that would "
          "make me a danger when driving"),
    )

    def validate_medical_details(self, field: Any) -> None:
        if self.medical_condition.data == "yes" and not field.data:
            raise ValidationError(_("Give details of your medical condition"))

    def validate_health_declaration(self, field: Any) -> None:
        if not field.data:
            raise ValidationError(_(
                "Confirm the health declaration. If you cannot, apply at a Transport "
                "Department licensing office instead"
            ))

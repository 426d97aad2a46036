"""The questions of an application for certified copies of a birth record."""

from __future__ import annotations

from portal.toolkit import (
    AddressForm,
    DateField,
    InputRequired,
    Optional,
    RadiosField,
    Regexp,
    ServiceForm,
    TextField,
    WholeNumberField,
    as_choices,
)

from .fees import FEE_PER_COPY, MAX_COPIES
from .i18n import _

DELIVERY_METHODS = as_choices([
    ("collect", _("Collect them from a births registry")),
    ("post", _("Send them by post to an address in Hong Kong")),
])

#: Registries where certified copies can be collected (names as ImmD gave them in the
#: pages consulted; the list must be confirmed with the department before going live).
OFFICES = as_choices([
    ("general_register_office", _("Births and Deaths General Register Office")),
    ("kowloon", _("Kowloon Births Registry")),
    ("sha_tin", _("Sha Tin District Births Registry")),
    ("tuen_mun", _("Tuen Mun District Births Registry")),
])


class ParticularsForm(ServiceForm):
    name_en = TextField(
        _("Name in English"),
        [InputRequired(message=_("Enter the name in English, as it is on the birth record"))],
        max_length=100,
        description=_("Surname first, as on the birth record, like CHAN Tai Man"),
    )
    name_zh = TextField(_("Name in Chinese (optional)"), [Optional()], max_length=20)
    date_of_birth = DateField(
        _("Date of birth"),
        [InputRequired(message=_("Enter the date of birth"))],
        past_only=True,
        description=_("For example, 27 3 2007"),
    )
    place_of_birth = TextField(
        _("Place of birth"),
        [InputRequired(message=_("Enter the place of birth, like the name of the hospital"))],
        max_length=150,
    )
    father_name = TextField(_("Father's name (optional)"), [Optional()], max_length=100)
    mother_name = TextField(_("Mother's name (optional)"), [Optional()], max_length=100)
    registration_number = TextField(
        _("Birth registration number (optional)"),
        [
            Optional(),
            Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9 /-]*$",
                message=_("Enter the registration number with letters, numbers, spaces, "
                          "hyphens and slashes only, as it is on the birth certificate"),
            ),
        ],
        max_length=30,
        description=_("If you have the birth certificate, the entry number is on it. "
                      "It helps us find the record faster."),
    )


class CopiesForm(ServiceForm):
    copies = WholeNumberField(
        _("How many certified copies do you need?"),
        [InputRequired(message=_("Enter how many certified copies you need"))],
        minimum=1,
        maximum=MAX_COPIES,
        description=_("From 1 to %(most)d. Each copy costs HK$%(fee)d.", most=MAX_COPIES,
                      fee=FEE_PER_COPY // 100),
    )


class DeliveryForm(ServiceForm):
    delivery_method = RadiosField(
        _("How do you want to get the copies?"),
        [InputRequired(message=_("Select how you want to get the copies"))],
        choices=DELIVERY_METHODS,
        invalid_choice_message=_("Select how you want to get the copies"),
    )


class CollectionOfficeForm(ServiceForm):
    collection_office = RadiosField(
        _("Where will you collect the copies?"),
        [InputRequired(message=_("Select the registry where you will collect the copies"))],
        choices=OFFICES,
        invalid_choice_message=_("Select the registry where you will collect the copies"),
        description=_("Bring your identity card when you collect them."),
    )


class DeliveryAddressForm(AddressForm):
    """Where the copies are posted; prefilled from the profile."""

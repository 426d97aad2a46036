"""Forms the core offers every service: a Hong Kong address ("tell us once")."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms.validators import InputRequired, Optional, ValidationError

from portal.forms import PortalForm, SelectListField, TextField, as_choices
from portal.identity.districts import DISTRICTS


class AddressForm(PortalForm):
    """A Hong Kong address (no postcode; the district locates it).

    Subclass it as a step's form; ``profile_address(user)`` prefills it from the profile.
    """

    address_flat = TextField(_l("Flat, floor and block (optional)"), [Optional()], max_length=100)
    address_building = TextField(_l("Building or estate (optional)"), [Optional()], max_length=100)
    address_street = TextField(
        _l("Street and number"),
        [InputRequired(_l("Enter the street name and number"))],
        max_length=150,
    )
    district = SelectListField(
        _l("District"),
        [InputRequired(_l("Select a district"))],
        choices=as_choices([("", _l("Select a district")), *DISTRICTS.items()]),
        default="",
        invalid_choice_message=_l("Select a district from the list"),
    )

    def validate_district(self, field: Any) -> None:
        if field.data not in DISTRICTS:
            raise ValidationError(_l("Select a district from the list"))


def profile_address(user: Any) -> dict[str, str]:
    """The address on the citizen's profile, as answers for ``AddressForm``."""
    return {
        "address_flat": user.address_flat or "",
        "address_building": user.address_building or "",
        "address_street": user.address_street or "",
        "district": user.district or "",
    }

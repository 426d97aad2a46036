"""Forms the core offers every service (a Hong Kong address, "tell us once"), and the
citizen's reply to a request for more information."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from portal.applications.fields import UploadField, _FileInput
from portal.applications.replies import MAX_REPLY_LENGTH
from portal.forms import (
    PortalForm,
    SelectListField,
    SubmitButton,
    TextAreaField,
    TextField,
    as_choices,
)
from portal.identity.districts import DISTRICTS

#: Most documents a reply can carry (the request's size limit bounds them all together).
MAX_REPLY_DOCUMENTS = 5


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


class _DocumentsInput(_FileInput):
    """A file chooser that takes several files, with its words in the page's language."""

    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)
        params["multiple"] = True
        # GOV.UK Frontend fills in %{count} itself (plural forms of the page's language).
        params["multipleFilesChosenText"] = {"one": gettext("%{count} file chosen"),
                                             "other": gettext("%{count} files chosen")}
        return params


class DocumentsField(UploadField):
    """Optional supporting documents: the view stores each one as ``store_upload`` does
    for a step (type from content, size limit), so this field only shows the chooser."""

    widget = _DocumentsInput()


class ReplyForm(PortalForm):
    """The citizen's answer to a request for more information."""

    message = TextAreaField(
        _l("Your reply"),
        [DataRequired(_l("Enter your reply"))],
        max_length=MAX_REPLY_LENGTH,
        description=_l("Up to %(count)d characters.", count=MAX_REPLY_LENGTH),
    )
    documents = DocumentsField(
        _l("Documents (optional)"),
        description=_l("PDF, JPG or PNG, each smaller than 5 MB. You can choose up to "
                       "%(count)d files.", count=MAX_REPLY_DOCUMENTS),
    )
    submit = SubmitButton(_l("Send reply"))

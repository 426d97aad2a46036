"""The only module a service plugin imports from.

Everything here is a stable promise to plugin authors: a name is deprecated for a release
before it is removed. Anything not in ``__all__`` is internal and may change.
"""

from __future__ import annotations

from flask_babel import lazy_gettext
from wtforms.validators import InputRequired, Length, Optional, Regexp

from portal.applications.fields import ConfirmField, DateField, UploadField, WholeNumberField
from portal.applications.forms import AddressForm, profile_address
from portal.extensions import db
from portal.forms import (
    EmailField,
    RadiosField,
    SelectListField,
    TextAreaField,
    TextField,
    ValidationError,
    as_choices,
)
from portal.forms import PortalForm as _PortalForm
from portal.i18n import current_locale, format_day, format_hkd
from portal.identity.districts import DISTRICTS
from portal.identity.hkid import InvalidHKID, mask_hkid, normalise_hkid
from portal.plugins.hookspecs import hookimpl
from portal.plugins.service import (
    AWAITING_INFORMATION,
    INFORMATION_PROVIDED,
    PAY_THEN_DECIDE,
    REQUEST_INFORMATION,
    TOPICS,
    DocumentSpec,
    Fee,
    IllegalTransition,
    InvalidService,
    ServiceDefinition,
    Step,
    Transition,
    Workflow,
)
from portal.plugins.strings import ServiceStrings
from portal.receipts.documents import years_after

#: The base of every service form: trimming, length limits, no control characters, CSRF.
ServiceForm = _PortalForm

__all__ = [
    "AWAITING_INFORMATION",
    "DISTRICTS",
    "INFORMATION_PROVIDED",
    "REQUEST_INFORMATION",
    "PAY_THEN_DECIDE",
    "TOPICS",
    "AddressForm",
    "ConfirmField",
    "DateField",
    "DocumentSpec",
    "EmailField",
    "Fee",
    "IllegalTransition",
    "InvalidHKID",
    "InputRequired",
    "InvalidService",
    "Length",
    "Optional",
    "RadiosField",
    "Regexp",
    "SelectListField",
    "ServiceDefinition",
    "ServiceForm",
    "ServiceStrings",
    "Step",
    "TextAreaField",
    "TextField",
    "Transition",
    "UploadField",
    "ValidationError",
    "WholeNumberField",
    "Workflow",
    "as_choices",
    "current_locale",
    "db",
    "format_day",
    "format_hkd",
    "hookimpl",
    "lazy_gettext",
    "mask_hkid",
    "normalise_hkid",
    "profile_address",
    "years_after",
]

"""The only module a service plugin imports from.

Everything here is a stable promise to plugin authors: a name is deprecated for a release
before it is removed. Anything not in ``__all__`` is internal and may change.
"""

from __future__ import annotations

from flask_babel import lazy_gettext

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
from portal.plugins.hookspecs import hookimpl
from portal.plugins.service import (
    Fee,
    IllegalTransition,
    InvalidService,
    ServiceDefinition,
    Step,
    Transition,
    Workflow,
)

#: The base of every service form: trimming, length limits, no control characters, CSRF.
ServiceForm = _PortalForm

__all__ = [
    "EmailField",
    "Fee",
    "IllegalTransition",
    "InvalidService",
    "RadiosField",
    "SelectListField",
    "ServiceDefinition",
    "ServiceForm",
    "Step",
    "TextAreaField",
    "TextField",
    "Transition",
    "ValidationError",
    "Workflow",
    "as_choices",
    "hookimpl",
    "lazy_gettext",
]

"""The service's own gettext domain: ``_`` for strings made at import time (lazy),
``gettext`` for strings made while a request is answered."""

from __future__ import annotations

from portal.toolkit import ServiceStrings

strings = ServiceStrings("licence_renewal", __package__)
_ = strings.lazy_gettext
gettext = strings.gettext

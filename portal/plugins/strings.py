"""Each service translates its own strings in its own gettext domain.

A service keeps ``translations/<locale>/LC_MESSAGES/<domain>.po`` (and the compiled
``.mo``) inside its package, so its catalogue ships and is updated with it and never
collides with the core's or another service's.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from flask_babel import Domain


class ServiceStrings(Domain):
    """A service's gettext domain: ``gettext``, ``lazy_gettext``, ``ngettext``...

    ::

        strings = ServiceStrings("licence_renewal", __package__)
        _ = strings.lazy_gettext
    """

    def __init__(self, domain: str, package: str) -> None:
        self.directory = Path(str(files(package) / "translations"))
        super().__init__([str(self.directory)], domain)
        self.package = package

    @property
    def name(self) -> str:
        return self.domain[0]

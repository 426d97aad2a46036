"""Hook specifications: the one place that says what a plugin can contribute or hear.

Bodies are docstrings only. ``register_*`` hooks contribute things; events, added as the
platform raises them, are named in the past tense (``application_submitted``).
A test fails when a hook here has no docstring, or when the plugin guide does not name it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from portal.plugins.service import ServiceDefinition

PROJECT = "portal"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_services() -> list[ServiceDefinition]:  # type: ignore[empty-body]
    """Contribute e-services to the portal.

    Called once when the application starts, for each plugin found through the
    ``portal.services`` entry point group (and allowed by ``PORTAL_SERVICES``). A plugin
    that raises here, or returns something that is not a valid ``ServiceDefinition``, is
    disabled and reported; the other plugins and the portal go on.

    :return: the plugin's service definitions (usually one).
    """

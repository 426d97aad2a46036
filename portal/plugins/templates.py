"""A service's own templates, rendered in the service's own language catalogue.

A service may ship ``<package>/templates/<name>/start.html`` (more "before you start"
content for its start page) and ``<package>/templates/<name>/next_steps.html`` (what
happens after it is submitted). The core renders them with ``render_service_template``.

Each service gets a Jinja environment of its own, built once per registry of services
(so once per application in production):

- it sees the service's ``templates/<name>/`` folder under the prefix ``<name>/`` and,
  behind it, the portal's templates (``macros.html``, the GOV.UK components);
- ``_``, ``gettext`` and ``ngettext`` look a string up in the service's gettext domain
  first and fall back to the core's catalogue, so the portal's shared macros stay
  translated inside a service's page;
- it escapes everything (autoescape on), with the portal's filters and globals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from flask import Flask, current_app
from flask_babel import get_translations
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    Template,
    TemplateNotFound,
)
from markupsafe import Markup

from portal.plugins.manager import ServiceRegistry, services
from portal.plugins.strings import ServiceStrings

__all__ = ["render_service_template"]

_EXTENSION_KEY = "portal_service_templates"


@dataclass
class _ServiceTemplates:
    """One service's environment and what it has looked up so far."""

    name: str
    environment: Environment
    own_loader: FileSystemLoader
    #: Template name -> compiled template, or None when the service has no such file.
    #: Kept only when templates are not reloaded on change (production).
    found: dict[str, Template | None] = field(default_factory=dict)

    def template(self, template: str) -> Template | None:
        if template in self.found:
            return self.found[template]
        qualified = f"{self.name}/{template}"
        try:
            # Only the service's own folder: the portal's templates must never stand in
            # for a file the service does not have (a service named "core" has no
            # "core/home.html" of its own).
            self.own_loader.get_source(self.environment, template)
        except TemplateNotFound:
            compiled = None
        else:
            compiled = self.environment.get_template(qualified)
        if not self.environment.auto_reload:
            self.found[template] = compiled
        return compiled


def render_service_template(name: str, template: str, **context: Any) -> Markup | None:
    """Render ``<package>/templates/<name>/<template>`` of the active service ``name``.

    :param name: the service's name.
    :param template: the file inside the service's template folder, e.g. ``start.html``.
    :param context: variables for the template; the portal's usual ones (``current_user``,
        ``csrf_token``, ``current_locale``...) are added as for any page.
    :return: the HTML, or ``None`` when the service has no such template (or is not active).
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    templates = _service_templates(app, name)
    if templates is None:
        return None
    compiled = templates.template(template)
    if compiled is None:
        return None
    app.update_template_context(context)
    # The environment escapes everything (autoescape on), so its output is safe HTML.
    return Markup(compiled.render(context))  # noqa: S704


def _service_templates(app: Flask, name: str) -> _ServiceTemplates | None:
    registry = services(app)
    by_registry: WeakKeyDictionary[ServiceRegistry, dict[str, _ServiceTemplates | None]]
    by_registry = app.extensions.setdefault(_EXTENSION_KEY, WeakKeyDictionary())
    known = by_registry.setdefault(registry, {})
    if name not in known:
        known[name] = _build(app, registry, name)
    return known[name]


def _template_folder(package: str, name: str) -> Path | None:
    if not package:
        return None
    try:
        folder = Path(str(files(package) / "templates" / name))
    except (ImportError, TypeError, ValueError):
        return None
    return folder if folder.is_dir() else None


def _build(app: Flask, registry: ServiceRegistry, name: str) -> _ServiceTemplates | None:
    try:
        package = registry.package(name)
    except KeyError:
        return None
    folder = _template_folder(package, name)
    if folder is None:
        return None
    own_loader = FileSystemLoader(str(folder))
    portal_env = app.jinja_env
    environment = Environment(
        loader=ChoiceLoader([PrefixLoader({name: own_loader}), portal_env.loader]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=portal_env.trim_blocks,
        lstrip_blocks=portal_env.lstrip_blocks,
        auto_reload=portal_env.auto_reload,
    )
    environment.globals.update(portal_env.globals)
    environment.filters.update(portal_env.filters)
    environment.tests.update(portal_env.tests)
    environment.policies["ext.i18n.trimmed"] = True
    _install_gettext(environment, ServiceStrings(name, package))
    return _ServiceTemplates(name, environment, own_loader)


def _install_gettext(environment: Environment, strings: ServiceStrings) -> None:
    """``_`` and friends in the service's domain, then the core's for shared macros."""

    def first_translated(lookup: Callable[[Any], str], *untranslated: str) -> str:
        translated = lookup(strings.get_translations())
        if translated in untranslated:
            translated = lookup(get_translations())
        return translated

    def gettext(message: str) -> str:
        return first_translated(lambda t: t.ugettext(message), message)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return first_translated(lambda t: t.ungettext(singular, plural, n), singular, plural)

    def pgettext(context: str, message: str) -> str:
        return first_translated(lambda t: t.upgettext(context, message), message)

    def npgettext(context: str, singular: str, plural: str, n: int) -> str:
        return first_translated(
            lambda t: t.unpgettext(context, singular, plural, n), singular, plural
        )

    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=gettext, ngettext=ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext
    )

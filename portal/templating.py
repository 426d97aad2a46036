"""Jinja set-up: GOV.UK Frontend macros, form helpers and what every page needs."""

from __future__ import annotations

from typing import Any

from flask import Flask, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from govuk_frontend_wtf.main import WTFormsHelpers
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

from portal.forms import error_summary


def language_switch_url(code: str) -> str:
    """The switch link: back to this page in the other language.

    After a POST (a form shown again with errors) that is the same address fetched with
    GET, when the route has a GET view; otherwise the home page.
    """
    if request.method == "GET":
        target = request.full_path if request.query_string else request.path
    elif request.url_rule is not None and "GET" in (request.url_rule.methods or ()):
        target = request.path
    else:
        target = url_for("core.home")
    return url_for("core.switch_language", code=code, next=target)


def navigation() -> list[dict[str, Any]]:
    """The service navigation items for the signed-in person."""
    items: list[dict[str, Any]] = []
    endpoint = request.endpoint or ""
    services = {"href": url_for("catalogue.index"), "text": _("Services"),
                "active": endpoint.startswith("catalogue.")}
    if current_user.is_authenticated:
        if current_user.is_staff:
            items.append({"href": url_for("backoffice.home"), "text": _("Staff home"),
                          "active": endpoint == "backoffice.home"})
            if current_user.is_portal_admin:
                items.append({"href": url_for("backoffice.staff_list"), "text": _("Staff accounts"),
                              "active": endpoint.startswith("backoffice.staff")})
        else:
            items.append({"href": url_for("applications.dashboard"), "text": _("Your applications"),
                          "active": endpoint == "applications.dashboard"})
        items.append(services)
        items.append({"href": url_for("identity.account"), "text": _("Your account"),
                      "active": endpoint.startswith("identity.")})
    else:
        items.append(services)
        items.append({"href": url_for("identity.sign_in"), "text": _("Sign in"),
                      "active": endpoint == "identity.sign_in"})
        items.append({"href": url_for("identity.register"), "text": _("Create an account"),
                      "active": endpoint == "identity.register"})
    items.append(
        {"href": url_for("core.help"), "text": _("Help"), "active": endpoint == "core.help"}
    )
    return items


def init_app(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader(  # type: ignore[assignment]
        [
            PackageLoader("portal"),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    WTFormsHelpers(app)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals.update(
        language_switch_url=language_switch_url,
        navigation=navigation,
        error_summary=error_summary,
    )

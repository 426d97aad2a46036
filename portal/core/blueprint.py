"""Routes of the public pages."""

from __future__ import annotations

from flask import Blueprint

from portal.core import views
from portal.extensions import limiter

bp = Blueprint("core", __name__)

bp.add_url_rule("/", "home", views.home)
bp.add_url_rule("/accessibility", "accessibility", views.accessibility)
bp.add_url_rule("/privacy", "privacy", views.privacy)
bp.add_url_rule("/cookies", "cookies", views.cookies)
bp.add_url_rule("/help", "help", views.help_page)
bp.add_url_rule("/healthz", "healthz", limiter.exempt(views.healthz))
bp.add_url_rule("/language/<code>", "switch_language", views.switch_language)

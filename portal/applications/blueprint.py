"""Routes of the applications area."""

from __future__ import annotations

from flask import Blueprint

from portal.applications import views
from portal.identity.auth import citizen_required

bp = Blueprint("applications", __name__)

bp.add_url_rule("/dashboard", "dashboard", citizen_required(views.dashboard))

"""Routes of the service catalogue."""

from __future__ import annotations

from flask import Blueprint

from portal.catalogue import util, views

bp = Blueprint("catalogue", __name__)

bp.add_url_rule("/services", "index", views.index)
bp.add_url_rule("/services/<name>", "start", views.start)
# The home page lists the topics that have services.
bp.add_app_template_global(util.topics_with_services, "catalogue_topics")

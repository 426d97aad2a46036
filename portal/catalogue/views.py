"""The catalogue of services and each service's start page."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, render_template, request

from portal.catalogue import util
from portal.catalogue.forms import SearchForm
from portal.plugins.manager import services
from portal.plugins.service import TOPICS
from portal.plugins.templates import render_service_template


def index() -> Any:
    """All services by topic; or those matching a search and/or of one department."""
    everything = util.listings()
    departments = util.by_department(everything)
    department = request.args.get("department", "")
    if department not in {code for code, _name, _count in departments}:
        # Unknown or empty: show every department's services.
        department = ""
    form = SearchForm(formdata=request.args)
    query = (form.q.data or "") if form.validate() else ""
    searching = bool(query or department)
    results = everything
    if department:
        results = [item for item in results if item.service.department == department]
    if query:
        results = util.search(results, query)
    return render_template(
        "catalogue/index.html",
        form=form,
        services=everything,
        topics=util.by_topic(everything),
        departments=departments,
        department=department,
        department_name=next((n for c, n, _count in departments if c == department), ""),
        query=query,
        searching=searching,
        results=results,
    )


def start(name: str) -> Any:
    """The start page: who can use the service, what it takes, and the Start now button."""
    definition = services(current_app).active.get(name)
    if definition is None:
        abort(404)
    return render_template(
        "catalogue/start.html",
        service=definition,
        topic=TOPICS[definition.category],
        department_name=util.department_name(definition.department),
        fixed_fee=None if definition.fee_summary else util.fixed_fee(definition),
        decided_by_staff=util.decided_by_staff(definition),
        before_you_start=render_service_template(name, "start.html", service=definition),
    )

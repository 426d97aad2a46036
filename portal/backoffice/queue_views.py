"""The work queue's pages: the filtered list, bulk assignment and the CSV export.

The queries are in ``portal.backoffice.queue``; here are the department's scope (its
services' workflows, who is asking, today in Hong Kong), the forms, the signed page
cursors and the rendering. Every route is behind ``department_staff_required`` (see the
blueprint), and only the signed-in person's department's cases are ever read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from portal.applications.models import Application
from portal.audit import log as audit
from portal.backoffice import casework, queue
from portal.backoffice.access import Permission, can
from portal.backoffice.queue_forms import NOBODY, BulkAssignForm, QueueFilterForm
from portal.extensions import db
from portal.forms import as_choices
from portal.i18n import current_locale, hong_kong_today
from portal.identity.models import User
from portal.plugins.service import STATE_LABELS, ServiceDefinition

#: Query-string keys of the queue page (anything else is dropped from links back to it).
QUERY_KEYS = ("service", "state", "assigned", "due", "days", "q", "cursor")
#: Cells a spreadsheet would run as a formula if they began with one of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CURSOR_SALT = "portal.backoffice.queue.cursor"
HONG_KONG = ZoneInfo("Asia/Hong_Kong")


# --- the department's scope -----------------------------------------------------------


def department_services() -> dict[str, ServiceDefinition]:
    """The department's services, switched off ones too (their cases still need work)."""
    from portal.plugins.manager import services

    code = current_user.department.code
    return {entry.definition.name: entry.definition
            for entry in services(current_app).entries
            if entry.definition is not None and entry.definition.department == code}


def _scope(definitions: dict[str, ServiceDefinition]) -> queue.Scope:
    return queue.Scope(
        department=current_user.department.code,
        workflows={name: definition.workflow for name, definition in definitions.items()},
        user_id=current_user.id, today=hong_kong_today())


def _state_label(definitions: dict[str, ServiceDefinition], service: str, state: str) -> str:
    definition = definitions.get(service)
    return str(definition.state_label(state) if definition else STATE_LABELS.get(state, state))


def _filter_form(args: Any, definitions: dict[str, ServiceDefinition]) -> QueueFilterForm:
    form = QueueFilterForm(args)
    titles = sorted((str(d.title), name) for name, d in definitions.items())
    form.service.choices = as_choices(
        [("", _("All services"))] + [(name, title) for title, name in titles])
    states: dict[str, str] = {}
    for name in sorted(definitions):
        for state in definitions[name].workflow.states:
            states.setdefault(state, _state_label(definitions, name, state))
    form.state.choices = as_choices(
        [("", _("Open work (not decided, not awaiting payment)"))] + list(states.items()))
    return form


# --- cursors: opaque and signed, so a page link cannot be made to read anything else ---


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_CURSOR_SALT)


def encode_cursor(cursor: queue.Cursor | None) -> str | None:
    if cursor is None:
        return None
    due = cursor.due.isoformat() if cursor.due else None
    return str(_serializer().dumps([cursor.direction[0], due, cursor.id]))


def decode_cursor(token: str | None) -> queue.Cursor | None:
    """The cursor of a page link; None (the first page) for anything altered or unreadable."""
    if not token or len(token) > 200:
        return None
    try:
        direction, due, row_id = _serializer().loads(token)
        if direction not in ("a", "b") or type(row_id) is not int:
            return None
        day = date.fromisoformat(due) if due is not None else None
    except (BadData, ValueError, TypeError):
        return None
    return queue.Cursor(queue.AFTER if direction == "a" else queue.BEFORE, day, row_id)


# --- the queue page -------------------------------------------------------------------


def queue_page() -> Any:
    return _render_queue(request.args)


def _render_queue(args: Any, assign_form: BulkAssignForm | None = None,
                  status: int = 200) -> Any:
    definitions = department_services()
    scope = _scope(definitions)
    filters_form = _filter_form(args, definitions)
    valid = filters_form.validate()
    filters = filters_form.to_filters() if valid else None
    page = queue.fetch_page(scope, filters, decode_cursor(args.get("cursor"))) if valid else None
    service = filters.service if filters else None
    days = filters_form.due_days if valid else queue.DEFAULT_DUE_DAYS
    totals = queue.counts(scope, service=service, days=days)
    keep = filters_form.query_args() if valid else {}

    may_assign = can(current_user, Permission.ASSIGN)
    if may_assign and assign_form is None:
        assign_form = BulkAssignForm(formdata=None)
        # Back to the same filters and page after assigning.
        back = {**keep, "cursor": args["cursor"]} if args.get("cursor") else keep
        assign_form.view.data = urlencode(back)
    if assign_form is not None:
        assign_form.assignee.choices = _assignee_choices()
    rows = page.rows if page else []
    return render_template(
        "backoffice/queue/queue.html",
        # The layout's error summary shows the form that failed: the filters, or the
        # bulk assignment sent back with its errors.
        form=assign_form if assign_form is not None and assign_form.errors else filters_form,
        filters=filters_form, assign_form=assign_form if may_assign else None,
        may_export=can(current_user, Permission.EXPORT),
        page=page, rows=rows, totals=totals, days=days, service=service,
        titles={name: str(d.title) for name, d in definitions.items()},
        state_labels={(row.service, row.state): _state_label(definitions, row.service, row.state)
                      for row in rows},
        assignees=_names({row.assigned_to_id for row in rows}),
        link=lambda **changes: _queue_url(keep, **changes),
        previous_url=_queue_url(keep, cursor=encode_cursor(page.previous))
        if page and page.previous else None,
        next_url=_queue_url(keep, cursor=encode_cursor(page.next)) if page and page.next else None,
        export_limit=queue.EXPORT_LIMIT,
    ), status


def _queue_url(keep: dict[str, str], endpoint: str = ".queue", **changes: Any) -> str:
    args = {**keep, **changes}
    return url_for(endpoint, **{key: value for key, value in args.items() if value})


def _names(ids: Iterable[int | None], locale: str | None = None) -> dict[int, str]:
    """Names of these people in the language of the page."""
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    locale = locale or current_locale()
    return {user.id: user.display_name(locale)
            for user in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def _assignee_choices() -> Any:
    locale = current_locale()
    people = casework.assignable_staff(current_user.department.code)
    return as_choices(
        [("", _("Choose a person")), (NOBODY, _("No one (back to unassigned)"))]
        + [(str(person.id), person.display_name(locale)) for person in people])


# --- bulk assignment ------------------------------------------------------------------


def _view_args(view: str | None) -> MultiDict[str, str]:
    """The queue's query string as sent back by the form, with only the queue's keys."""
    pairs = {key: value for key, value in parse_qsl(view or "") if key in QUERY_KEYS}
    return MultiDict(pairs)


def bulk_assign() -> Any:
    """Give the ticked cases to one person, each only if it is still with whom the page
    showed (compare-and-set): the others are named, with who has them now."""
    form = BulkAssignForm()
    form.assignee.choices = _assignee_choices()
    back = _view_args(form.view.data)
    if not form.validate_on_submit():
        return _render_queue(back, assign_form=form, status=400)
    target = None
    if form.assignee.data != NOBODY:
        target = db.session.get(User, int(form.assignee.data))
    wanted, unreadable = form.cases.parsed()
    # The chosen rows are locked first, in id order, before any change or audit event:
    # recording an audit event takes the chain's lock, and a single claim or decision on
    # one of these cases takes the case's row lock before that same lock, so locking the
    # rows one by one as we go could deadlock against it.
    rows = db.session.scalars(
        select(Application).where(
            Application.reference.in_([reference for reference, _expected in wanted]),
            Application.department == current_user.department.code)
        .order_by(Application.id).with_for_update()).all()
    definitions = department_services()
    closed = [row for row in rows if row.decided_at is not None or (
        row.service in definitions
        and row.state in definitions[row.service].workflow.terminal)]
    found = {row.reference: row for row in rows if row not in closed}
    done, conflicts = 0, []
    # In id order, so two bulk assignments at once take the rows' locks in one order.
    for reference, expected in sorted(
            ((r, e) for r, e in wanted if r in found), key=lambda pair: found[pair[0]].id):
        application = found[reference]
        target_id = target.id if target is not None else None
        if expected == target_id:  # already with that person, as far as the page showed
            if application.assigned_to_id == target_id:
                done += 1
            else:
                conflicts.append(application)
            continue
        try:
            casework.assign(application, target, by=current_user, expected=expected)
        except casework.AlreadyAssigned:
            conflicts.append(application)
            continue
        except casework.NotAssignable:
            db.session.rollback()
            form.assignee.errors = [_("Choose someone who can take cases of your department")]
            return _render_queue(back, assign_form=form, status=400)
        done += 1
    db.session.commit()
    _flash_outcome(done, target, conflicts,
                   len(wanted) - len(found) - len(closed) + unreadable, closed)
    return redirect(_queue_url(back.to_dict()))


def _flash_outcome(done: int, target: User | None, conflicts: list[Application],
                   missing: int, closed: list[Application]) -> None:
    locale = current_locale()
    if done and target is not None:
        flash(ngettext("%(num)d case assigned to %(name)s.", "%(num)d cases assigned to "
                       "%(name)s.", done, name=target.display_name(locale)), "success")
    elif done:
        flash(ngettext("%(num)d case is now unassigned.", "%(num)d cases are now unassigned.",
                       done), "success")
    if conflicts:
        described = [
            _("%(reference)s (now with %(name)s)", reference=application.reference,
              name=application.assigned_to.display_name(locale))
            if application.assigned_to is not None
            else _("%(reference)s (now unassigned)", reference=application.reference)
            for application in conflicts]
        flash(ngettext(
            "%(num)d case was not assigned because someone else changed it meanwhile: "
            "%(cases)s. Check it before you assign it.",
            "%(num)d cases were not assigned because someone else changed them meanwhile: "
            "%(cases)s. Check them before you assign them.",
            len(conflicts), cases="; ".join(described)), "conflict")
    if closed:
        flash(ngettext(
            "%(num)d case was not assigned because it is closed: %(cases)s.",
            "%(num)d cases were not assigned because they are closed: %(cases)s.",
            len(closed), cases="; ".join(row.reference for row in closed)), "conflict")
    if missing:
        flash(ngettext(
            "%(num)d case was not assigned because it is not one of your department's cases.",
            "%(num)d cases were not assigned because they are not your department's cases.",
            missing), "conflict")


# --- CSV export -----------------------------------------------------------------------


def safe_cell(value: Any) -> str:
    """A cell as text a spreadsheet will not run as a formula (a leading ' if needed)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def queue_csv() -> Any:
    definitions = department_services()
    scope = _scope(definitions)
    form = _filter_form(request.args, definitions)
    if not form.validate():  # the queue page shows what is wrong with the filters
        return _render_queue(request.args, status=400)
    filters = form.to_filters()
    rows = queue.count_matching(scope, filters)
    audit.record("queue.exported", actor=current_user, department=scope.department, details={
        "filters": {"service": filters.service, "state": filters.state,
                    "assigned": filters.assigned, "due": filters.due,
                    "days": filters.days if filters.due == queue.DUE_SOON else None,
                    "reference": filters.reference,
                    # The name searched for is personal data: only that there was one.
                    "name_search": filters.name is not None},
        "rows": rows})
    db.session.commit()
    filename = f"work-queue-{scope.department}-{scope.today.isoformat()}.csv"
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return Response(_csv_lines(app, scope, filters, _csv_words(definitions)),
                    mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _csv_words(definitions: dict[str, ServiceDefinition]) -> dict[str, Any]:
    """Everything of the export in the person's language, looked up while the request
    lasts (the rows are written after it)."""
    return {
        "header": [_("Reference"), _("Service"), _("Applicant"), _("Status"), _("Submitted"),
                   _("Due"), _("Overdue"), _("Assigned to")],
        "titles": {name: str(definition.title) for name, definition in definitions.items()},
        "states": {(name, state): _state_label(definitions, name, state)
                   for name, definition in definitions.items()
                   for state in definition.workflow.states},
        "yes": _("Yes"), "no": _("No"), "locale": current_locale(),
    }


def _csv_lines(app: Any, scope: queue.Scope, filters: queue.Filters,
               words: dict[str, Any]) -> Iterator[str]:
    """The export a batch at a time, by keyset like the pages, at most ``EXPORT_LIMIT``.

    It runs after the view returned: each batch is read in an application context of its
    own, opened and closed within one step of the generator (a context held across the
    steps would be closed by whichever thread or context consumes the last one).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The byte order mark tells Excel the file is UTF-8 (else Chinese comes out garbled).
    buffer.write("\ufeff")
    writer.writerow(words["header"])
    names: dict[int, str] = {}
    cursor: queue.Cursor | None = None
    written = 0
    while written < queue.EXPORT_LIMIT:
        with app.app_context():
            page = queue.fetch_page(scope, filters, cursor,
                                    page_size=min(1000, queue.EXPORT_LIMIT - written))
            names.update(_names((row.assigned_to_id for row in page.rows
                                 if row.assigned_to_id not in names), words["locale"]))
        for row in page.rows:
            writer.writerow([safe_cell(cell) for cell in (
                row.reference, words["titles"].get(row.service, row.service),
                row.applicant_name, words["states"].get((row.service, row.state), row.state),
                row.submitted_at.astimezone(HONG_KONG).strftime("%Y-%m-%d %H:%M"),
                row.decision_due.isoformat() if row.decision_due else "",
                words["yes"] if row.overdue else words["no"],
                names.get(row.assigned_to_id, "") if row.assigned_to_id else "")])
        written += len(page.rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if page.next is None:
            return
        cursor = page.next

"""The department's audit log, for its department administrators.

Only events recorded for the reader's department are shown, newest first, a page at a
time (keyset pagination on the time and id, which the index on department and time
serves however long the log grows). Reading the log is itself recorded.

Checking the whole chain means reading and hashing every event of every department, which
is the work of ``portal audit verify`` (run it on a schedule), not of a page view. The page
checks what it shows: each row's own hash, and its link to the event before it in the
chain; a row that fails either is marked.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import and_, or_, select

from portal.applications.util import normalise_reference
from portal.audit import log as audit
from portal.audit.models import GENESIS_HASH, AuditEvent
from portal.backoffice.admin_forms import AuditFilterForm
from portal.backoffice.reports import hong_kong_midnight
from portal.extensions import db
from portal.forms import as_choices
from portal.i18n import current_locale, format_moment
from portal.identity.forms import ROLE_LABELS
from portal.identity.models import Role, User

PAGE_SIZE = 50

#: Readable names of the actions recorded; an action not listed shows its code.
ACTION_LABELS: dict[str, Any] = {
    "audit.viewed": _l("Audit log read"),
    "auth.sign_in": _l("Signed in"),
    "auth.sign_in_failed": _l("Sign-in failed"),
    "case.approved": _l("Case approved"),
    "case.assigned": _l("Case assigned"),
    "case.claimed": _l("Case claimed"),
    "case.information_requested": _l("More information asked for"),
    "case.message_sent": _l("Message sent to the applicant"),
    "case.note_added": _l("Internal note added"),
    "case.payments_viewed": _l("Payments of a case viewed"),
    "case.rejected": _l("Case rejected"),
    "case.viewed": _l("Case viewed"),
    "department.created": _l("Department added"),
    "department.settings_changed": _l("Department settings changed"),
    "department.updated": _l("Department changed"),
    "document.downloaded": _l("Issued document downloaded"),
    "queue.exported": _l("Work queue downloaded (CSV)"),
    "receipt.downloaded": _l("Receipt downloaded"),
    "upload.downloaded": _l("Applicant's document opened"),
    "refund.approved": _l("Refund approved"),
    "refund.decision_viewed": _l("Refund approval page viewed"),
    "refund.declined": _l("Refund declined"),
    "refund.failed": _l("Refund failed"),
    "refund.requested": _l("Refund asked for"),
    "refund.sent_for_approval": _l("Refund sent for approval"),
    "refund.succeeded": _l("Refund made"),
    "staff.created": _l("Staff account created"),
    "staff.deactivated": _l("Staff account deactivated"),
    "staff.reactivated": _l("Staff account reactivated"),
    "staff.role_changed": _l("Role changed"),
}
#: Filters for every action of a kind (``case.*``), so new actions are found too.
ACTION_GROUPS: dict[str, Any] = {
    "auth.*": _l("Sign-ins: all"),
    "case.*": _l("Cases: all"),
    "department.*": _l("Department: all"),
    "refund.*": _l("Refunds: all"),
    "staff.*": _l("Staff accounts: all"),
}
TARGET_LABELS: dict[str, Any] = {
    "applications": _l("Application"),
    "departments": _l("Department"),
    "payments": _l("Payment"),
    "receipts": _l("Receipt"),
    "refunds": _l("Refund"),
    "users": _l("Account"),
}
FILTERS = ("action", "actor", "target", "date_from", "date_to")


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def role_label(role: str | None) -> str:
    if role is None:
        return _("The portal itself")
    if role == Role.CITIZEN.value:
        return _("Citizen")
    try:
        return str(ROLE_LABELS[Role(role)])
    except (KeyError, ValueError):
        return role


def _action_choices() -> Any:
    groups = sorted(ACTION_GROUPS.items(), key=lambda item: str(item[1]))
    actions = sorted(ACTION_LABELS.items(), key=lambda item: str(item[1]))
    return as_choices([("", _("All actions")), *groups, *actions])


def _actor_choices(department: Any) -> Any:
    """The department's staff (past and present) and the portal administrators."""
    locale = current_locale()
    people = db.session.scalars(
        select(User).where(or_(User.department_id == department.id,
                               User.role == Role.PORTAL_ADMIN.value))
        .order_by(User.name_en, User.id)).all()
    return as_choices([("", _("Anyone"))] + [
        (str(person.id), f"{person.display_name(locale)} ({role_label(person.role)})")
        for person in people])


def _filtered(form: AuditFilterForm, code: str) -> Any:
    query = select(AuditEvent).where(AuditEvent.department == code)
    action = form.action.data
    if action:
        query = query.where(AuditEvent.action.like(action[:-1] + "%") if action.endswith(".*")
                            else AuditEvent.action == action)
    if form.actor.data:
        query = query.where(AuditEvent.actor_ref == int(form.actor.data))
    if form.target.data:
        target = normalise_reference(form.target.data) or form.target.data
        query = query.where(AuditEvent.target_id == target)
    if form.date_from.data:
        query = query.where(AuditEvent.created_at >= hong_kong_midnight(form.date_from.data))
    if form.date_to.data:
        query = query.where(AuditEvent.created_at
                            < hong_kong_midnight(form.date_to.data + timedelta(days=1)))
    return query


def _after(query: Any, code: str, after: int | None) -> Any:
    """Events older than event ``after`` (of this department; otherwise the first page)."""
    if after is None:
        return query
    cursor = db.session.execute(select(AuditEvent.created_at, AuditEvent.id).where(
        AuditEvent.id == after, AuditEvent.department == code)).one_or_none()
    if cursor is None:
        return query
    created_at, event_id = cursor
    return query.where(or_(AuditEvent.created_at < created_at,
                           and_(AuditEvent.created_at == created_at,
                                AuditEvent.id < event_id)))


def _links_intact(events: list[AuditEvent]) -> dict[int, bool]:
    """For each event: whether its hash matches its fields and its ``prev_hash`` the hash
    of the event before it in the chain (one look-up for the whole page)."""
    before = {row.id: row.hash for row in db.session.execute(
        select(AuditEvent.id, AuditEvent.hash)
        .where(AuditEvent.id.in_([event.id - 1 for event in events if event.id > 1])))}
    result = {}
    for event in events:
        fields = {name: getattr(event, name) for name in audit.HASHED_FIELDS}
        previous = GENESIS_HASH if event.id == 1 else before.get(event.id - 1)
        result[event.id] = (audit.event_hash(fields) == event.hash
                            and event.prev_hash == previous)
    return result


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _rows(events: list[AuditEvent]) -> list[dict[str, Any]]:
    locale = current_locale()
    ids = {event.actor_ref for event in events if event.actor_ref is not None}
    ids |= {int(event.target_id) for event in events
            if event.target_type == "users" and (event.target_id or "").isdigit()}
    people = {person.id: person for person in db.session.scalars(
        select(User).where(User.id.in_(ids)))} if ids else {}
    intact = _links_intact(events) if events else {}
    rows = []
    for event in events:
        actor = people.get(event.actor_ref) if event.actor_ref is not None else None
        target_text = target_href = None
        if event.target_type:
            kind = TARGET_LABELS.get(event.target_type)
            name = str(kind) if kind is not None else event.target_type
            key = event.target_id or ""
            if event.target_type == "users" and key.isdigit() and int(key) in people:
                key = f"{people[int(key)].display_name(locale)} ({key})"
            target_text = f"{name}: {key}"
            if event.target_type == "applications" and event.target_id:
                target_href = url_for("backoffice.case", reference=event.target_id)
        rows.append({
            "id": event.id,
            "time": format_moment(event.created_at),
            "actor": (actor.display_name(locale) if actor is not None
                      else (f"#{event.actor_ref}" if event.actor_ref is not None else None)),
            "role": role_label(event.actor_role),
            "action": action_label(event.action),
            "code": event.action,
            "target": target_text,
            "target_href": target_href,
            "details": [(key, _value(value)) for key, value in sorted(event.details.items())],
            "ip": event.ip,
            "intact": intact.get(event.id, True),
        })
    return rows


def _applied(form: AuditFilterForm) -> dict[str, Any]:
    """The filters in use, as recorded with the reading (dates as ISO text)."""
    from portal.applications.util import normalise_reference

    applied: dict[str, Any] = {}
    for name in FILTERS:
        value = getattr(form, name).data
        if value:
            applied[name] = value.isoformat() if hasattr(value, "isoformat") else value
    # The log is kept for ever: a target typed in is kept only as a canonical reference;
    # anything else (a name, an email) only as "a target was given".
    if "target" in applied and normalise_reference(str(applied["target"])) is None:
        applied["target"] = "(withheld)"
    return applied


def audit_log() -> Any:
    department = current_user.department
    form = AuditFilterForm(formdata=request.args)
    form.action.choices = _action_choices()
    form.actor.choices = _actor_choices(department)
    filtering = any(name in request.args for name in FILTERS)
    valid = form.validate() if filtering else True
    after = request.args.get("after", type=int)
    events: list[AuditEvent] = []
    more = False
    if valid:
        query = _after(_filtered(form, department.code), department.code, after)
        events = list(db.session.scalars(
            query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(PAGE_SIZE + 1)))
        more = len(events) > PAGE_SIZE
        events = events[:PAGE_SIZE]
    rows = _rows(events)
    applied = _applied(form) if valid else {}
    details = {"filters": applied, "after": after, "shown": len(rows)}
    try:
        audit.record("audit.viewed", actor=current_user, department=department.code,
                     details=details)
    except audit.UnsafeAuditDetails:  # a filter typed like an HKID is not kept
        details["filters"] = {**applied, "target": "(withheld)"}
        audit.record("audit.viewed", actor=current_user, department=department.code,
                     details=details)
    db.session.commit()
    keep = {name: request.args.getlist(name) for name in FILTERS if name in request.args}
    next_url = (url_for("backoffice.audit_log", **keep, after=events[-1].id)
                if more and events else None)
    first_url = url_for("backoffice.audit_log", **keep) if after is not None else None
    return render_template(
        "backoffice/audit/log.html", form=form, department=department, rows=rows,
        next_url=next_url, first_url=first_url, filtering=filtering and valid,
        broken=sum(1 for row in rows if not row["intact"]),
    )

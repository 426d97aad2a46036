"""The case view and what staff do from it.

The case page shows everything about one application (answers, documents, payments and
receipts, the timeline with staff-only entries, internal notes, messages with the
citizen and each email with its delivery state); every view is written to the audit log.
Actions are POSTs of forms that carry what the page showed (``case_forms.ShownForm``):
when someone else acted first, the action is refused and the person is told plainly
what happened instead. The domain work is in ``casework``; these views check who may do
what, commit, and say what happened.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.applications import engine
from portal.applications.models import Application, ApplicationEvent, CaseMessage, CaseNote
from portal.applications.reasons import reason_text
from portal.audit import log as audit
from portal.backoffice import casework
from portal.backoffice.access import Permission, can, case_or_404
from portal.backoffice.case_forms import (
    ActionForm,
    AssignForm,
    ClaimForm,
    MessageForm,
    NoteForm,
    RejectForm,
    RequestInformationForm,
    ShownForm,
)
from portal.backoffice.casework import AlreadyAssigned, CaseConflict
from portal.extensions import db
from portal.forms import as_choices
from portal.i18n import current_locale, format_moment, hong_kong_day, hong_kong_today
from portal.identity.forms import ROLE_LABELS
from portal.identity.models import Role, User
from portal.notifications.models import EMAIL_STATUS_LABELS, OutboxEmail
from portal.plugins.service import REQUEST_INFORMATION, ServiceDefinition

_EMAIL_STATUS_CLASSES = {"queued": "govuk-tag--yellow", "sent": "govuk-tag--green",
                         "failed": "govuk-tag--red"}


def _definition(application: Application) -> ServiceDefinition | None:
    """The case's service, also while it is switched off: its open cases are still in the
    queue and still need deciding (only a plugin that failed to load has none)."""
    from portal.plugins.manager import services

    registry = services(current_app)
    found = registry.active.get(application.service)
    if found is None:
        found = next((entry.definition for entry in registry.entries
                      if entry.definition is not None
                      and entry.definition.name == application.service), None)
    return found


def _case_url(application: Application) -> str:
    return url_for("backoffice.case", reference=application.reference)


def _name(user: User | None) -> str:
    return user.display_name(current_locale()) if user is not None else ""


def _when(moment: Any) -> str:
    """A time today (``10:42 am``), or the day and time of an earlier one."""
    if hong_kong_day(moment) == hong_kong_today():
        from babel.dates import format_time
        from flask_babel import to_user_timezone

        from portal.i18n import FORMAT_LOCALES

        return format_time(to_user_timezone(moment), "short",
                           locale=FORMAT_LOCALES.get(current_locale(), "en_HK"))
    return format_moment(moment, "short")


# --- the case page ----------------------------------------------------------------------


def case(reference: str) -> Any:
    application = case_or_404(reference)
    if application.reference != reference:
        return redirect(_case_url(application))
    definition = _definition(application)
    page = _case_page(application, definition)
    audit.record("case.viewed", actor=current_user, target=application,
                 department=application.department)
    db.session.commit()
    return render_template("backoffice/cases/case.html", **page)


def _case_page(application: Application, definition: ServiceDefinition | None) -> dict[str, Any]:
    from portal.payments.ledger import payments_of
    from portal.receipts.documents import documents_for
    from portal.receipts.downloads import receipts_of

    notes = list(db.session.scalars(
        select(CaseNote).where(CaseNote.application_id == application.id)
        .order_by(CaseNote.id.desc())))
    messages = list(db.session.scalars(
        select(CaseMessage).where(CaseMessage.application_id == application.id)
        .order_by(CaseMessage.id.desc())))
    emails = list(db.session.scalars(
        # Emails to the applicant only (the officer's "reply received" notice is about
        # the case too, but is not one of them).
        select(OutboxEmail).where(OutboxEmail.application_id == application.id,
                                  OutboxEmail.user_id == application.user_id)
        .order_by(OutboxEmail.id.desc())))
    events = list(reversed(application.events))
    people = _people({event.actor_id for event in events}
                     | {event.subject_id for event in events}
                     | {row.author_id for row in [*notes, *messages]})
    seen = casework.shown(application)
    final = definition is not None and application.state in definition.workflow.terminal
    may_act = casework.may_act(application, current_user)
    return {
        "application": application, "definition": definition,
        "citizen": application.user, "assignee": application.assigned_to,
        "sections": engine.submitted_sections(application),
        "uploads": application.uploads,
        "payments": payments_of(application), "receipts": receipts_of(application),
        "documents": documents_for(application),
        "events": events, "notes": notes, "messages": messages, "emails": emails,
        "people": people, "actor_name": _actor_name(people), "reason_text": reason_text,
        "clock": _clock(application, final),
        "final": final,
        "may_act": may_act,
        "actions": casework.staff_actions(application, definition, current_user)
        if may_act else [],
        "may_claim": (not final and application.assigned_to_id is None
                      and current_user.role_enum in casework.ASSIGNABLE_ROLES),
        "may_assign": not final and can(current_user, Permission.ASSIGN),
        "claim_form": ClaimForm(formdata=None).show(seen),
        "email_status_labels": EMAIL_STATUS_LABELS,
        "email_status_classes": _EMAIL_STATUS_CLASSES,
        "message_kinds": _message_kinds(),
    }


def _people(ids: set[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def _actor_name(people: dict[int, User]) -> Any:
    def name(event: ApplicationEvent) -> str:
        if event.actor_role == "citizen":
            return _("The applicant")
        if event.actor_role == "system":
            return _("The portal")
        person = people.get(event.actor_id or 0)
        if person is not None:
            return _name(person)
        role = ROLE_LABELS.get(Role(event.actor_role)) if event.actor_role in set(Role) else None
        return str(role or event.actor_role)

    return name


def _message_kinds() -> dict[str, str]:
    return {"message": _("Message to the applicant"),
            "information_request": _("Request for more information"),
            "reply": _("Reply from the applicant")}


def _clock(application: Application, final: bool) -> dict[str, Any]:
    """The pledge: due, paused while waiting for the citizen, or overdue."""
    paused = application.waiting_since is not None and not final
    due = application.decision_due
    return {
        "due": due,
        "paused": paused,
        "overdue": bool(due and not final and not paused and due < hong_kong_today()),
    }


# --- who may act, and saying what happened ----------------------------------------------


def _why_not(application: Application, definition: ServiceDefinition | None,
             action: str | None = None) -> str | None:
    """Why the signed-in person cannot act on the case now (None: they can)."""
    if not casework.may_act(application, current_user):
        holder = application.assigned_to
        if holder is None:
            return _("Claim this case before you act on it.")
        return _("This case is assigned to %(name)s. Only they, a supervisor or a department "
                 "administrator can act on it.", name=_name(holder))
    if action is not None and action not in casework.staff_actions(
            application, definition, current_user):
        return _("“%(action)s” is not possible for this case now.",
                 action=action_name(definition, action))
    return None


def action_name(definition: ServiceDefinition | None, action: str) -> str:
    from portal.plugins.service import ACTION_LABELS

    label = definition.action_label(action) if definition else ACTION_LABELS.get(action, action)
    return str(label)


def conflict_message(conflict: CaseConflict) -> str:
    """What someone else did first, in plain words (the caller rolled back)."""
    application = conflict.application
    if isinstance(conflict, AlreadyAssigned):
        holder = application.assigned_to
        if holder is None:
            return _("This case was put back with the unassigned cases while you were looking "
                     "at it. Nothing was changed.")
        if holder.id == current_user.id:
            return _("This case was assigned to you while you were looking at it. Nothing "
                     "was changed: check the case and try again.")
        return _("This case is already assigned to %(name)s. Nothing was changed.",
                 name=_name(holder))
    event = casework.last_change(application)
    if event is None:
        return _("This case changed while you were looking at it. Nothing was changed.")
    people = _people({event.actor_id})
    name, time = _actor_name(people)(event), _when(event.created_at)
    if event.action == "approve":
        return _("%(name)s approved this case at %(time)s while you were looking at it. "
                 "Nothing was changed.", name=name, time=time)
    if event.action == "reject":
        return _("%(name)s rejected this case at %(time)s while you were looking at it. "
                 "Nothing was changed.", name=name, time=time)
    if event.action == REQUEST_INFORMATION:
        return _("%(name)s asked the applicant for more information at %(time)s while you "
                 "were looking at it. Nothing was changed.", name=name, time=time)
    if event.action == "withdraw":
        return _("The applicant withdrew this application at %(time)s while you were "
                 "looking at it. Nothing was changed.", time=time)
    if event.action == "information_provided":
        return _("The applicant sent more information at %(time)s while you were looking "
                 "at it. Nothing was changed: read it and try again.", time=time)
    from portal.applications.blueprint import state_label

    return _("%(name)s changed this case to “%(state)s” at %(time)s while you were looking "
             "at it. Nothing was changed.", name=name, time=time,
             state=state_label(_definition(application), event.to_state))


def _refused(conflict: CaseConflict) -> Any:
    db.session.rollback()
    flash(conflict_message(conflict), "error")
    return redirect(_case_url(conflict.application))


def _unchanged_or_refused(application: Application, form: ShownForm) -> Any:
    """None when the case is as the form's page showed it; else the refusal."""
    seen = form.shown()
    if seen is None:
        abort(400)
    try:
        casework.check_unchanged(application, seen)
    except CaseConflict as conflict:
        return _refused(conflict)
    return None


def _closed(application: Application) -> Any:
    flash(_("This case is closed. Nothing was changed."), "error")
    return redirect(_case_url(application))


# --- claim and assign ---------------------------------------------------------------------


def claim(reference: str) -> Any:
    application = case_or_404(reference)
    definition = _definition(application)
    if current_user.role_enum not in casework.ASSIGNABLE_ROLES:
        abort(403)
    form = ClaimForm()
    if not form.validate_on_submit():
        abort(400)
    refused = _unchanged_or_refused(application, form)
    if refused is not None:
        return refused
    if definition is not None and application.state in definition.workflow.terminal:
        return _closed(application)
    try:
        casework.claim(application, current_user)
    except CaseConflict as conflict:
        return _refused(conflict)
    db.session.commit()
    flash(_("You have claimed this case. It is in your work queue."), "success")
    return redirect(_case_url(application))


def assign(reference: str) -> Any:
    application = case_or_404(reference, Permission.ASSIGN)
    definition = _definition(application)
    if definition is not None and application.state in definition.workflow.terminal:
        return _closed(application)
    staff = casework.assignable_staff(application.department)
    form = AssignForm()
    form.assignee.choices = as_choices(
        [("", _("Unassigned"))] + [(str(person.id), _name(person)) for person in staff])
    if request.method == "GET":
        form.show(casework.shown(application))
        form.assignee.data = str(application.assigned_to_id or "")
    elif form.is_submitted():
        refused = _unchanged_or_refused(application, form)
        if refused is not None:
            return refused
        if form.validate():
            chosen = next((p for p in staff if str(p.id) == form.assignee.data), None)
            if (chosen.id if chosen else None) == application.assigned_to_id:
                form.assignee.errors = [_("The case is already with this choice. Select "
                                          "someone else, or cancel.")]
            else:
                try:
                    casework.assign(application, chosen, by=current_user,
                                    expected=application.assigned_to_id)
                except CaseConflict as conflict:
                    return _refused(conflict)
                db.session.commit()
                flash(_("This case is now assigned to %(name)s.", name=_name(chosen))
                      if chosen else _("This case is now unassigned."), "success")
                return redirect(_case_url(application))
    return render_template("backoffice/cases/assign.html", application=application,
                           definition=definition, form=form,
                           assignee=application.assigned_to)


# --- workflow actions ---------------------------------------------------------------------


_FORMS: dict[str, type[ShownForm]] = {"reject": RejectForm,
                                      REQUEST_INFORMATION: RequestInformationForm}


def act(reference: str, action: str) -> Any:
    """A workflow action: approve, reject with a reason, ask for more information, or one
    of the service's own, each confirmed on its own page."""
    application = case_or_404(reference)
    definition = _definition(application)
    if definition is None or action not in {m.action for m in definition.workflow.transitions}:
        abort(404)
    form = _FORMS.get(action, ActionForm)()
    if request.method == "GET":
        problem = _why_not(application, definition, action)
        if problem is not None:
            flash(problem, "error")
            return redirect(_case_url(application))
        form.show(casework.shown(application))
    else:
        refused = _unchanged_or_refused(application, form)
        if refused is not None:
            return refused
        problem = _why_not(application, definition, action)
        if problem is not None:
            flash(problem, "error")
            return redirect(_case_url(application))
        if form.validate():
            try:
                event = _take(application, definition, action, form)
            except CaseConflict as conflict:
                return _refused(conflict)
            db.session.commit()
            engine.announce_transition(application, event)
            flash(_done(application, definition, action), "success")
            return redirect(_case_url(application))
    return render_template("backoffice/cases/action.html", application=application,
                           definition=definition, form=form, action=action,
                           action_label=action_name(definition, action),
                           citizen=application.user)


def _take(application: Application, definition: ServiceDefinition, action: str,
          form: Any) -> ApplicationEvent:
    if action == "reject":
        return casework.reject(application, by=current_user, definition=definition,
                               reason_code=form.reason.data, details=form.details.data or None)
    if action == REQUEST_INFORMATION:
        event, _request = casework.request_information(
            application, by=current_user, definition=definition, message=form.message.data)
        return event
    return casework.take_action(application, action, by=current_user, definition=definition,
                                note=form.note.data or None)


def _done(application: Application, definition: ServiceDefinition, action: str) -> str:
    reference = application.reference
    if action == "approve":
        return _("Application %(reference)s is approved. We have emailed the applicant.",
                 reference=reference)
    if action == "reject":
        return _("Application %(reference)s is rejected. We have emailed the applicant the "
                 "reason.", reference=reference)
    if action == REQUEST_INFORMATION:
        return _("We have asked the applicant for more information by email. The time to "
                 "decide is paused until they answer; the case then comes back to the queue.")
    return _("Done: %(action)s. We have emailed the applicant.",
             action=action_name(definition, action))


# --- notes and messages -------------------------------------------------------------------


def add_note(reference: str) -> Any:
    application = case_or_404(reference)
    form = NoteForm()
    if form.validate_on_submit():
        casework.add_note(application, by=current_user, body=form.body.data)
        db.session.commit()
        flash(_("Your note was added. Only staff of your department can read it."), "success")
        return redirect(_case_url(application) + "#notes")
    return render_template("backoffice/cases/write.html", application=application,
                           definition=_definition(application), form=form, kind="note",
                           action_url=url_for("backoffice.case_note",
                                              reference=application.reference))


def send_message(reference: str) -> Any:
    application = case_or_404(reference)
    problem = _why_not(application, _definition(application))
    if problem is not None:
        flash(problem, "error")
        return redirect(_case_url(application))
    form = MessageForm()
    if form.validate_on_submit():
        casework.send_message(application, by=current_user, body=form.body.data)
        db.session.commit()
        flash(_("Your message was sent to the applicant by email."), "success")
        return redirect(_case_url(application) + "#messages")
    return render_template("backoffice/cases/write.html", application=application,
                           definition=_definition(application), form=form, kind="message",
                           citizen=application.user,
                           action_url=url_for("backoffice.case_message",
                                              reference=application.reference))

"""The citizen's way through any service, driven by its ``ServiceDefinition``.

Answers are kept as the raw form values of each step (``{step: {field: [values]}}``), so
a step is shown again exactly as it was typed and every step is validated again, with the
service's current rules, before submission. ``walk`` replays a draft's steps in order,
skipping those whose condition is false for the answers so far.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import abort, current_app
from flask_babel import gettext
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict
from wtforms import StringField

from portal.applications.fields import ConfirmField, DateField, UploadField
from portal.applications.models import (
    Application,
    ApplicationEvent,
    Draft,
    DraftStatus,
    Upload,
)
from portal.applications.uploads import discard_files
from portal.applications.util import add_working_days, new_reference
from portal.database import utcnow
from portal.extensions import db
from portal.i18n import format_day
from portal.plugins.manager import services
from portal.plugins.service import (
    AWAITING_PAYMENT,
    PAYMENT_RECEIVED,
    IllegalTransition,
    ServiceDefinition,
    Step,
)

log = logging.getLogger("portal.applications")

#: Most values a field can keep, and the longest value, in a saved (unchecked) draft.
_MAX_VALUES, _MAX_VALUE_LENGTH = 10, 10_000


class StaleState(IllegalTransition):
    """Someone else moved the application first."""


class DuplicateApplication(Exception):
    """An open application already holds the service's ``exclusive_key`` for these answers."""

    def __init__(self, existing: Application | None) -> None:
        super().__init__("an open application holds the same key")
        self.existing = existing


def open_key_for(definition: ServiceDefinition, values: Mapping[str, Any],
                 user_id: int) -> str | None:
    """The stored form of the service's ``exclusive_key``: a keyed digest (the key may be
    personal, like a licence number that is an HKID), per citizen unless the service
    holds keys across citizens."""
    from portal.crypto import blind_index

    if definition.exclusive_key is None:
        return None
    key = definition.exclusive_key(values)
    if key is None or str(key) == "":
        return None
    scope = "*" if definition.exclusive_across_citizens else str(user_id)
    return blind_index(f"{definition.name}\x1f{scope}\x1f{key}")


def _holder_of(service: str, key: str) -> Application | None:
    return db.session.scalar(
        select(Application).where(Application.service == service, Application.open_key == key)
    )


def service_or_404(name: str) -> ServiceDefinition:
    definition = services(current_app).active.get(name)
    if definition is None:
        abort(404)
    return definition


def bind(step: Step, raw: Mapping[str, list[str]] | None,
         before: Mapping[str, Any] | None = None) -> Any:
    """The step's form filled with stored values (no CSRF: the request was checked).

    ``answers`` (the earlier steps' values) is passed to the form too, so a question can
    depend on them (the bill found on the step before); forms that do not take it ignore
    it, as WTForms ignores keywords that name no field.
    """
    formdata = None if raw is None else MultiDict(_pairs(raw))
    return step.form(formdata=formdata, meta={"csrf": False}, answers=dict(before or {}))


def _pairs(raw: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, values in raw.items() for value in values]


@dataclass
class StepState:
    step: Step
    form: Any
    answered: bool
    complete: bool
    values: dict[str, Any] = field(default_factory=dict)
    #: The answers of the steps before this one.
    before: dict[str, Any] = field(default_factory=dict)


def walk(definition: ServiceDefinition, answers: Mapping[str, Any], completed: list[str],
         uploads: Mapping[str, Upload]) -> list[StepState]:
    """The steps that apply to these answers, each bound and checked."""
    values: dict[str, Any] = {}
    states = []
    for step in definition.steps:
        if step.condition is not None and not step.condition(dict(values)):
            continue
        raw = answers.get(step.name)
        before = dict(values)
        form = bind(step, raw, before)
        complete = False
        if raw is not None:
            complete = form.validate() & check_uploads(form, uploads)
            complete = complete and step.name in completed
        step_values = {f.name: f.data for f in form if f.name != "csrf_token"}
        values.update(step_values)
        states.append(StepState(step, form, raw is not None, complete, step_values, before))
    return states


def check_uploads(form: Any, uploads: Mapping[str, Upload]) -> bool:
    """An upload answer must name a document given in this draft or application."""
    ok = True
    for item in form:
        if isinstance(item, UploadField) and item.data:
            upload = uploads.get(item.data)
            if upload is None:
                item.errors = [*item.errors, gettext("Choose the file again")]
                item.data = None
                ok = False
            else:
                item.uploaded_name = upload.filename
    return ok


def flat_values(states: list[StepState]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for state in states:
        values.update(state.values)
    return values


# --- drafts -----------------------------------------------------------------------------


def draft_uploads(draft: Draft) -> dict[str, Upload]:
    rows = db.session.scalars(select(Upload).where(Upload.draft_id == draft.id))
    return {row.public_id: row for row in rows}


def start_draft(definition: ServiceDefinition, user: Any) -> Draft:
    """A new draft, with what the profile already tells us filled in."""
    import secrets

    answers: dict[str, dict[str, list[str]]] = {}
    if definition.prefill is not None:
        known = {k: v for k, v in (definition.prefill(user) or {}).items() if v}
        for step in definition.steps:
            given = {name: [str(known[name])] for name in step.fields() if name in known}
            if given:
                answers[step.name] = given
    draft = Draft(public_id=secrets.token_hex(16), user_id=user.id, service=definition.name,
                  answers=answers, completed_steps=[])
    db.session.add(draft)
    db.session.commit()
    return draft


def draft_expires_on(draft: Draft) -> datetime:
    return draft.updated_at + timedelta(days=current_app.config["DRAFT_EXPIRY_DAYS"])


def is_expired(draft: Draft) -> bool:
    return draft_expires_on(draft) <= utcnow()


def raw_step_answers(step: Step, form_data: Any) -> dict[str, list[str]]:
    """What was posted for this step's own fields (anything else is ignored)."""
    return {
        name: [value[:_MAX_VALUE_LENGTH] for value in form_data.getlist(name)[:_MAX_VALUES]]
        for name in step.fields()
    }


def cleaned(form: Any, raw: dict[str, list[str]]) -> dict[str, list[str]]:
    """A valid step's answers in the form its checks gave them (an HKID typed
    ``a 123456 3`` is kept as ``A123456(3)``), so that is what is submitted."""
    result = dict(raw)
    for item in form:
        if isinstance(item, StringField) and isinstance(item.data, str) and item.name in raw:
            result[item.name] = [item.data]
    return result


def save_step(draft: Draft, step: Step, raw: dict[str, list[str]], complete: bool) -> bool:
    """Store a step's answers; False when the draft was sent meanwhile (another tab).

    The update is a compare-and-set on the draft as read (still open, same
    ``updated_at``): a late step never changes a draft that became an application, and a
    step saved from another tab at the same moment is merged, not overwritten.
    """
    for _attempt in range(5):
        if draft.status != DraftStatus.OPEN:
            return False
        answers = dict(draft.answers or {})
        answers[step.name] = raw
        completed = [name for name in (draft.completed_steps or []) if name != step.name]
        if complete:
            completed.append(step.name)
        now = utcnow()
        saved = db.session.execute(
            update(Draft)
            .where(Draft.id == draft.id, Draft.status == DraftStatus.OPEN,
                   Draft.updated_at == draft.updated_at)
            .values(answers=answers, completed_steps=completed, updated_at=now,
                    reminder_sent_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if saved == 1:
            # Keep the object in step with the row (new objects, so JSON changes are seen).
            draft.answers, draft.completed_steps, draft.updated_at = answers, completed, now
            draft.reminder_sent_at = None
            db.session.flush()
            return True
        db.session.refresh(draft)  # someone else saved first: merge into theirs
    return False


def open_draft_for(user: Any, service: str) -> Draft | None:
    """The citizen's unexpired draft of ``service``, if they already have one."""
    drafts = db.session.scalars(
        select(Draft).where(Draft.user_id == user.id, Draft.service == service,
                            Draft.status == DraftStatus.OPEN)
        .order_by(Draft.updated_at.desc())
    )
    return next((draft for draft in drafts if not is_expired(draft)), None)


def next_step_after(states: list[StepState], step_name: str) -> StepState | None:
    names = [state.step.name for state in states]
    if step_name not in names:
        return None
    later = states[names.index(step_name) + 1:]
    return later[0] if later else None


def first_unfinished(states: list[StepState]) -> StepState | None:
    return next((state for state in states if not state.complete), None)


# --- showing answers ---------------------------------------------------------------------


@dataclass
class AnswerRow:
    label: str
    value: str
    field: str
    upload: Upload | None = None


def _display(item: Any, upload: Upload | None) -> str:
    data = item.data
    if isinstance(item, UploadField):
        return upload.filename if upload else ""
    if isinstance(item, ConfirmField):
        return gettext("Yes") if data else gettext("No")
    if isinstance(item, DateField):
        return format_day(data) if data else ""
    if hasattr(item, "iter_choices"):
        chosen = {str(v) for v in (data if isinstance(data, list) else [data])}
        labels = [str(choice[1]) for choice in item.iter_choices() if str(choice[0]) in chosen]
        return ", ".join(labels)
    return "" if data is None else str(data)


def answer_rows(form: Any, uploads: Mapping[str, Upload]) -> list[AnswerRow]:
    rows = []
    for item in form:
        if item.name == "csrf_token" or item.type in ("SubmitField", "HiddenField"):
            continue
        upload = uploads.get(item.data) if isinstance(item, UploadField) and item.data else None
        rows.append(AnswerRow(str(item.label.text), _display(item, upload), item.name, upload))
    return rows


def submitted_sections(application: Application) -> list[tuple[str, list[AnswerRow]]]:
    """The answers of a submitted application, as they were given."""
    definition = services(current_app).active.get(application.service)
    uploads = {u.public_id: u for u in application.uploads}
    sections = []
    if definition is None:
        # The service was removed or switched off: still show what was answered.
        for step_name, raw in application.answers.items():
            rows = []
            for name, values in raw.items():
                upload = uploads.get(values[0]) if len(values) == 1 else None
                text = upload.filename if upload else ", ".join(values)
                rows.append(AnswerRow(name, text, name, upload))
            sections.append((step_name, rows))
        return sections
    for step, form in submitted_forms(application, definition):
        sections.append((str(step.title), answer_rows(form, uploads)))
    return sections


def submitted_forms(application: Application,
                    definition: ServiceDefinition) -> Iterator[tuple[Step, Any]]:
    """Each step that was answered, with its form bound to the answers as submitted
    (each form also given the earlier steps' values, as when it was filled in)."""
    values: dict[str, Any] = {}
    for step in definition.steps:
        raw = application.answers.get(step.name)
        if raw is None:
            continue
        form = bind(step, raw, values)
        values.update({item.name: item.data for item in form if item.name != "csrf_token"})
        yield step, form


def submitted_values(application: Application, definition: ServiceDefinition) -> dict[str, Any]:
    """The submitted answers as the forms read them (field name -> value)."""
    values: dict[str, Any] = {}
    for _step, form in submitted_forms(application, definition):
        values.update({item.name: item.data for item in form if item.name != "csrf_token"})
    return values


# --- submission and the workflow ------------------------------------------------------------


def submit(draft: Draft, definition: ServiceDefinition, states: list[StepState],
           locale: str) -> Application:
    """Turn ``draft`` into exactly one application, however often or concurrently asked.

    The draft is claimed with a compare-and-set (``open`` -> ``submitted``); whoever loses
    finds the winner's application by the draft id, which is unique in ``applications``.
    """
    values = flat_values(states)
    fee = definition.fees(values)
    key = open_key_for(definition, values, draft.user_id)
    claimed = db.session.execute(
        update(Draft)
        .where(Draft.id == draft.id, Draft.status == DraftStatus.OPEN)
        .values(status=DraftStatus.SUBMITTED, updated_at=utcnow())
    ).rowcount
    if claimed != 1:
        # Sent already (a double click, another tab): the same application.
        db.session.rollback()
        return _application_of(draft)
    if key is not None:
        holder = _holder_of(definition.name, key)
        if holder is not None:
            db.session.rollback()  # the draft stays open
            raise DuplicateApplication(holder)
    used = {state.form[f].data for state in states for f in state.step.fields()
            if isinstance(state.form[f], UploadField) and state.form[f].data}
    application = Application(
        draft_id=draft.id,
        user_id=draft.user_id,
        service=definition.name,
        department=definition.department,
        state=definition.workflow.initial,
        answers={state.step.name: draft.answers[state.step.name] for state in states},
        fee_amount=fee.amount,
        fee_currency=fee.currency,
        locale=locale,
        open_key=key,
        applicant_name=applicant_name(draft.user),
    )
    for attempt in range(5):
        application.reference = new_reference()
        try:
            with db.session.begin_nested():
                db.session.add(application)
                db.session.flush()
            break
        except IntegrityError:  # the savepoint's rollback took the pending row away
            if key is not None and (holder := _holder_of(definition.name, key)) is not None:
                db.session.rollback()  # another submission took the key meanwhile
                raise DuplicateApplication(holder) from None
            if attempt == 4:
                raise
    db.session.add(ApplicationEvent(application_id=application.id, action="submitted",
                                    from_state=None, to_state=application.state,
                                    actor_role="citizen", actor_id=draft.user_id))
    leftovers = []
    for upload in db.session.scalars(select(Upload).where(Upload.draft_id == draft.id)):
        if upload.public_id in used:
            upload.application_id = application.id
        else:
            leftovers.append(upload)
            db.session.delete(upload)
    free_pass = None
    if application.state == AWAITING_PAYMENT and fee.amount == 0:
        free_pass = transition(application, PAYMENT_RECEIVED, actor_role="system",
                               definition=definition, note=None)
    elif application.state != AWAITING_PAYMENT:
        start_the_clock(application, definition)
    from portal.identity.util import email_user

    email_user(
        application.user, "applications/submitted",
        reference=application.reference, application_id=application.id,
        service_title=_in_locale(definition.title, application.user.preferred_language),
        link=_external("applications.detail", reference=application.reference),
        awaiting_payment=application.state == AWAITING_PAYMENT,
    )
    db.session.commit()
    discard_files(leftovers)
    _announce("application_submitted", application=application)
    if free_pass is not None:
        announce_transition(application, free_pass)
    return application


def _in_locale(text: Any, locale: str) -> str:
    from portal.i18n import force_locale

    with force_locale(locale):
        return str(text)


def _external(endpoint: str, **values: Any) -> str:
    from portal.notifications.outbox import external_url

    return external_url(endpoint, **values)


def _application_of(draft: Draft) -> Application:
    application = db.session.scalar(select(Application).where(Application.draft_id == draft.id))
    if application is None:  # the draft was claimed, but its application is not visible yet
        abort(409)
    return application


def start_the_clock(application: Application, definition: ServiceDefinition) -> None:
    """The pledge runs from the day the department can start (submitted, or paid)."""
    from portal.i18n import hong_kong_today

    if application.state in definition.workflow.terminal:
        return
    application.decision_due = add_working_days(hong_kong_today(),
                                                definition.pledge_working_days)


def applicant_name(user: Any) -> str:
    """The names staff search by: English, then Chinese when given."""
    return " ".join(part for part in (user.name_en, user.name_zh) if part)[:160]


def resumed_due_date(application: Application, now: datetime) -> Any:
    """The due date once the citizen has answered: later by the Hong Kong working days
    the department waited (the clock was paused from ``waiting_since`` until ``now``)."""
    from portal.applications.util import working_days_between
    from portal.i18n import hong_kong_day

    if application.decision_due is None or application.waiting_since is None:
        return application.decision_due
    paused = working_days_between(hong_kong_day(application.waiting_since),
                                  hong_kong_day(now))
    return add_working_days(application.decision_due, paused) if paused else \
        application.decision_due


def transition(application: Application, action: str, *, actor_role: str,
               actor_id: int | None = None, note: str | None = None,
               definition: ServiceDefinition | None = None) -> ApplicationEvent:
    """Move ``application`` by ``action``: the one way any state changes.

    Raises ``IllegalTransition`` when the workflow does not allow it for this actor, and
    ``StaleState`` when another request moved the application first (the update is a
    compare-and-set on the state read). The caller commits.
    """
    definition = definition or services(current_app).active.get(application.service)
    if definition is None:
        raise IllegalTransition(application.state, action, actor_role)
    source = application.state
    target = definition.workflow.next_state(source, action, actor_role)
    final = target in definition.workflow.terminal
    now = utcnow()
    changes: dict[str, Any] = {"state": target, "updated_at": now}
    if final:
        changes["open_key"] = None  # the key (a bill number) is free again
        changes["decided_at"] = now
    waiting = definition.workflow.waiting
    if target in waiting and source not in waiting:
        changes["waiting_since"] = now  # the pledge's clock stops
    elif source in waiting and target not in waiting:
        changes["waiting_since"] = None
        changes["decision_due"] = resumed_due_date(application, now)
    moved = db.session.execute(
        update(Application)
        .where(Application.id == application.id, Application.state == source)
        .values(**changes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise StaleState(source, action, actor_role)
    application.state = target
    for name in ("open_key", "decided_at", "waiting_since", "decision_due"):
        if name in changes:
            setattr(application, name, changes[name])
    event = ApplicationEvent(application_id=application.id, action=action,
                             from_state=source, to_state=target, actor_role=actor_role,
                             actor_id=actor_id, note=note)
    db.session.add(event)
    if source == AWAITING_PAYMENT and action == PAYMENT_RECEIVED:
        start_the_clock(application, definition)
    db.session.flush()
    return event


def _announce(hook: str, **kwargs: Any) -> None:
    """Tell plugins, after commit; a plugin's failure is logged, never the citizen's."""
    try:
        services(current_app).hook(hook)(**kwargs)
    except Exception:  # noqa: BLE001 - a plugin must not break the portal
        log.exception("a plugin failed in %s", hook)


def announce_transition(application: Application, event: ApplicationEvent) -> None:
    _announce("application_transitioned", application=application, event=event)

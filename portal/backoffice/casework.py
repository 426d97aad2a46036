"""What staff do to a case, as functions the views (and the queue's bulk actions) call.

Every change is a compare-and-set on what the caller saw, so when two staff act on one
case at once exactly one succeeds and the other gets a ``CaseConflict`` that says what
happened instead. Each function adds its timeline entry and audit event to the current
transaction; the caller commits (and, after a workflow move, announces it with
``engine.announce_transition``).

Every status change staff make emails the citizen, in their language, through the
outbox (linked to the application, so the case shows the email's delivery state). Audit
details hold ids, codes and lengths, never what was written.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update

from portal.applications import engine
from portal.applications.models import (
    Application,
    ApplicationEvent,
    CaseMessage,
    CaseNote,
    MessageKind,
)
from portal.applications.reasons import REJECTION_REASONS
from portal.audit import log as audit
from portal.database import utcnow
from portal.extensions import db
from portal.identity.models import Department, Role, User
from portal.plugins.service import REQUEST_INFORMATION, IllegalTransition, ServiceDefinition

#: Roles a case can be assigned to (they take the workflow's staff actions).
ASSIGNABLE_ROLES = (Role.OFFICER, Role.SUPERVISOR)
#: Roles that may act on any case of their department, assigned to them or not.
OVERSEEING_ROLES = (Role.SUPERVISOR, Role.DEPARTMENT_ADMIN)

#: Longest texts staff may write: an internal note; a message or request the citizen
#: reads; a rejection's explanation or an action's note (kept on the timeline event).
NOTE_MAX_LENGTH = 4000
MESSAGE_MAX_LENGTH = 2000
REASON_MAX_LENGTH = 1000


class CaseConflict(Exception):
    """Someone else changed the case first; ``application`` is as it is now."""

    def __init__(self, application: Application, message: str = "") -> None:
        super().__init__(message or "the case changed meanwhile")
        self.application = application


class AlreadyAssigned(CaseConflict):
    """The case was claimed or assigned by someone else first (``holder`` has it now)."""

    def __init__(self, application: Application, holder: User | None) -> None:
        super().__init__(application, "the case is assigned to someone else")
        self.holder = holder


class StateChanged(CaseConflict):
    """The case moved on (someone decided, the citizen answered) since the page was shown."""


class NotAssignable(ValueError):
    """The person chosen cannot take cases of this department."""


@dataclass(frozen=True)
class Shown:
    """What a page showed of a case, carried by its forms: the state, who had it and the
    id of its last change of state (so a case that left a state and came back to it, as
    after an answered request for information, is not taken for unchanged)."""

    state: str
    assignee_id: int | None
    version: int


def last_change(application: Application) -> ApplicationEvent | None:
    """The newest timeline entry that set the case's state (submitted or a move)."""
    return db.session.scalar(
        select(ApplicationEvent)
        .where(ApplicationEvent.application_id == application.id,
               or_(ApplicationEvent.from_state.is_(None),
                   ApplicationEvent.from_state != ApplicationEvent.to_state))
        .order_by(ApplicationEvent.id.desc()).limit(1))


def shown(application: Application) -> Shown:
    change = last_change(application)
    return Shown(application.state, application.assigned_to_id, change.id if change else 0)


def check_unchanged(application: Application, seen: Shown) -> None:
    """Raise ``StateChanged`` or ``AlreadyAssigned`` unless the case is as ``seen``."""
    now = shown(application)
    if (now.state, now.version) != (seen.state, seen.version):
        raise StateChanged(application)
    if now.assignee_id != seen.assignee_id:
        raise AlreadyAssigned(application, application.assigned_to)


def may_act(application: Application, user: User) -> bool:
    """Whether ``user`` may take actions and write to the citizen on this case: the
    person it is assigned to, or a supervisor or department administrator (any case of
    their department). An officer claims a case first. (The department itself is
    checked by ``access.case_or_404``.)"""
    return (user.role_enum in OVERSEEING_ROLES
            or (application.assigned_to_id is not None
                and application.assigned_to_id == user.id))


def staff_actions(application: Application, definition: ServiceDefinition | None,
                  user: User) -> list[str]:
    """The workflow's actions for ``user``'s role in the case's state now."""
    if definition is None:
        return []
    return definition.workflow.actions(application.state, user.role)


def assignable_staff(department_code: str) -> list[User]:
    """Active officers and supervisors of the department, by name."""
    return list(db.session.scalars(
        select(User).join(Department, User.department_id == Department.id)
        .where(Department.code == department_code, User.is_active.is_(True),
               User.role.in_([role.value for role in ASSIGNABLE_ROLES]))
        .order_by(User.name_en, User.id)
    ))


def _record(application: Application, action: str, actor: User, note: str | None,
            subject: User | None = None) -> None:
    db.session.add(ApplicationEvent(
        application_id=application.id, action=action, from_state=application.state,
        to_state=application.state, actor_role=actor.role, actor_id=actor.id, note=note,
        internal=True, subject_id=subject.id if subject is not None else None))


def _reload(application: Application) -> Application:
    db.session.refresh(application)
    return application


def claim(application: Application, user: User) -> None:
    """``user`` takes an unassigned case. Raises ``AlreadyAssigned`` if someone has it."""
    if application.assigned_to_id == user.id:
        return
    moved = db.session.execute(
        update(Application)
        .where(Application.id == application.id, Application.assigned_to_id.is_(None))
        .values(assigned_to_id=user.id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        _reload(application)
        raise AlreadyAssigned(application, application.assigned_to)
    application.assigned_to_id = user.id
    _record(application, "claimed", user, None)
    audit.record("case.claimed", actor=user, target=application,
                 department=application.department)


def assign(application: Application, to: User | None, *, by: User,
           expected: int | None) -> None:
    """Give the case to ``to`` (None: back to the unassigned pile), if it is still with
    ``expected`` (the assignee id the deciding person saw). Raises ``AlreadyAssigned``
    when it changed meanwhile and ``NotAssignable`` for someone outside the department.
    """
    if to is not None and (
        not to.is_active or to.role_enum not in ASSIGNABLE_ROLES
        or to.department is None or to.department.code != application.department
    ):
        raise NotAssignable(to.email)
    target_id = to.id if to is not None else None
    current = (Application.assigned_to_id.is_(None) if expected is None
               else Application.assigned_to_id == expected)
    moved = db.session.execute(
        update(Application)
        .where(Application.id == application.id, current)
        .values(assigned_to_id=target_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        _reload(application)
        raise AlreadyAssigned(application, application.assigned_to)
    application.assigned_to_id = target_id
    # Who it went to is kept as the person (shown by name in the reader's language).
    _record(application, "assigned", by, None, subject=to)
    audit.record("case.assigned", actor=by, target=application,
                 department=application.department,
                 details={"from": expected, "to": target_id})


def describe(application: Application) -> dict[str, Any]:
    """What a conflict message needs: the state and who has the case now."""
    holder = application.assigned_to
    return {"state": application.state, "holder": holder.name_en if holder else None}


# --- workflow actions -------------------------------------------------------------------


def _move(application: Application, action: str, by: User, definition: ServiceDefinition,
          note: str | None, reason_code: str | None = None) -> ApplicationEvent:
    """The workflow move, as a compare-and-set on the state the caller loaded."""
    try:
        event = engine.transition(application, action, actor_role=by.role, actor_id=by.id,
                                  note=note or None, definition=definition)
    except IllegalTransition:  # StaleState too: the state moved meanwhile
        _reload(application)
        raise StateChanged(application) from None
    event.reason_code = reason_code
    return event


def take_action(application: Application, action: str, *, by: User,
                definition: ServiceDefinition, note: str | None = None) -> ApplicationEvent:
    """Approve, or take one of the service's own actions, with an optional note the
    citizen reads. On approval the service's documents are asked for in the same
    transaction. Raises ``StateChanged`` when the case moved first."""
    from portal.receipts.documents import request_documents

    event = _move(application, action, by, definition, note)
    documents = request_documents(application, definition) if action == "approve" else []
    _email_status(application, definition, event, documents=len(documents))
    audit.record(f"case.{'approved' if action == 'approve' else action}", actor=by,
                 target=application, department=application.department,
                 details={"action": action, "from": event.from_state, "to": event.to_state,
                          "note_length": len(note or ""), "documents": len(documents)})
    return event


def approve(application: Application, *, by: User, definition: ServiceDefinition,
            note: str | None = None) -> ApplicationEvent:
    return take_action(application, "approve", by=by, definition=definition, note=note)


def reject(application: Application, *, by: User, definition: ServiceDefinition,
           reason_code: str, details: str | None = None) -> ApplicationEvent:
    """Reject for a reason of the list (``REJECTION_REASONS``), with words of one's own
    (``details``, needed for ``other``): the citizen reads the reason in their language."""
    if reason_code not in REJECTION_REASONS:
        raise ValueError(f"unknown rejection reason {reason_code!r}")
    if reason_code == "other" and not details:
        raise ValueError("the reason 'other' needs an explanation")
    event = _move(application, "reject", by, definition, details, reason_code)
    _email_status(application, definition, event)
    audit.record("case.rejected", actor=by, target=application,
                 department=application.department,
                 details={"from": event.from_state, "to": event.to_state,
                          "reason": reason_code, "note_length": len(details or "")})
    return event


def request_information(application: Application, *, by: User,
                        definition: ServiceDefinition, message: str
                        ) -> tuple[ApplicationEvent, CaseMessage]:
    """Ask the citizen for more: the request becomes their task, the case waits (the
    pledge's clock is paused by the engine) and they are emailed."""
    if not message:
        raise ValueError("a request for information needs a message")
    event = _move(application, REQUEST_INFORMATION, by, definition, None)
    request = _add_message(application, by, MessageKind.INFORMATION_REQUEST, message)
    _email_status(application, definition, event, message=message)
    audit.record("case.information_requested", actor=by, target=application,
                 department=application.department,
                 details={"from": event.from_state, "to": event.to_state,
                          "message": request.public_id, "length": len(message)})
    return event, request


# --- notes and messages -----------------------------------------------------------------


def add_note(application: Application, *, by: User, body: str) -> CaseNote:
    """An internal note: staff of the department only."""
    note = CaseNote(application_id=application.id, author_id=by.id, body=body)
    db.session.add(note)
    db.session.flush()
    audit.record("case.note_added", actor=by, target=application,
                 department=application.department,
                 details={"note": note.id, "length": len(body)})
    return note


def send_message(application: Application, *, by: User, body: str) -> CaseMessage:
    """A message to the citizen (for information: nothing for them to answer)."""
    message = _add_message(application, by, MessageKind.MESSAGE, body)
    _email_citizen(application, "applications/message", _service_title(application),
                   message=body)
    audit.record("case.message_sent", actor=by, target=application,
                 department=application.department,
                 details={"message": message.public_id, "length": len(body)})
    return message


def _add_message(application: Application, by: User, kind: str, body: str) -> CaseMessage:
    message = CaseMessage(public_id=secrets.token_hex(16), application_id=application.id,
                          kind=kind, sender="staff", author_id=by.id, body=body)
    db.session.add(message)
    db.session.flush()
    return message


# --- emails to the citizen --------------------------------------------------------------


def _email_citizen(application: Application, kind: str, service_title: Any,
                   **context: Any) -> None:
    """Queue ``emails/<kind>.txt`` to the applicant in their language, linked to the case.
    Lazy strings (the service's title, a reason) are rendered in the citizen's language
    with the rest of the email."""
    from portal.identity.util import email_user
    from portal.notifications.outbox import external_url

    email_user(application.user, kind, application_id=application.id,
               reference=application.reference, service_title=service_title,
               link=external_url("applications.detail", reference=application.reference),
               **context)


def _service_title(application: Application) -> Any:
    from flask import current_app

    from portal.plugins.manager import services

    definition = services(current_app).active.get(application.service)
    return definition.title if definition is not None else application.service


def _email_status(application: Application, definition: ServiceDefinition,
                  event: ApplicationEvent, *, message: str | None = None,
                  documents: int = 0) -> None:
    """Tell the citizen what staff did: the request for information, or the new status
    (approved; rejected with the reason; any other state by its name)."""
    if event.action == REQUEST_INFORMATION:
        _email_citizen(application, "applications/information_requested", definition.title,
                       message=message or "")
        return
    outcome = {"approve": "approved", "reject": "rejected"}.get(event.action, "changed")
    _email_citizen(
        application, "applications/decided", definition.title,
        outcome=outcome, state=definition.state_label(event.to_state),
        reason=REJECTION_REASONS.get(event.reason_code or "") if outcome == "rejected"
        else None,
        note=event.note or "", documents=documents,
    )

"""What staff do to a case, as functions the views (and the queue's bulk actions) call.

Every change is a compare-and-set on what the caller saw, so when two staff act on one
case at once exactly one succeeds and the other gets a ``CaseConflict`` that says what
happened instead. Each function adds its timeline entry and audit event to the current
transaction; the caller commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from portal.applications.models import Application, ApplicationEvent
from portal.audit import log as audit
from portal.database import utcnow
from portal.extensions import db
from portal.identity.models import Department, Role, User

#: Roles a case can be assigned to (they take the workflow's staff actions).
ASSIGNABLE_ROLES = (Role.OFFICER, Role.SUPERVISOR)


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


class NotAssignable(ValueError):
    """The person chosen cannot take cases of this department."""


def assignable_staff(department_code: str) -> list[User]:
    """Active officers and supervisors of the department, by name."""
    return list(db.session.scalars(
        select(User).join(Department, User.department_id == Department.id)
        .where(Department.code == department_code, User.is_active.is_(True),
               User.role.in_([role.value for role in ASSIGNABLE_ROLES]))
        .order_by(User.name_en, User.id)
    ))


def _record(application: Application, action: str, actor: User, note: str | None) -> None:
    db.session.add(ApplicationEvent(
        application_id=application.id, action=action, from_state=application.state,
        to_state=application.state, actor_role=actor.role, actor_id=actor.id, note=note,
        internal=True))


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
    _record(application, "assigned", by, to.name_en if to is not None else None)
    audit.record("case.assigned", actor=by, target=application,
                 department=application.department,
                 details={"from": expected, "to": target_id})


def describe(application: Application) -> dict[str, Any]:
    """What a conflict message needs: the state and who has the case now."""
    holder = application.assigned_to
    return {"state": application.state, "holder": holder.name_en if holder else None}

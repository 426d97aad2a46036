"""What portal administrators change about departments and staff, and the rules that keep
the portal governable.

* A department's code (``TD``) names it in receipt numbers, audit rows and every
  application, so it is fixed once the department has staff or applications, or a
  service names it.
* A department role needs a department; a portal administrator has none.
* Nobody changes their own role or deactivates themselves, and the last active portal
  administrator stays one: otherwise nobody could manage the portal any more.
* Every change is a compare-and-set on what the administrator saw, so two administrators
  editing one account at once produce one change and a plain message for the other.

A role change counts from the next request: the permission check reads the role from the
database on every request (``portal.identity.auth.load_user``). Deactivation also ends the
person's sessions. Each function adds its audit events to the current transaction; the
caller commits.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from portal.applications.models import Application, ApplicationEvent
from portal.audit import log as audit
from portal.backoffice.casework import ASSIGNABLE_ROLES
from portal.database import utcnow
from portal.extensions import db
from portal.identity.auth import end_all_sessions
from portal.identity.models import Department, Role, User

CODE_PATTERN = re.compile(r"^[A-Z]{2,8}$")


class AdminRefused(Exception):
    """The rules forbid the change; ``message`` tells the administrator why."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


class ChangedMeanwhile(AdminRefused):
    """Someone else changed the account or department after the form was shown."""


# --- departments -------------------------------------------------------------------------


def department_in_use(department: Department) -> bool:
    """Whether the code is fixed: staff, applications or an installed service use it."""
    from flask import current_app

    from portal.plugins.manager import services

    if any(entry.definition is not None and entry.definition.department == department.code
           for entry in services(current_app).entries):
        return True
    return bool(db.session.scalar(select(
        exists().where(User.department_id == department.id)
        | exists().where(Application.department == department.code))))


def _code_taken(code: str, but: int | None = None) -> bool:
    query = select(Department.id).where(Department.code == code)
    if but is not None:
        query = query.where(Department.id != but)
    return db.session.scalar(query) is not None


def create_department(*, code: str, name_en: str, name_zh: str, by: User) -> Department:
    if _code_taken(code):
        raise AdminRefused(_l("A department with this code already exists"))
    department = Department(code=code, name_en=name_en, name_zh=name_zh)
    db.session.add(department)
    db.session.flush()
    audit.record("department.created", actor=by, target=department, department=code,
                 details={"code": code, "name_en": name_en, "name_zh": name_zh})
    return department


def update_department(department: Department, *, code: str, name_en: str, name_zh: str,
                      by: User) -> dict[str, Any]:
    """Rename (and, while unused, recode) ``department``; returns what changed."""
    old = {"code": department.code, "name_en": department.name_en,
           "name_zh": department.name_zh}
    new = {"code": code, "name_en": name_en, "name_zh": name_zh}
    changed = {key: {"old": old[key], "new": new[key]} for key in old if old[key] != new[key]}
    if not changed:
        return {}
    if "code" in changed:
        if department_in_use(department):
            raise AdminRefused(_l("The code cannot change: the department has staff or "
                                  "applications, or a service uses it"))
        if _code_taken(code, but=department.id):
            raise AdminRefused(_l("A department with this code already exists"))
    moved = db.session.execute(
        update(Department)
        .where(Department.id == department.id, Department.code == old["code"],
               Department.name_en == old["name_en"], Department.name_zh == old["name_zh"])
        .values(**new).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        db.session.refresh(department)
        raise ChangedMeanwhile(_l("Someone else changed this department meanwhile. Check "
                                  "the details now shown and try again"))
    for key, value in new.items():
        set_committed_value(department, key, value)
    audit.record("department.updated", actor=by, target=department, department=code,
                 details=changed)
    return changed


# --- staff ---------------------------------------------------------------------------------


def _lock_portal_admins() -> None:
    """On PostgreSQL, lock every active portal administrator's row until the commit, so
    two administrators removing each other at once are put one after the other (the
    second then sees it would leave none). SQLite lets one writer in at a time anyway."""
    db.session.execute(select(User.id).where(User.role == Role.PORTAL_ADMIN.value,
                                              User.is_active.is_(True))
                       .order_by(User.id).with_for_update())


def _another_active_admin(user_id: int) -> Any:
    other = User.__table__.alias("other_admin")
    return exists().where(other.c.role == Role.PORTAL_ADMIN.value,
                          other.c.is_active.is_(True), other.c.id != user_id)


def _return_open_cases(user: User, by: User) -> int:
    """Put the person's undecided cases back in their department's unassigned pile."""
    cases = db.session.execute(
        select(Application.id, Application.state)
        .where(Application.assigned_to_id == user.id, Application.decided_at.is_(None))
    ).all()
    if not cases:
        return 0
    db.session.execute(
        update(Application)
        .where(Application.id.in_([case_id for case_id, _state in cases]),
               Application.assigned_to_id == user.id)
        .values(assigned_to_id=None, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    for case_id, state in cases:
        db.session.add(ApplicationEvent(
            application_id=case_id, action="assigned", from_state=state, to_state=state,
            actor_role=by.role, actor_id=by.id, note=None, internal=True))
    return len(cases)


def _refuse_self(user: User, by: User) -> None:
    if user.id == by.id:
        raise AdminRefused(_l("You cannot change your own role or deactivate your own "
                              "account. Ask another portal administrator"))


def _changed_meanwhile() -> ChangedMeanwhile:
    return ChangedMeanwhile(_l("Someone else changed this account meanwhile. Check the "
                               "details now shown and try again"))


def change_role(user: User, *, role: Role, department: Department | None, by: User,
                expected_role: str, expected_department_id: int | None) -> bool:
    """Give ``user`` ``role`` in ``department`` (None for a portal administrator), if the
    account still has the role and department the administrator saw. Returns whether
    anything changed.

    :raises AdminRefused: for oneself, or when it would leave no portal administrator.
    :raises ChangedMeanwhile: when the account changed after the form was shown.
    """
    if role is Role.CITIZEN:
        raise AdminRefused(_l("Select a role"))
    if role is Role.PORTAL_ADMIN:
        department = None
    elif department is None:
        raise AdminRefused(_l("Select the department this person works in"))
    new_department_id = department.id if department is not None else None
    if (user.role, user.department_id) != (expected_role, expected_department_id):
        raise _changed_meanwhile()
    if (role.value, new_department_id) == (user.role, user.department_id):
        return False
    _refuse_self(user, by)
    old_role, old_department = user.role, user.department
    seen = and_(User.id == user.id, User.role == expected_role,
                User.department_id.is_(None) if expected_department_id is None
                else User.department_id == expected_department_id)
    condition = seen
    if old_role == Role.PORTAL_ADMIN.value and user.is_active:
        _lock_portal_admins()
        condition = and_(seen, _another_active_admin(user.id))
    moved = db.session.execute(
        update(User).where(condition)
        .values(role=role.value, department_id=new_department_id)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        db.session.refresh(user)
        if (user.role, user.department_id) != (expected_role, expected_department_id):
            raise _changed_meanwhile()
        raise AdminRefused(_l("This is the last active portal administrator. Make "
                              "someone else a portal administrator first"))
    # What the UPDATE wrote, without marking the account changed again.
    set_committed_value(user, "role", role.value)
    set_committed_value(user, "department_id", new_department_id)
    set_committed_value(user, "department", department)
    returned = 0
    if role not in ASSIGNABLE_ROLES or new_department_id != expected_department_id:
        returned = _return_open_cases(user, by)
    details = {
        "old_role": old_role, "new_role": role.value,
        "old_department": old_department.code if old_department else None,
        "new_department": department.code if department else None,
        "cases_returned": returned,
    }
    # Each department involved sees the change in its own log.
    codes = {details["new_department"], details["old_department"]} - {None}
    for code in sorted(codes) or [None]:
        audit.record("staff.role_changed", actor=by, target=user, department=code,
                     details=details)
    return True


def set_active(user: User, active: bool, *, by: User) -> bool:
    """Deactivate (ending every session, returning open cases) or reactivate ``user``.
    Returns whether anything changed."""
    if user.is_active == active:
        return False
    _refuse_self(user, by)
    condition = and_(User.id == user.id, User.is_active.is_(not active))
    if not active and user.role == Role.PORTAL_ADMIN.value:
        _lock_portal_admins()
        condition = and_(condition, _another_active_admin(user.id))
    moved = db.session.execute(
        update(User).where(condition).values(is_active=active)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        db.session.refresh(user)
        if user.is_active == active:
            return False  # someone else did the same meanwhile
        raise AdminRefused(_l("This is the last active portal administrator. Make "
                              "someone else a portal administrator first"))
    set_committed_value(user, "is_active", active)
    details: dict[str, Any] = {"role": user.role}
    if not active:
        end_all_sessions(user)
        details["cases_returned"] = _return_open_cases(user, by)
    audit.record("staff.deactivated" if not active else "staff.reactivated", actor=by,
                 target=user, department=user.department.code if user.department else None,
                 details=details)
    return True


def staff_counts() -> dict[int, int]:
    """Active staff per department id."""
    return dict(db.session.execute(
        select(User.department_id, func.count())
        .where(User.department_id.is_not(None), User.is_active.is_(True))
        .group_by(User.department_id)).all())

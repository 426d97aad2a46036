"""Who may do what in the back office: one table of permissions per role, checked on the
server by every staff route.

Department roles (officer, supervisor, department administrator) work on their own
department's cases only; a portal administrator manages departments, staff and services
and handles no case. A route names the permission it needs with
``department_staff_required``; a case is loaded with ``case_or_404``, which answers 404
for a case of another department exactly as for one that does not exist.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user
from sqlalchemy import select

from portal.applications.models import Application
from portal.applications.util import normalise_reference
from portal.extensions import db
from portal.identity.auth import may_handle_application, staff_required
from portal.identity.models import Role

F = TypeVar("F", bound=Callable[..., Any])


class Permission(enum.StrEnum):
    #: See the work queue and cases, act on cases as the workflow allows, notes, messages,
    #: ask for refunds.
    WORK_CASES = "work_cases"
    #: Assign and reassign cases to others, one or many at once.
    ASSIGN = "assign"
    #: Download the queue as CSV.
    EXPORT = "export"
    #: The department's dashboard.
    REPORTS = "reports"
    #: Approve or decline refunds above the department's threshold (never one's own).
    APPROVE_REFUNDS = "approve_refunds"
    #: Read the department's audit log.
    AUDIT = "audit"
    #: Change the department's settings (the refund threshold).
    DEPARTMENT_SETTINGS = "department_settings"
    #: Portal administrators: departments, staff accounts and roles, service switches.
    MANAGE_PORTAL = "manage_portal"


_CASEWORK = {Permission.WORK_CASES}
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.CITIZEN: frozenset(),
    Role.OFFICER: frozenset(_CASEWORK),
    Role.SUPERVISOR: frozenset(_CASEWORK | {Permission.ASSIGN, Permission.EXPORT,
                                            Permission.REPORTS, Permission.APPROVE_REFUNDS}),
    Role.DEPARTMENT_ADMIN: frozenset(_CASEWORK | {
        Permission.ASSIGN, Permission.EXPORT, Permission.REPORTS, Permission.APPROVE_REFUNDS,
        Permission.AUDIT, Permission.DEPARTMENT_SETTINGS}),
    Role.PORTAL_ADMIN: frozenset({Permission.MANAGE_PORTAL}),
}


def can(user: Any, permission: Permission) -> bool:
    """Whether ``user``'s role grants ``permission`` (department checks come on top)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return permission in GRANTS.get(user.role_enum, frozenset())


def department_staff_required(permission: Permission) -> Callable[[F], F]:
    """Staff with the second factor checked (else 404, as ``staff_required``), whose role
    grants ``permission`` (else 403). Department permissions also need a department."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not can(current_user, permission):
                abort(403)
            if permission is not Permission.MANAGE_PORTAL and current_user.department is None:
                abort(403)
            return view(*args, **kwargs)

        return staff_required()(wrapped)  # type: ignore[return-value]

    return decorator


def case_or_404(reference: str, permission: Permission = Permission.WORK_CASES) -> Application:
    """The application with this reference, if the signed-in staff member may handle it
    with ``permission``; 404 otherwise (another department's case looks missing)."""
    canonical = normalise_reference(reference)
    if canonical is None:
        abort(404)
    application = db.session.scalar(
        select(Application).where(Application.reference == canonical))
    if application is None or not may_handle_application(current_user, application):
        abort(404)
    if not can(current_user, permission):
        abort(403)
    return application

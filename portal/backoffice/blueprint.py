"""Routes of the back office. Every route checks the staff role on the server."""

from __future__ import annotations

from flask import Blueprint

from portal.backoffice import cases, payments, views
from portal.backoffice.access import Permission, department_staff_required
from portal.identity.auth import staff_required
from portal.identity.models import Role

bp = Blueprint("backoffice", __name__, url_prefix="/staff")

bp.add_url_rule("/", "home", staff_required()(views.home))
bp.add_url_rule("/admin/staff", "staff_list", staff_required(Role.PORTAL_ADMIN)(views.staff_list))
bp.add_url_rule(
    "/admin/services", "services", staff_required(Role.PORTAL_ADMIN)(views.service_list)
)
bp.add_url_rule(
    "/admin/services/<entry_point>/switch-on", "service_switch_on",
    staff_required(Role.PORTAL_ADMIN)(views.service_switch_on), methods=["POST"],
)
bp.add_url_rule(
    "/admin/staff/new", "staff_create", staff_required(Role.PORTAL_ADMIN)(views.staff_create),
    methods=["GET", "POST"],
)

# An application's payments and refunds: any staff role passes here; the views answer 404
# unless the application belongs to the signed-in person's department.
bp.add_url_rule("/applications/find", "find_application",
                staff_required()(payments.find_application))
bp.add_url_rule("/applications/<reference>/payments", "application_payments",
                staff_required()(payments.application_payments))
bp.add_url_rule(
    "/applications/<reference>/payments/<payment_id>/refund", "refund_form",
    staff_required()(payments.refund_form), methods=["GET", "POST"],
)
bp.add_url_rule(
    "/applications/<reference>/payments/<payment_id>/refund/confirm", "confirm_refund",
    staff_required()(payments.confirm_refund), methods=["POST"],
)

# A case: every answer, document, payment, message and action (department staff only).
bp.add_url_rule("/cases/<reference>", "case",
                department_staff_required(Permission.WORK_CASES)(cases.case))

# Four eyes: refunds above the department's threshold wait for a second person (never the
# one who asked); the views answer 404 for another department's refund.
bp.add_url_rule(
    "/refunds/approvals", "refund_approvals",
    department_staff_required(Permission.APPROVE_REFUNDS)(payments.refund_approvals),
)
bp.add_url_rule(
    "/refunds/<public_id>/decision", "refund_decision",
    department_staff_required(Permission.APPROVE_REFUNDS)(payments.refund_decision),
    methods=["GET", "POST"],
)

# What staff do from the case page (each a POST with CSRF; the views check who may act).
_case_work = department_staff_required(Permission.WORK_CASES)
bp.add_url_rule("/cases/<reference>/claim", "case_claim", _case_work(cases.claim),
                methods=["POST"])
bp.add_url_rule("/cases/<reference>/assign", "case_assign",
                department_staff_required(Permission.ASSIGN)(cases.assign),
                methods=["GET", "POST"])
bp.add_url_rule("/cases/<reference>/actions/<action>", "case_action", _case_work(cases.act),
                methods=["GET", "POST"])
bp.add_url_rule("/cases/<reference>/notes/new", "case_note", _case_work(cases.add_note),
                methods=["GET", "POST"])
bp.add_url_rule("/cases/<reference>/messages/new", "case_message",
                _case_work(cases.send_message), methods=["GET", "POST"])

# The department's work queue: filters, counts, bulk assignment and the CSV export.
from portal.backoffice import queue_views  # noqa: E402 - appended with its routes

bp.add_url_rule("/queue", "queue",
                department_staff_required(Permission.WORK_CASES)(queue_views.queue_page))
bp.add_url_rule("/queue/assign", "bulk_assign",
                department_staff_required(Permission.ASSIGN)(queue_views.bulk_assign),
                methods=["POST"])
bp.add_url_rule("/queue.csv", "queue_csv",
                department_staff_required(Permission.EXPORT)(queue_views.queue_csv))

# Portal administrators: departments and staff accounts (roles, deactivation); department
# administrators: their department's settings and audit log; reports for supervisors too.
from portal.backoffice import audit_views, reports, settings_views  # noqa: E402 - appended

_manage = department_staff_required(Permission.MANAGE_PORTAL)
bp.add_url_rule("/admin/departments", "departments", _manage(views.departments))
bp.add_url_rule("/admin/departments/new", "department_create",
                _manage(views.department_create), methods=["GET", "POST"])
bp.add_url_rule("/admin/departments/<int:department_id>/edit", "department_edit",
                _manage(views.department_edit), methods=["GET", "POST"])
bp.add_url_rule("/admin/staff/<int:user_id>/edit", "staff_edit", _manage(views.staff_edit),
                methods=["GET", "POST"])
bp.add_url_rule("/admin/staff/<int:user_id>/deactivate", "staff_deactivate",
                _manage(views.staff_deactivate), methods=["POST"])
bp.add_url_rule("/admin/staff/<int:user_id>/reactivate", "staff_reactivate",
                _manage(views.staff_reactivate), methods=["POST"])
bp.add_url_rule("/department/settings", "department_settings",
                department_staff_required(Permission.DEPARTMENT_SETTINGS)(
                    settings_views.department_settings), methods=["GET", "POST"])
bp.add_url_rule("/audit", "audit_log",
                department_staff_required(Permission.AUDIT)(audit_views.audit_log))
bp.add_url_rule("/reports", "reports",
                department_staff_required(Permission.REPORTS)(reports.dashboard))

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

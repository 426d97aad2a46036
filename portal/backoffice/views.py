"""The staff side: the staff home and, for portal administrators, departments, staff
accounts and service switches."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.audit import log as audit
from portal.backoffice import admin
from portal.backoffice.access import Permission, can
from portal.backoffice.admin_forms import ConfirmForm, DepartmentForm, StaffEditForm
from portal.backoffice.reports import home_counts
from portal.extensions import db
from portal.forms import as_choices
from portal.i18n import current_locale
from portal.identity import util
from portal.identity.forms import ROLE_LABELS, StaffCreateForm
from portal.identity.models import Department, Role, User


def _url_if_there(endpoint: str) -> str | None:
    """The endpoint's URL, if the back office has it (some arrive with other work)."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint)


def _home_links(user: Any) -> list[dict[str, str]]:
    """The staff home's links, each only for those whose role grants it."""
    wanted = [
        (Permission.WORK_CASES, "backoffice.queue", _("Work queue")),
        (Permission.APPROVE_REFUNDS, "backoffice.refund_approvals", _("Refunds to approve")),
        (Permission.REPORTS, "backoffice.reports", _("Reports")),
        (Permission.AUDIT, "backoffice.audit_log", _("Audit log")),
        (Permission.DEPARTMENT_SETTINGS, "backoffice.department_settings",
         _("Department settings")),
        (Permission.MANAGE_PORTAL, "backoffice.departments", _("Departments")),
        (Permission.MANAGE_PORTAL, "backoffice.staff_list", _("Staff accounts")),
        (Permission.MANAGE_PORTAL, "backoffice.services", _("Installed services")),
    ]
    links = []
    for permission, endpoint, text in wanted:
        if can(user, permission) and (href := _url_if_there(endpoint)) is not None:
            links.append({"text": text, "href": href})
    return links


def home() -> Any:
    department = current_user.department
    counts = None
    if department is not None and can(current_user, Permission.WORK_CASES):
        counts = home_counts(current_user)
    return render_template(
        "backoffice/home.html",
        department=department,
        role_label=ROLE_LABELS.get(current_user.role_enum, ""),
        links=_home_links(current_user),
        counts=counts,
    )


# --- staff accounts ------------------------------------------------------------------------


def staff_list() -> Any:
    staff = db.session.scalars(
        select(User).where(User.role != Role.CITIZEN).order_by(User.name_en, User.id)
    ).all()
    return render_template("backoffice/staff_list.html", staff=staff, role_labels=ROLE_LABELS)


def _department_choices() -> Any:
    locale = current_locale()
    departments = db.session.scalars(select(Department).order_by(Department.code)).all()
    return as_choices(
        [("", _("Select a department"))]
        + [(str(d.id), f"{d.name(locale)} ({d.code})") for d in departments]
    )


def staff_create() -> Any:
    form = StaffCreateForm()
    form.department.choices = _department_choices()
    if form.validate_on_submit():
        if util.find_user_by_email(form.email.data) is not None:
            form.email.errors = [_("An account with this email address already exists")]
        else:
            role = Role(form.role.data)
            user = util.create_staff(
                email=form.email.data,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data,
                role=role,
                department_id=int(form.department.data) if form.department.data else None,
            )
            util.send_staff_invitation(user)
            audit.record("staff.created", actor=current_user, target=user,
                         department=user.department.code if user.department else None,
                         details={"role": role.value})
            db.session.commit()
            current_app.logger.info("staff %s created by %s", user.id, current_user.id)
            flash(
                _("Account created. We have emailed %(email)s a link to set a password.",
                  email=user.email),
                "success",
            )
            return redirect(url_for("backoffice.staff_list"))
    return render_template("backoffice/staff_create.html", form=form)


def _staff_or_404(user_id: int) -> User:
    person = db.session.get(User, user_id)
    if person is None or not person.is_staff:
        abort(404)
    return person


def _seen(person: User) -> str:
    return f"{person.role}:{person.department_id or ''}"


def _render_staff_edit(person: User, form: StaffEditForm, page_error: Any = None,
                       status: int = 200) -> Any:
    return render_template(
        "backoffice/admin/staff_edit.html", person=person, form=form,
        status_form=ConfirmForm(), is_self=person.id == current_user.id,
        page_error=page_error, role_labels=ROLE_LABELS,
    ), status


def staff_edit(user_id: int) -> Any:
    """Change a staff member's role and department (POST: compare-and-set, audited)."""
    person = _staff_or_404(user_id)
    form = StaffEditForm()
    form.department.choices = _department_choices()
    if request.method == "GET":
        form.role.data = person.role
        form.department.data = str(person.department_id or "")
        form.seen.data = _seen(person)
    elif form.validate_on_submit():
        expected_role, _sep, expected_department = (form.seen.data or "").partition(":")
        if re.fullmatch(r"[0-9]{0,12}", expected_department) is None:
            abort(400)  # the hidden field was altered: not what this page sent
        role = Role(form.role.data)
        department = None
        if role is not Role.PORTAL_ADMIN and form.department.data:
            department = db.session.get(Department, int(form.department.data))
        try:
            changed = admin.change_role(
                person, role=role, department=department, by=current_user,
                expected_role=expected_role,
                expected_department_id=int(expected_department) if expected_department
                else None)
        except admin.AdminRefused as refused:
            db.session.rollback()
            person = _staff_or_404(user_id)
            form.seen.data = _seen(person)
            form.role.errors = [str(refused.message)]
            return _render_staff_edit(person, form, status=409 if isinstance(
                refused, admin.ChangedMeanwhile) else 200)
        db.session.commit()
        if changed:
            current_app.logger.info("staff %s given role %s by %s", person.id, role.value,
                                    current_user.id)
            flash(_("%(name)s is now: %(role)s.", name=person.display_name(current_locale()),
                    role=ROLE_LABELS[role]), "success")
        else:
            flash(_("Nothing was changed."), "info")
        return redirect(url_for("backoffice.staff_list"))
    return _render_staff_edit(person, form)


def _set_active(user_id: int, active: bool) -> Any:
    person = _staff_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        changed = admin.set_active(person, active, by=current_user)
    except admin.AdminRefused as refused:
        db.session.rollback()
        person = _staff_or_404(user_id)
        form = StaffEditForm(formdata=None, role=person.role,
                             department=str(person.department_id or ""), seen=_seen(person))
        form.department.choices = _department_choices()
        return _render_staff_edit(person, form, page_error=refused.message)
    db.session.commit()
    name = person.display_name(current_locale())
    if changed:
        current_app.logger.info("staff %s %s by %s", person.id,
                                "reactivated" if active else "deactivated", current_user.id)
        flash(_("%(name)s can sign in again.", name=name) if active else
              _("%(name)s can no longer sign in, and was signed out.", name=name), "success")
    return redirect(url_for("backoffice.staff_list"))


def staff_deactivate(user_id: int) -> Any:
    return _set_active(user_id, False)


def staff_reactivate(user_id: int) -> Any:
    return _set_active(user_id, True)


# --- departments ---------------------------------------------------------------------------


def departments() -> Any:
    rows = db.session.scalars(select(Department).order_by(Department.code)).all()
    return render_template("backoffice/admin/departments.html", departments=rows,
                           staff_counts=admin.staff_counts())


def _digest(department: Department) -> str:
    text = "\x1f".join((department.code, department.name_en, department.name_zh))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def department_create() -> Any:
    form = DepartmentForm()
    del form.seen
    if form.validate_on_submit():
        try:
            department = admin.create_department(code=form.code.data,
                                                 name_en=form.name_en.data,
                                                 name_zh=form.name_zh.data, by=current_user)
        except admin.AdminRefused as refused:
            db.session.rollback()
            form.code.errors = [str(refused.message)]
        else:
            db.session.commit()
            flash(_("Department %(code)s added.", code=department.code), "success")
            return redirect(url_for("backoffice.departments"))
    return render_template("backoffice/admin/department_form.html", form=form,
                           department=None, code_fixed=False)


def department_edit(department_id: int) -> Any:
    department = db.session.get(Department, department_id)
    if department is None:
        abort(404)
    code_fixed = admin.department_in_use(department)
    form = DepartmentForm(obj=department if request.method == "GET" else None)
    if code_fixed:
        del form.code
    if request.method == "GET":
        form.seen.data = _digest(department)
    elif form.validate_on_submit():
        try:
            if form.seen.data != _digest(department):
                raise admin.ChangedMeanwhile(_("Someone else changed this department "
                                               "meanwhile. Check the details now shown "
                                               "and try again"))
            changed = admin.update_department(
                department, code=department.code if code_fixed else form.code.data,
                name_en=form.name_en.data, name_zh=form.name_zh.data, by=current_user)
        except admin.AdminRefused as refused:
            db.session.rollback()
            department = db.session.get(Department, department_id)
            form.seen.data = _digest(department)
            field = form.name_en if code_fixed else form.code
            field.errors = [str(refused.message)]
        else:
            db.session.commit()
            flash(_("Department %(code)s saved.", code=department.code) if changed
                  else _("Nothing was changed."), "success" if changed else "info")
            return redirect(url_for("backoffice.departments"))
    return render_template("backoffice/admin/department_form.html", form=form,
                           department=department, code_fixed=code_fixed)


# --- services ------------------------------------------------------------------------------


def service_list() -> Any:
    from portal.plugins.manager import services

    registry = services(current_app)
    registry.refresh(every=0)  # the administrator sees the switches as they are now
    return render_template("backoffice/services.html", entries=registry.entries,
                           switched_off=registry.switched_off)


def service_switch_on(entry_point: str) -> Any:
    """Switch a plugin back on after it was switched off for failing (POST, CSRF)."""
    from portal.plugins.manager import services

    if services(current_app).switch_on(entry_point):
        current_app.logger.info("service plugin %s switched on by user %s", entry_point,
                                current_user.id)
        flash(_("The service is switched on again."), "success")
    return redirect(url_for(".services"))

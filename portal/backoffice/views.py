"""The staff side: home and, for portal administrators, staff accounts."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.audit import log as audit
from portal.extensions import db
from portal.forms import as_choices
from portal.i18n import current_locale
from portal.identity import util
from portal.identity.forms import ROLE_LABELS, StaffCreateForm
from portal.identity.models import Department, Role, User


def home() -> Any:
    return render_template(
        "backoffice/home.html",
        department=current_user.department,
        role_label=ROLE_LABELS.get(current_user.role_enum, ""),
    )


def staff_list() -> Any:
    staff = db.session.scalars(
        select(User).where(User.role != Role.CITIZEN).order_by(User.name_en)
    ).all()
    return render_template("backoffice/staff_list.html", staff=staff, role_labels=ROLE_LABELS)


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

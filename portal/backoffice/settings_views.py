"""The department's settings, changed by its department administrators: the amount above
which a refund needs a second person's approval (four eyes)."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import update

from portal.audit import log as audit
from portal.backoffice.admin_forms import DepartmentSettingsForm
from portal.extensions import db
from portal.identity.models import Department


def _changed_meanwhile() -> str:
    return _("Someone else changed the settings meanwhile. Check the amount now shown and "
             "try again")

def _as_input(cents: int | None) -> str:
    return "" if cents is None else f"{cents // 100}.{cents % 100:02d}"


def department_settings() -> Any:
    department = current_user.department
    form = DepartmentSettingsForm()
    if request.method == "GET":
        form.threshold.data = _as_input(department.refund_approval_threshold)
        form.seen.data = _as_input(department.refund_approval_threshold)
    elif form.validate_on_submit():
        old = department.refund_approval_threshold
        if (form.seen.data or "") != _as_input(old):
            form.threshold.errors = [_changed_meanwhile()]
            form.seen.data = _as_input(old)
            return render_template("backoffice/settings/department.html", form=form,
                                   department=department), 409
        new = form.cents
        if new == old:
            flash(_("Nothing was changed."), "info")
            return redirect(url_for("backoffice.department_settings"))
        seen = (Department.refund_approval_threshold.is_(None) if old is None
                else Department.refund_approval_threshold == old)
        moved = db.session.execute(
            update(Department).where(Department.id == department.id, seen)
            .values(refund_approval_threshold=new)
            .execution_options(synchronize_session=False)).rowcount
        if moved != 1:  # changed between reading and writing: show what it is now
            db.session.rollback()
            flash(_changed_meanwhile(), "info")
            return redirect(url_for("backoffice.department_settings"))
        audit.record("department.settings_changed", actor=current_user, target=department,
                     department=department.code,
                     details={"setting": "refund_approval_threshold", "old": old, "new": new})
        db.session.commit()
        current_app.logger.info("department %s refund threshold changed by %s",
                                department.code, current_user.id)
        flash(_("Settings saved."), "success")
        return redirect(url_for("backoffice.department_settings"))
    return render_template("backoffice/settings/department.html", form=form,
                           department=department)

"""Views of the identity area: registration, sign-in, second factor, passwords, profile."""

from __future__ import annotations

import time
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from portal.audit import log as audit
from portal.crypto import blind_index, protect
from portal.database import utcnow
from portal.extensions import db
from portal.i18n import current_locale
from portal.identity import util
from portal.identity.auth import (
    end_all_sessions,
    end_session,
    reset_cookie_session,
    start_session,
)
from portal.identity.districts import district_name
from portal.identity.forms import (
    ChangePasswordForm,
    EmailOnlyForm,
    NewPasswordForm,
    ProfileForm,
    RegisterForm,
    SignInForm,
    TwoFactorForm,
)
from portal.identity.hkid import mask_hkid
from portal.identity.models import Role, TokenPurpose, User
from portal.identity.passwords import needs_rehash, verify_password
from portal.notifications.outbox import external_url
from portal.security import safe_next

#: Minutes a password-checked staff member has to give the second factor.
SECOND_FACTOR_MINUTES = 10


def _sign_in_failed_message() -> str:
    return _(
        "The email address or password is not right, or the account is locked for a while "
        "after too many attempts. Check them and try again, or reset your password."
    )


def _home_for(user: User) -> str:
    return url_for("backoffice.home") if user.is_staff else url_for("applications.dashboard")


def register() -> Any:
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = RegisterForm()
    if request.method == "GET":
        form.preferred_language.data = current_locale()
    if form.validate_on_submit():
        existing = util.find_user_by_email(form.email.data)
        if existing is not None:
            # Say the same as for a new account, and tell the owner by email, so the
            # form cannot be used to find out who has an account.
            util.email_user(
                existing, "identity/account_exists",
                sign_in_link=external_url("identity.sign_in"),
                reset_link=external_url("identity.forgot_password"),
            )
            db.session.commit()
        else:
            user = User(
                email=form.email.data,
                name_en=form.name_en.data,
                name_zh=form.name_zh.data or None,
                preferred_language=form.preferred_language.data,
                role=Role.CITIZEN,
            )
            util.set_password(user, form.password.data)
            try:
                db.session.add(user)
                db.session.flush()
                util.send_confirmation_email(user)
                db.session.commit()
            except IntegrityError:
                # Two submissions raced (a double click, two tabs): the other one made
                # the account and sent its link; this one changes nothing more.
                db.session.rollback()
        session["confirmation_sent_to"] = form.email.data
        return redirect(url_for("identity.check_email"))
    return render_template("identity/register.html", form=form)


def check_email() -> Any:
    return render_template(
        "identity/check_email.html", email=session.get("confirmation_sent_to")
    )


def confirm_email(token: str) -> Any:
    user = util.read_confirmation_token(token)
    if user is None:
        return render_template("identity/link_invalid.html", kind="confirm"), 400
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
        db.session.commit()
    flash(_("Your email address is confirmed. You can now sign in."), "success")
    return redirect(url_for("identity.sign_in"))


def resend_confirmation() -> Any:
    form = EmailOnlyForm()
    if form.validate_on_submit():
        user = util.find_user_by_email(form.email.data)
        if user is not None and user.email_confirmed_at is None and user.is_active:
            util.send_confirmation_email(user)
            db.session.commit()
        session["confirmation_sent_to"] = form.email.data
        return redirect(url_for("identity.check_email"))
    return render_template("identity/resend_confirmation.html", form=form)


def sign_in() -> Any:
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(safe_next(next_url, _home_for(current_user)))
    form = SignInForm()
    if form.validate_on_submit():
        user = util.find_user_by_email(form.email.data)
        locked = user is not None and util.is_locked(user)
        # Always verify a hash, so a missing account takes as long as a wrong password.
        password_ok = verify_password(user.password_hash if user else None, form.password.data)
        if user is None or locked or not password_ok or not user.is_active:
            if user is not None and not locked and not password_ok:
                util.record_failed_sign_in(user)
            current_app.logger.info("sign-in refused")
            form.email.errors = [_sign_in_failed_message()]
            return render_template("identity/sign_in.html", form=form), 200
        if needs_rehash(user.password_hash or ""):
            util.set_password(user, form.password.data)
            db.session.commit()
        if user.email_confirmed_at is None:
            session["confirmation_sent_to"] = user.email
            return redirect(url_for("identity.unconfirmed"))
        if user.is_staff:
            reset_cookie_session()
            session["second_factor"] = {
                "user_id": user.id,
                "started": int(time.time()),
                "next": next_url if next_url else None,
            }
            if user.totp_confirmed_at is None:
                return redirect(url_for("identity.enrol_second_factor"))
            return redirect(url_for("identity.second_factor"))
        start_session(user)
        current_app.logger.info("user %s signed in", user.id)
        return redirect(safe_next(next_url, url_for("applications.dashboard")))
    return render_template("identity/sign_in.html", form=form)


def unconfirmed() -> Any:
    form = EmailOnlyForm(email=session.get("confirmation_sent_to"))
    return render_template("identity/unconfirmed.html", form=form)


def _pending_staff_user() -> User | None:
    pending = session.get("second_factor")
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("started", 0) > SECOND_FACTOR_MINUTES * 60:
        session.pop("second_factor", None)
        return None
    user = db.session.get(User, pending.get("user_id"))
    if user is None or not user.is_active or not user.is_staff or util.is_locked(user):
        return None
    return user


def _finish_second_factor(user: User) -> Any:
    pending = session.get("second_factor") or {}
    audit.record("auth.sign_in", actor=user, target=user, details={"second_factor": True})
    start_session(user, second_factor=True)  # commits the audit event with the session
    current_app.logger.info("staff %s signed in with second factor", user.id)
    return redirect(safe_next(pending.get("next"), url_for("backoffice.home")))


def second_factor() -> Any:
    user = _pending_staff_user()
    if user is None:
        flash(_("Your sign-in has timed out. Sign in again."), "important")
        return redirect(url_for("identity.sign_in"))
    if user.totp_confirmed_at is None:
        return redirect(url_for("identity.enrol_second_factor"))
    form = TwoFactorForm()
    if form.validate_on_submit():
        if util.verify_totp(user, form.code.data):
            db.session.commit()
            return _finish_second_factor(user)
        audit.record("auth.sign_in_failed", actor=user, target=user,
                     details={"step": "second_factor"})
        util.record_failed_sign_in(user)  # commits the audit event with the count
        form.code.errors = [_("The security code is not right. Enter the code shown now.")]
    return render_template("identity/second_factor.html", form=form)


def enrol_second_factor() -> Any:
    user = _pending_staff_user()
    if user is None:
        flash(_("Your sign-in has timed out. Sign in again."), "important")
        return redirect(url_for("identity.sign_in"))
    if user.totp_confirmed_at is not None:
        return redirect(url_for("identity.second_factor"))
    secret = util.begin_totp_enrolment(user)
    form = TwoFactorForm()
    if form.validate_on_submit():
        if util.verify_totp(user, form.code.data, secret=secret):
            util.set_totp_secret(user, secret)
            db.session.commit()
            flash(_("Your authenticator app is set up."), "success")
            return _finish_second_factor(user)
        audit.record("auth.sign_in_failed", actor=user, target=user,
                     details={"step": "second_factor_enrolment"})
        util.record_failed_sign_in(user)  # commits the audit event with the count
        form.code.errors = [_("The security code is not right. Enter the code shown now.")]
    uri = util.provisioning_uri(user, secret)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template(
        "identity/enrol_second_factor.html", form=form, qr=util.qr_svg(uri), secret=grouped
    )


def sign_out() -> Any:
    if current_user.is_authenticated:
        end_session()
    session.pop("second_factor", None)
    flash(_("You have signed out."), "success")
    return redirect(url_for("core.home"))


def forgot_password() -> Any:
    form = EmailOnlyForm()
    if form.validate_on_submit():
        user = util.find_user_by_email(form.email.data)
        if user is not None and user.is_active:
            util.send_password_reset(user)
            db.session.commit()
        session["reset_sent_to"] = form.email.data
        return redirect(url_for("identity.reset_sent"))
    return render_template("identity/forgot_password.html", form=form)


def reset_sent() -> Any:
    return render_template("identity/reset_sent.html", email=session.get("reset_sent_to"))


def _set_password_from_token(token: str, purpose: TokenPurpose, template: str) -> Any:
    row = util.find_one_time_token(token, purpose)
    if row is None:
        kind = "invitation" if purpose is TokenPurpose.STAFF_INVITATION else "reset"
        return render_template("identity/link_invalid.html", kind=kind), 400
    g.personal_page = True
    user = row.user
    form = NewPasswordForm()
    form.related = [user.email, user.name_en]
    if form.validate_on_submit():
        if not util.use_one_time_token(row):
            db.session.rollback()
            return render_template("identity/link_invalid.html", kind="reset"), 400
        util.set_password(user, form.password.data)
        # Following the emailed link proves the address is theirs.
        user.email_confirmed_at = user.email_confirmed_at or utcnow()
        end_all_sessions(user)
        util.send_password_changed(user)
        db.session.commit()
        if current_user.is_authenticated:
            end_session()
        flash(_("Your password is saved. Sign in with your new password."), "success")
        return redirect(url_for("identity.sign_in"))
    return render_template(template, form=form, email=user.email)


def reset_password(token: str) -> Any:
    return _set_password_from_token(
        token, TokenPurpose.PASSWORD_RESET, "identity/reset_password.html"
    )


def accept_invitation(token: str) -> Any:
    return _set_password_from_token(
        token, TokenPurpose.STAFF_INVITATION, "identity/accept_invitation.html"
    )


def change_password() -> Any:
    form = ChangePasswordForm()
    form.related = [current_user.email, current_user.name_en]
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data):
            form.current_password.errors = [_("Your current password is not right")]
        else:
            util.set_password(current_user, form.password.data)
            end_all_sessions(current_user, except_current=True)
            util.send_password_changed(current_user)
            db.session.commit()
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("identity.account"))
    return render_template("identity/change_password.html", form=form)


def account() -> Any:
    return render_template(
        "identity/account.html",
        user=current_user,
        district=district_name(current_user.district),
    )


def edit_profile() -> Any:
    user: User = current_user  # type: ignore[assignment]
    form = ProfileForm(obj=user)
    if request.method == "GET":
        form.hkid.data = ""
        form.district.data = user.district or ""
    if form.validate_on_submit():
        user.name_en = form.name_en.data
        user.name_zh = form.name_zh.data or None
        user.preferred_language = form.preferred_language.data
        user.mobile = form.mobile.data or None
        user.address_flat = form.address_flat.data or None
        user.address_building = form.address_building.data or None
        user.address_street = form.address_street.data or None
        user.district = form.district.data or None
        if form.hkid.data:
            user.hkid_protected = protect(form.hkid.data)
            user.hkid_index = blind_index(form.hkid.data)
            user.hkid_masked = mask_hkid(form.hkid.data)
        db.session.commit()
        # The profile's language becomes the language of this session too.
        session["locale"] = user.preferred_language
        flash(_("Your details have been saved."), "success")
        return redirect(url_for("identity.account"))
    return render_template("identity/edit_profile.html", form=form, user=user)


def remove_hkid() -> Any:
    user: User = current_user  # type: ignore[assignment]
    if user.hkid_protected is None:
        abort(404)
    user.hkid_protected = user.hkid_index = user.hkid_masked = None
    db.session.commit()
    flash(_("Your Hong Kong Identity Card number has been removed."), "success")
    return redirect(url_for("identity.account"))

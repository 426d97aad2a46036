"""Tokens, second factor and account operations used by the identity views and CLI."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

import pyotp
import segno
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup
from sqlalchemy import select, update

from portal.crypto import protect, token_digest, unprotect
from portal.database import utcnow
from portal.extensions import db
from portal.identity.models import OneTimeToken, Role, TokenPurpose, User
from portal.identity.passwords import hash_password
from portal.notifications.outbox import external_url, queue_email

# --- email confirmation: a signed, expiring link (no state needed) ------------------


def _confirmation_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="confirm-email")


def make_confirmation_token(user: User) -> str:
    return _confirmation_serializer().dumps({"uid": user.id, "email": user.email})


def read_confirmation_token(token: str) -> User | None:
    """The user a valid, unexpired token names (its email must still be theirs)."""
    max_age = current_app.config["EMAIL_CONFIRMATION_HOURS"] * 3600
    try:
        data = _confirmation_serializer().loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict):
        return None
    user = db.session.get(User, data.get("uid"))
    if user is None or user.email != data.get("email"):
        return None
    return user


def send_confirmation_email(user: User) -> None:
    email_user(
        user, "identity/confirm_email",
        link=external_url("identity.confirm_email", token=make_confirmation_token(user)),
        hours=current_app.config["EMAIL_CONFIRMATION_HOURS"],
    )


# --- single-use tokens: password reset and staff invitation -------------------------


def issue_one_time_token(user: User, purpose: TokenPurpose, lifetime: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    db.session.add(
        OneTimeToken(
            token_digest=token_digest(token),
            user_id=user.id,
            purpose=purpose,
            expires_at=utcnow() + lifetime,
        )
    )
    return token


def find_one_time_token(token: str, purpose: TokenPurpose) -> OneTimeToken | None:
    row = db.session.scalar(
        select(OneTimeToken).where(
            OneTimeToken.token_digest == token_digest(token), OneTimeToken.purpose == purpose
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def use_one_time_token(row: OneTimeToken) -> bool:
    """Spend the token (compare-and-set); False if another request spent it first."""
    result = db.session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.id == row.id, OneTimeToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return result.rowcount == 1


def email_user(user: User, kind: str, **context: object) -> None:
    """Queue ``emails/<kind>.txt`` to ``user``, in their language, addressed by name."""
    queue_email(
        recipient=user.email,
        kind=kind,
        locale=user.preferred_language,
        user_id=user.id,
        name=user.display_name(user.preferred_language),
        **context,
    )


def send_password_reset(user: User) -> None:
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    token = issue_one_time_token(user, TokenPurpose.PASSWORD_RESET, timedelta(minutes=minutes))
    link = external_url("identity.reset_password", token=token)
    email_user(user, "identity/reset_password", link=link, minutes=minutes)


def send_staff_invitation(user: User) -> None:
    days = current_app.config["STAFF_INVITATION_DAYS"]
    token = issue_one_time_token(user, TokenPurpose.STAFF_INVITATION, timedelta(days=days))
    link = external_url("identity.accept_invitation", token=token)
    email_user(user, "identity/staff_invitation", link=link, days=days)


def send_password_changed(user: User) -> None:
    email_user(user, "identity/password_changed",
               reset_link=external_url("identity.forgot_password"))


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.failed_sign_ins = 0
    user.locked_until = None


def find_user_by_email(email: str) -> User | None:
    # Every writer stores addresses lower-cased, so the unique index answers this.
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def create_staff(
    *, email: str, name_en: str, role: Role, department_id: int | None,
    name_zh: str | None = None, password: str | None = None, preferred_language: str = "en",
) -> User:
    """Create a staff account; with no password, the person sets one from an invitation."""
    user = User(
        email=email.lower(),
        name_en=name_en,
        name_zh=name_zh or None,
        role=role,
        department_id=department_id if role is not Role.PORTAL_ADMIN else None,
        preferred_language=preferred_language,
        # Staff accounts are created by an administrator for a known work address.
        email_confirmed_at=utcnow(),
    )
    if password:
        set_password(user, password)
    db.session.add(user)
    db.session.flush()
    return user


# --- sign-in protection --------------------------------------------------------------


def is_locked(user: User, now: datetime | None = None) -> bool:
    return bool(user.locked_until and user.locked_until > (now or utcnow()))


def record_failed_sign_in(user: User) -> None:
    """Count a failure atomically; lock the account after the configured number."""
    cfg = current_app.config
    db.session.execute(
        update(User).where(User.id == user.id).values(failed_sign_ins=User.failed_sign_ins + 1)
    )
    db.session.refresh(user)
    if user.failed_sign_ins >= cfg["LOCKOUT_THRESHOLD"]:
        user.locked_until = utcnow() + timedelta(minutes=cfg["LOCKOUT_MINUTES"])
        user.failed_sign_ins = 0
    db.session.commit()


# --- second factor (TOTP) --------------------------------------------------------------


class TOTP(pyotp.TOTP):
    """Time-based codes (RFC 6238).

    Secrets the portal issues are 160 bits (``pyotp.random_base32``). pyotp refuses secrets
    under 112 bits by default; the published demo secret of the embedded default is 80
    bits, so the floor here is 80 (RFC 4226's absolute minimum is 128 bits for *new*
    secrets, which the portal's own enrolment always meets).
    """

    min_secret_length_bits = 80


def totp_secret(user: User) -> str | None:
    return unprotect(user.totp_secret_protected) if user.totp_secret_protected else None


def begin_totp_enrolment(user: User) -> str:
    """The secret being enrolled; kept until confirmed so a reload shows the same QR."""
    secret = totp_secret(user)
    if secret is None or user.totp_confirmed_at is not None:
        secret = pyotp.random_base32()
        user.totp_secret_protected = protect(secret)
        db.session.commit()
    return secret


def set_totp_secret(user: User, secret: str) -> None:
    user.totp_secret_protected = protect(secret)
    user.totp_confirmed_at = utcnow()


def provisioning_uri(user: User, secret: str) -> str:
    return TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["TOTP_ISSUER"]
    )


def qr_svg(data: str) -> Markup:
    """An inline SVG QR code (no external image, works under the CSP)."""
    qr = segno.make(data, error="m")
    svg = qr.svg_inline(scale=5, dark="#0b0c0c", light="#ffffff", title=None)
    # segno writes the SVG from the QR matrix alone; no user text reaches the markup.
    return Markup(svg)  # noqa: S704


def verify_totp(user: User, code: str, secret: str | None = None) -> bool:
    """Check a code within one step either side; a step once used cannot be used again."""
    secret = secret or totp_secret(user)
    if not secret or not code.isdigit():
        return False
    totp = TOTP(secret)
    now_step = int(utcnow().timestamp()) // totp.interval
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            result = db.session.execute(
                update(User)
                .where(User.id == user.id)
                .where((User.totp_last_step.is_(None)) | (User.totp_last_step < step))
                .values(totp_last_step=step)
            )
            return result.rowcount == 1
    return False

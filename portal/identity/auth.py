"""Signing in and out, server-side sessions, and the guards on routes.

The browser's cookie holds a random session token; the database holds its digest in
``user_sessions``. Signing in clears the cookie session and issues a new token (the
session id changes); signing out, changing the password or an idle or absolute timeout
ends the row, so a copied cookie stops working.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from portal.crypto import token_digest
from portal.database import utcnow
from portal.extensions import db, login_manager
from portal.identity.models import Role, User, UserSession

F = TypeVar("F", bound=Callable[..., Any])

#: Only refresh ``last_seen_at`` this often, to keep page views from writing every time.
_TOUCH_EVERY = timedelta(seconds=60)


def reset_cookie_session() -> None:
    """Start the cookie session afresh at every change of who is signed in.

    Only the language choice and any message waiting to be shown survive; everything
    else, the CSRF secret included, is discarded.
    """
    kept = {key: session[key] for key in ("locale", "_flashes") if key in session}
    session.clear()
    g.pop("csrf_token", None)
    session.update(kept)


def start_session(user: User, *, second_factor: bool = False) -> UserSession:
    """Sign ``user`` in with a fresh session; the old cookie session is discarded."""
    reset_cookie_session()
    # A fresh CSRF secret for the new session, issued with the sign-in response itself
    # (every signed-in page carries the sign-out form, which needs one).
    generate_csrf()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        token_digest=token_digest(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        second_factor_at=now if second_factor else None,
        user_agent=(request.user_agent.string or "")[:200],
    )
    db.session.add(row)
    user.last_sign_in_at = now
    user.failed_sign_ins = 0
    user.locked_until = None
    db.session.commit()
    user.session_token = token
    user.current_session = row
    login_user(user)
    session.permanent = False
    return row


def end_session() -> None:
    row = getattr(current_user, "current_session", None)
    if row is not None:
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == row.id, UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )
        db.session.commit()
    logout_user()
    reset_cookie_session()


def end_all_sessions(user: User, *, except_current: bool = False) -> None:
    """End every session of ``user`` (after a password change or reset)."""
    stmt = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)
    )
    current = getattr(user, "current_session", None)
    if except_current and current is not None:
        stmt = stmt.where(UserSession.id != current.id)
    db.session.execute(stmt.values(ended_at=utcnow()))


#: Built once: this runs on every signed-in request, and building the statement cost
#: more than running it.
_LIVE_SESSION = (
    select(UserSession)
    .options(joinedload(UserSession.user))
    .where(UserSession.token_digest == bindparam("digest"), UserSession.ended_at.is_(None))
)


@login_manager.user_loader
def load_user(token: str) -> User | None:
    row = db.session.scalar(_LIVE_SESSION, {"digest": token_digest(token)})
    if row is None:
        return None
    cfg = current_app.config
    now = utcnow()
    idle_limit = row.last_seen_at + timedelta(minutes=cfg["SESSION_IDLE_MINUTES"])
    absolute_limit = row.created_at + timedelta(hours=cfg["SESSION_MAX_HOURS"])
    user = row.user
    if now > idle_limit or now > absolute_limit or not user.is_active:
        row.ended_at = now
        db.session.commit()
        g.session_expired = True
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    user.session_token = token
    user.current_session = row
    return user


def _unauthorised() -> Any:
    return redirect(url_for("identity.sign_in", next=request.full_path.rstrip("?")))


def citizen_required(view: F) -> F:
    """Signed in as a citizen; staff are sent to their own home."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _unauthorised()
        if current_user.is_staff:
            return redirect(url_for("backoffice.home"))
        g.personal_page = True
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def signed_in_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _unauthorised()
        g.personal_page = True
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def staff_required(*roles: Role) -> Callable[[F], F]:
    """Signed in as staff with the second factor checked, holding one of ``roles``.

    With no roles given, any staff role will do. Anyone else gets 404, so the back office
    does not even confirm its routes exist to a citizen.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return _unauthorised()
            g.personal_page = True
            row = current_user.current_session
            if not current_user.is_staff or row is None or row.second_factor_at is None:
                abort(404)
            if roles and current_user.role_enum not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def may_handle_application(user: Any, application: Any) -> bool:
    """Whether ``user`` may see and act on ``application`` as staff: one rule for every
    staff page and download of a case (payments, refunds, receipts).

    Staff, active, in a department role (a portal administrator belongs to no department
    and handles no case), with the second factor checked in this session, of the
    department handling the application. Anyone else is to get the same 404 as for a case
    that does not exist.
    """
    from portal.identity.models import DEPARTMENT_ROLES

    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not user.is_active or not user.is_staff or user.role_enum not in DEPARTMENT_ROLES:
        return False
    session_row = getattr(user, "current_session", None)
    if session_row is None or session_row.second_factor_at is None:
        return False
    department = user.department
    return department is not None and department.code == application.department


def init_app(app: Flask) -> None:
    # Flask-Login's session protection only marks a session "not fresh" when the address
    # changes; the portal never asks for freshness, and ends sessions on the server instead.
    login_manager.session_protection = None
    login_manager.unauthorized_handler(_unauthorised)

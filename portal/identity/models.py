"""People and their sessions: citizens, staff, departments, one-time tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.database import UTCDateTime, utcnow
from portal.extensions import db


class Role(enum.StrEnum):
    CITIZEN = "citizen"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    DEPARTMENT_ADMIN = "department_admin"
    PORTAL_ADMIN = "portal_admin"

    @property
    def is_staff(self) -> bool:
        return self is not Role.CITIZEN


#: Roles that belong to a department (a portal administrator belongs to none).
DEPARTMENT_ROLES = (Role.OFFICER, Role.SUPERVISOR, Role.DEPARTMENT_ADMIN)


class Department(db.Model):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short code used in receipt numbers and URLs, e.g. ``TD``.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(100))
    #: Refunds above this many cents need a supervisor's approval (four eyes); None: never.
    refund_approval_threshold: Mapped[int | None] = mapped_column(default=100_000)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def name(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-cased; the sign-in name.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(100))
    name_zh: Mapped[str | None] = mapped_column(String(50))
    preferred_language: Mapped[str] = mapped_column(String(16), default="en")
    role: Mapped[str] = mapped_column(String(32), default=Role.CITIZEN)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # sign-in protection
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # second factor (staff): the secret is encrypted; the last step used stops replays
    totp_secret_protected: Mapped[str | None] = mapped_column(Text)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None]

    # profile ("tell us once")
    mobile: Mapped[str | None] = mapped_column(String(20))
    address_flat: Mapped[str | None] = mapped_column(String(100))
    address_building: Mapped[str | None] = mapped_column(String(100))
    address_street: Mapped[str | None] = mapped_column(String(150))
    district: Mapped[str | None] = mapped_column(String(32))
    #: Fernet-encrypted normal form; never stored or logged in clear.
    hkid_protected: Mapped[str | None] = mapped_column(Text)
    #: Keyed hash of the normal form, to find duplicates without decrypting.
    hkid_index: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Masked form shown to the holder, e.g. ``A123***(*)``.
    hkid_masked: Mapped[str | None] = mapped_column(String(16))

    department: Mapped[Department | None] = relationship()

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        # One form for every writer, so look-ups can use the unique index as they are.
        return value.strip().lower()

    # Flask-Login: the id kept in the cookie is the session token, not the user id, so
    # that signing out (or a password change) ends the session on the server.
    session_token = None  # set by the session loader: str
    current_session = None  # set by the session loader: UserSession

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_staff(self) -> bool:
        return self.role_enum.is_staff

    @property
    def is_portal_admin(self) -> bool:
        return self.role_enum is Role.PORTAL_ADMIN

    def display_name(self, locale: str) -> str:
        if locale.startswith("zh") and self.name_zh:
            return self.name_zh
        return self.name_en


class UserSession(db.Model):
    """A signed-in session. The cookie holds a random token; this row holds its digest."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the second factor was checked (staff); staff pages require it.
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class TokenPurpose(enum.StrEnum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose name, not a password
    STAFF_INVITATION = "staff_invitation"


class OneTimeToken(db.Model):
    """A single-use, expiring link token (password reset, staff invitation)."""

    __tablename__ = "one_time_tokens"
    __table_args__ = (Index("ix_one_time_tokens_user_purpose", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

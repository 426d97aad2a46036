"""Demo data for the embedded default: departments and the demo accounts.

Never loaded outside the embedded default (``portal demo`` refuses other databases).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from portal.database import utcnow
from portal.extensions import db
from portal.identity import util
from portal.identity.models import Department, Role, User
from portal.plugins.manager import services

DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # noqa: S105 - published demo secret

DEPARTMENTS = [
    ("TD", "Transport Department", "運輸署"),
    ("IMMD", "Immigration Department", "入境事務處"),
    ("TRY", "Treasury", "庫務署"),
]

DEMO_ACCOUNTS = [
    {
        "label": "Citizen (陳大文)",
        "email": "chan.taiman@example.com",
        "password": "Demo-citizen-2026",
        "name_en": "CHAN Tai Man",
        "name_zh": "陳大文",
        "role": Role.CITIZEN,
        "department": None,
    },
    {
        "label": "Officer, Transport Department",
        "email": "officer.td@example.com",
        "password": "Demo-officer-2026",
        "name_en": "LEE Ka Yan",
        "name_zh": "李嘉欣",
        "role": Role.OFFICER,
        "department": "TD",
        "totp": DEMO_TOTP_SECRET,
    },
    {
        "label": "Supervisor, Transport Department",
        "email": "supervisor.td@example.com",
        "password": "Demo-supervisor-2026",
        "name_en": "CHEUNG Wai Man",
        "name_zh": "張偉文",
        "role": Role.SUPERVISOR,
        "department": "TD",
        "totp": DEMO_TOTP_SECRET,
    },
    {
        "label": "Department administrator, Transport Department",
        "email": "depadmin.td@example.com",
        "password": "Demo-depadmin-2026",
        "name_en": "HO Mei Ling",
        "name_zh": "何美玲",
        "role": Role.DEPARTMENT_ADMIN,
        "department": "TD",
        "totp": DEMO_TOTP_SECRET,
    },
    {
        "label": "Officer, Treasury",
        "email": "officer.try@example.com",
        "password": "Demo-officer-2026",
        "name_en": "NG Chi Keung",
        "name_zh": "吳志強",
        "role": Role.OFFICER,
        "department": "TRY",
        "totp": DEMO_TOTP_SECRET,
    },
    {
        "label": "Portal administrator",
        "email": "admin@example.com",
        "password": "Demo-admin-2026",
        "name_en": "WONG Siu Ming",
        "name_zh": "黃小明",
        "role": Role.PORTAL_ADMIN,
        "department": None,
        "totp": DEMO_TOTP_SECRET,
    },
]


def load_demo_data() -> int:
    """Create what is missing; running it twice changes nothing. Returns the count created."""
    created = 0
    departments = {}
    for code, name_en, name_zh in DEPARTMENTS:
        department = db.session.scalar(select(Department).where(Department.code == code))
        if department is None:
            department = Department(code=code, name_en=name_en, name_zh=name_zh)
            db.session.add(department)
            created += 1
        departments[code] = department
    db.session.flush()
    for account in DEMO_ACCOUNTS:
        if util.find_user_by_email(account["email"]) is not None:
            continue
        role = account["role"]
        user = User(
            email=account["email"],
            name_en=account["name_en"],
            name_zh=account["name_zh"],
            role=role,
            department_id=departments[account["department"]].id if account["department"] else None,
            preferred_language="en",
            email_confirmed_at=utcnow(),
        )
        util.set_password(user, account["password"])
        if role is Role.CITIZEN:
            user.mobile = "+85291234567"
            user.address_flat = "Flat A, 12/F, Block 3"
            user.address_building = "Sunshine Court"
            user.address_street = "18 Nathan Road"
            user.district = "yau_tsim_mong"
        if account.get("totp"):
            util.set_totp_secret(user, account["totp"])
        db.session.add(user)
        created += 1
    # A second citizen's cases in the states staff meet, for the TD back office.
    from portal.demo_cases import load_demo_cases

    db.session.flush()
    created += load_demo_cases(util.find_user_by_email("officer.td@example.com"))
    # Each service plugin adds its own demo records (say, bills to pay).
    registry = services(current_app)
    registry.refresh(every=0)
    created += sum(registry.hook("register_demo_data")())
    db.session.commit()
    return created

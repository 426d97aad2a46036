"""Demo cases for the back office: a second citizen's paid licence renewals in the states
staff meet every day, so the work queue, the case page and the reports have something to
show after ``make run``. Loaded by ``portal demo`` with the accounts (embedded default
only); made once (a second run finds the citizen and adds nothing).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from portal.applications.models import (
    Application,
    ApplicationEvent,
    CaseMessage,
    MessageKind,
    Upload,
)
from portal.applications.uploads import path_for
from portal.applications.util import add_working_days, new_reference
from portal.database import utcnow
from portal.extensions import db
from portal.i18n import hong_kong_today
from portal.identity import util
from portal.identity.models import Role, User
from portal.testing.samples import PNG

CITIZEN = {
    "email": "wong.meiling@example.com",
    "password": "Demo-citizen-2026",
    "name_en": "WONG Mei Ling",
    "name_zh": "黃美玲",
}
#: (days ago it was paid, state, with the officer?, what happened). Due dates follow.
CASES = (
    (2, "received", False, None),
    (6, "received", True, None),
    (16, "received", True, None),  # overdue by now
    (5, "awaiting_information", True, "Your photo is too dark. Please send a clearer one."),
    (25, "approved", True, None),
    (30, "rejected", True, None),
)
FEE = 90_000  # a full licence for 10 years, HK$900


def _answers(upload_id: str) -> dict[str, Any]:
    return {
        "licence_details": {"licence_number": ["A123456(3)"]},
        "licence_type": {"licence_type": ["full"]},
        "validity": {"validity_period": ["10_years"]},
        "photo": {"photo": [upload_id]},
        "address": {"address_flat": ["Flat 3B"], "address_building": ["Harbour View"],
                    "address_street": ["1 Harbour Road"], "district": ["wan_chai"]},
        "health": {"medical_condition": ["no"], "medical_details": [""],
                   "health_declaration": ["y"]},
    }


def load_demo_cases(officer: User | None) -> int:
    """The demo citizen's cases; returns how many records were made (0 the second time)."""
    from portal.payments.models import Payment, PaymentState
    from portal.receipts.issue import request_receipt

    if util.find_user_by_email(CITIZEN["email"]) is not None:
        return 0
    citizen = User(email=CITIZEN["email"], name_en=CITIZEN["name_en"],
                   name_zh=CITIZEN["name_zh"], role=Role.CITIZEN,
                   preferred_language="zh_Hant_HK", email_confirmed_at=utcnow())
    util.set_password(citizen, CITIZEN["password"])
    db.session.add(citizen)
    db.session.flush()
    today = hong_kong_today()
    created = 1
    for days_ago, state, with_officer, message in CASES:
        paid_at = utcnow() - timedelta(days=days_ago)
        key = secrets.token_hex(20)
        target = path_for(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(PNG)
        upload = Upload(public_id=secrets.token_urlsafe(18), user_id=citizen.id,
                        field="photo", filename="photo.png", content_type="image/png",
                        size=len(PNG), sha256=hashlib.sha256(PNG).hexdigest(),
                        storage_key=key, created_at=paid_at)
        final = state in ("approved", "rejected")
        application = Application(
            reference=new_reference(), user_id=citizen.id, service="licence_renewal",
            department="TD", state=state, answers=_answers(upload.public_id),
            fee_amount=FEE, locale="zh_Hant_HK", submitted_at=paid_at, updated_at=paid_at,
            applicant_name=f"{CITIZEN['name_en']} {CITIZEN['name_zh']}",
            decision_due=add_working_days(today - timedelta(days=days_ago), 10),
            assigned_to_id=officer.id if (with_officer and officer) else None,
            waiting_since=utcnow() - timedelta(days=1) if message else None,
            decided_at=utcnow() - timedelta(days=days_ago - 8) if final else None)
        db.session.add(application)
        db.session.flush()
        upload.application_id = application.id
        db.session.add(upload)
        payment = Payment(
            public_id=secrets.token_hex(16), application_id=application.id,
            nonce=secrets.token_hex(16), amount=FEE, state=PaymentState.SUCCEEDED,
            provider="sandbox", provider_reference=f"demo_{secrets.token_hex(8)}",
            method="card", return_token_digest=secrets.token_hex(32),
            created_at=paid_at, updated_at=paid_at, expires_at=paid_at, succeeded_at=paid_at)
        db.session.add(payment)
        db.session.flush()
        request_receipt(payment)
        events = [("submitted", None, "awaiting_payment", "citizen", None),
                  ("payment_received", "awaiting_payment", "received", "system", None)]
        if message:
            db.session.add(CaseMessage(
                public_id=secrets.token_hex(16), application_id=application.id,
                kind=MessageKind.INFORMATION_REQUEST, sender="staff",
                author_id=officer.id if officer else None, body=message))
            events.append(("request_information", "received", state, "officer", None))
        elif final:
            events.append(("approve" if state == "approved" else "reject", "received", state,
                           "officer", "duplicate" if state == "rejected" else None))
        for action, source, target_state, role, reason in events:
            db.session.add(ApplicationEvent(
                application_id=application.id, action=action, from_state=source,
                to_state=target_state, actor_role=role, reason_code=reason,
                actor_id=officer.id if (role == "officer" and officer) else (
                    citizen.id if role == "citizen" else None),
                created_at=paid_at))
        created += 3 + len(events)
    return created

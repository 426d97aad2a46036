"""The case view: everything about one application for the department's staff (and
nobody else), each view written to the audit log."""

from __future__ import annotations

import html
import secrets
from datetime import timedelta

from sqlalchemy import func, select

from portal.applications.models import CaseMessage, CaseNote, MessageKind, Upload
from portal.applications.util import new_reference
from portal.audit.models import AuditEvent
from portal.backoffice import casework
from portal.database import utcnow
from portal.extensions import db
from portal.i18n import hong_kong_today
from portal.notifications.models import OutboxEmail
from portal.testing.helpers import csrf_token_from
from tests.backoffice import test_casework
from tests.backoffice.test_casework import case_url, fresh

# The fixtures of the casework tests: the test permit with the usual workflow, a case
# straight in the database, and staff signed in by name.
permit_service = test_casework.permit_service
make_case = test_casework.make_case
staff = test_casework.staff


def _views() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "case.viewed"))


def _email(application, subject: str, status: str, **columns) -> None:
    db.session.add(OutboxEmail(recipient="citizen@example.com", locale="en", kind="test",
                               subject=subject, body_text="-", status=status,
                               application_id=application.id,
                               user_id=application.user_id, **columns))


def test_the_case_shows_answers_documents_payments_timeline_notes_messages_and_emails(
        staff, paid):
    application = paid.application
    officer = staff("officer", "Wong Ka Yan")
    casework.claim(fresh(application), officer.user)
    db.session.add(Upload(public_id=secrets.token_hex(16), user_id=application.user_id,
                          application_id=application.id, field="evidence",
                          filename="photo.png", content_type="image/png", size=2048,
                          sha256="0" * 64, storage_key=secrets.token_hex(20)))
    db.session.add(CaseNote(application_id=application.id, author_id=officer.user.id,
                            body="Checked the <licence> register."))
    db.session.add(CaseMessage(public_id=secrets.token_hex(16), application_id=application.id,
                               kind=MessageKind.INFORMATION_REQUEST, sender="staff",
                               author_id=officer.user.id, body="Send your old licence."))
    waiting = fresh(application)
    waiting.state, waiting.waiting_since = "awaiting_information", utcnow()
    _email(application, "Waiting one", "queued")
    # Not to the applicant (the officer's notice of a reply): not listed with theirs.
    db.session.add(OutboxEmail(recipient="officer@example.com", locale="en", kind="test",
                               subject="To the officer", body_text="-", status="sent",
                               application_id=application.id, user_id=officer.user.id))
    _email(application, "Bounced one", "failed", attempts=5,
           last_error="550 mailbox unavailable")
    db.session.commit()

    response = officer.get(case_url(application))
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    # Summary
    assert "citizen@example.com" in page
    assert "CHAN Tai Man" in page
    assert "Wong Ka Yan (you)" in page
    # Every answer, and the documents: the PDF to download, the image also previewed.
    assert "Chan Tai Man" in page
    assert "Year permit" in page
    assert "proof.pdf" in page
    pdf = next(u for u in fresh(application).uploads if u.filename == "proof.pdf")
    png = next(u for u in fresh(application).uploads if u.filename == "photo.png")
    assert f'href="/uploads/{pdf.public_id}" download' in page
    assert f'<img class="govuk-!-width-full" src="/uploads/{png.public_id}"' in page
    assert f'src="/uploads/{pdf.public_id}"' not in page
    # Payments and receipts, with the way to the refunds page
    assert "HK$100.00" in page
    assert f"/staff/applications/{application.reference}/payments" in page
    assert "Receipt TD/" in page
    # The timeline, staff-only entries included, with who did what
    assert "Application sent" in page
    assert "Payment received" in page
    assert "Claimed" in page
    assert "Staff only" in page
    # Notes (escaped) and messages
    assert "Checked the &lt;licence&gt; register." in response.get_data(as_text=True)
    assert "Send your old licence." in page
    assert "Waiting for an answer" in page
    # Each email with its delivery state
    assert "Waiting one" in page
    assert "Waiting to send" in page
    assert "Bounced one" in page
    assert "Failed" in page
    assert "Last error: 550 mailbox unavailable" in page
    assert "To the officer" not in page
    assert "Sent" in page  # the submission email went over SMTP
    assert _views() == 1
    officer.get(case_url(application))
    assert _views() == 2
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "case.viewed"))
    assert (event.actor_id, event.target_id, event.department) == (
        officer.user.id, application.reference, "TD")
    # The PDF comes only as an attachment that cannot run anything.
    download = officer.get(f"/uploads/{pdf.public_id}")
    assert download.status_code == 200
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert download.headers["Content-Disposition"].startswith("attachment")


def test_only_the_departments_staff_see_a_case(app, staff, make_case, client, sign_in,
                                               create_department):
    application = make_case()
    create_department("IMMD", "Immigration Department", "入境事務處")
    other = staff("officer", "Ho Wing", "IMMD")
    assert other.get(case_url(application)).status_code == 404
    assert other.get(f"/staff/cases/{new_reference()}").status_code == 404
    token = csrf_token_from(other.get("/staff/").get_data(as_text=True))
    assert other.post(case_url(application, "/actions/approve"),
                      data={"csrf_token": token}).status_code == 404
    admin = staff("portal_admin", "Lam Admin", None)
    assert admin.get(case_url(application)).status_code in (403, 404)
    sign_in(client)
    assert client.get(case_url(application)).status_code == 404
    assert app.test_client().get(case_url(application)).status_code == 302
    assert _views() == 0
    officer = staff()
    canonical = officer.get(f"/staff/cases/{application.reference.lower()}")
    assert canonical.headers["Location"] == case_url(application)


def test_the_due_date_shows_overdue_and_paused(staff, make_case):
    late = make_case(decision_due=hong_kong_today() - timedelta(days=3))
    officer = staff()
    page = officer.get(case_url(late)).get_data(as_text=True)
    assert "Overdue" in page
    assert "Paused" not in page
    late.waiting_since = utcnow()
    late.state = "awaiting_information"
    db.session.commit()
    page = officer.get(case_url(late)).get_data(as_text=True)
    assert "Paused" in page
    assert "Overdue" not in page
    assert "Waiting for the applicant since" in page

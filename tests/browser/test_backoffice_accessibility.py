"""axe-core checks (WCAG 2.1 A and AA) of every back-office page, in English and in Chinese,
and of the citizen's pages about casework (needing attention, messages, answering a
request for more information, a rejection's reason).

One test per language builds a department's worth of work quickly (a licence renewal sent
over HTTP, the rest straight in the database through the casework functions), then signs
each role in through the real forms once, in a browser context of its own, and walks its
pages: lists with rows, filters with errors, empty results, each case action's page and
forms sent empty to show their errors. Violations are collected page by page and reported
together; every GET page under ``/staff`` must be visited (except the CSV export), so a
new staff page without a check here fails.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.applications import engine, replies
from portal.applications.models import Application, ApplicationEvent
from portal.applications.util import add_working_days, is_working_day, new_reference
from portal.backoffice import casework
from portal.database import utcnow
from portal.extensions import db
from portal.i18n import CHINESE, ENGLISH, hong_kong_today
from portal.identity.models import Department
from portal.notifications.models import OutboxEmail
from portal.payments.models import Payment, Refund, RefundState
from portal.plugins.manager import services
from portal.plugins.service import PAYMENT_RECEIVED
from tests.browser.support import sign_in_citizen, sign_in_staff, zh
from tests.browser.test_accessibility import AXE_OPTIONS, LANGUAGES, SERVICE_DEPARTMENTS, _axe
from tests.browser.test_payments_journey import _application_awaiting_payment

pytestmark = pytest.mark.browser

HK = ZoneInfo("Asia/Hong_Kong")
SERVICE = "licence_renewal"
PORTAL_LOCALES = {"en": ENGLISH, "zh-hk": CHINESE}
#: Set ``PORTAL_BROWSER_SHOTS`` to a folder to keep a screenshot of each page there.
SHOTS = os.environ.get("PORTAL_BROWSER_SHOTS")
STAND_IN_PDF = b"%PDF-1.7\n% a stand-in: these tests look at pages, not documents\n%%EOF\n"
#: GET pages under /staff that are not HTML (nothing for axe to check).
NOT_PAGES = {"backoffice.queue_csv"}


@dataclass
class World:
    """What the pages show: the cases, the refund waiting and the people."""

    full: Application  # paid, claimed, asked and answered, notes, messages, emails, refunds
    waiting: Application  # waiting for the citizen's answer to a request
    rejected: Application
    payment: Payment
    refund: Refund  # needs a second person's approval
    officer: Any
    supervisor: Any
    department_admin: Any
    portal_admin: Any
    citizen_email: str
    department: Department = field(init=False)

    def __post_init__(self) -> None:
        self.department = db.session.scalar(select(Department).where(Department.code == "TD"))


def _at(day: Any, hour: int = 11) -> datetime:
    """``day`` at this Hong Kong hour, as UTC."""
    return datetime.combine(day, time(hour), HK).astimezone(UTC)


def _copy(template: Application, **columns: Any) -> Application:
    """Another application of the same citizen with the same answers, straight in the
    database, with its timeline's first entry."""
    values = {"state": "received", "submitted_at": utcnow() - timedelta(days=2),
              "decision_due": add_working_days(hong_kong_today(), 4),
              "applicant_name": template.applicant_name, **columns}
    application = Application(
        reference=new_reference(), user_id=template.user_id, service=SERVICE,
        department="TD", answers=dict(template.answers), fee_amount=template.fee_amount,
        locale=template.locale, **values)
    db.session.add(application)
    db.session.flush()
    db.session.add(ApplicationEvent(application_id=application.id, action="submitted",
                                    from_state=None, to_state=application.state,
                                    actor_role="citizen", actor_id=template.user_id))
    return application


def _build(app: Any, language: str, client: Any, create_user: Any, create_department: Any,
           create_staff: Any, sign_in: Any) -> World:
    locale = PORTAL_LOCALES[language]
    for code, name_en, name_zh in SERVICE_DEPARTMENTS:
        create_department(code, name_en, name_zh)
    email = "citizen@example.com"
    full = _application_awaiting_payment(client, create_user, create_department, sign_in,
                                         email=email, preferred_language=locale)
    people = {
        role: create_staff(f"{role}@example.com", role=role, name_en=name_en, name_zh=name_zh,
                           preferred_language=locale,
                           department_code=None if role == "portal_admin" else "TD")
        for role, name_en, name_zh in [
            ("officer", "LEE Ka Yan", "李嘉欣"), ("supervisor", "WONG Siu Ming", "黃小明"),
            ("department_admin", "HO Wing Sze", "何詠詩"), ("portal_admin", "LAM Chi Keung",
                                                           "林志強")]}
    officer, supervisor = people["officer"], people["supervisor"]
    create_staff("second.officer@example.com", role="officer", name_en="CHEUNG Mei Ling",
                 name_zh="張美玲")
    definition = services(app).active[SERVICE]

    with app.test_request_context():
        # The full case: paid by card (a receipt), refunded in part, a refund waiting.
        now = utcnow()
        payment = Payment(
            public_id=secrets.token_hex(16), application_id=full.id, nonce="n",
            amount=full.fee_amount, state="succeeded", provider="sandbox",
            provider_reference="sbx-1", method="card", return_token_digest="d" * 64,
            expires_at=now, succeeded_at=now, refunded_amount=10_000)
        db.session.add(payment)
        db.session.flush()
        from portal.receipts.issue import request_receipt

        request_receipt(payment)
        engine.transition(full, PAYMENT_RECEIVED, actor_role="system")
        db.session.add(Refund(public_id=secrets.token_hex(16), payment_id=payment.id,
                              amount=10_000, reason="Charged for a copy not sent",
                              state=RefundState.SUCCEEDED, requested_by_id=officer.id,
                              completed_at=now))
        refund = Refund(public_id=secrets.token_hex(16), payment_id=payment.id,
                        amount=30_000, reason="The licence was renewed for 5 years, not 10",
                        state=RefundState.NEEDS_APPROVAL, requested_by_id=officer.id)
        db.session.add(refund)
        db.session.commit()
        # ... claimed, asked for more, answered; a note and a message.
        casework.claim(full, officer)
        casework.request_information(
            full, by=officer, definition=definition,
            message="Your photo is blurred. Please send a clear photo.")
        db.session.commit()
        replies.answer_information_request(full, full.user, "已附上新的相片，請查收。")
        casework.add_note(full, by=officer, body="Checked the register: the licence is valid.")
        casework.send_message(full, by=officer, body="Thank you, the new photo is clear.")
        db.session.commit()
        # One email of each delivery state.
        emails = list(db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.application_id == full.id)
            .order_by(OutboxEmail.id)))
        for email_row, status in zip(emails, ["sent", "failed", "queued"], strict=False):
            email_row.status = status
            if status == "failed":
                email_row.attempts = 5
                email_row.last_error = "550 mailbox unavailable"

        # Waiting for the citizen, with a message first; and one rejected with a reason.
        waiting = _copy(full)
        db.session.commit()
        casework.claim(waiting, officer)
        casework.send_message(waiting, by=officer, body="We have started on your case.")
        casework.request_information(
            waiting, by=officer, definition=definition,
            message="Please send a copy of your medical certificate.")
        db.session.commit()
        rejected = _copy(full)
        db.session.commit()
        casework.reject(rejected, by=supervisor, definition=definition,
                        reason_code="documents_invalid",
                        details="The photo does not show your whole face.")
        db.session.commit()

        # More of the queue: overdue and unassigned, due soon, someone else's.
        _copy(full, decision_due=hong_kong_today() - timedelta(days=2),
              applicant_name="CHAN Siu Fung 陳小峰")
        _copy(full, decision_due=hong_kong_today() + timedelta(days=1),
              applicant_name="NG Ka Ho 吳家豪", assigned_to_id=supervisor.id)
        # Decisions over the last weeks, for the reports' charts and tables.
        start = hong_kong_today() - timedelta(weeks=5)
        while not is_working_day(start):
            start += timedelta(days=1)
        for number, days in enumerate((3, 5, 8, 4)):
            _copy(full, state="approved" if number % 2 == 0 else "rejected",
                  submitted_at=_at(start + timedelta(weeks=number % 3)),
                  decision_due=add_working_days(start + timedelta(weeks=number % 3), 5),
                  decided_at=_at(add_working_days(start + timedelta(weeks=number % 3), days)))
        db.session.commit()
    return World(full=full, waiting=waiting, rejected=rejected, payment=payment,
                 refund=refund, officer=officer, supervisor=supervisor,
                 department_admin=people["department_admin"],
                 portal_admin=people["portal_admin"], citizen_email=email)


@dataclass
class Report:
    """The paths checked and the violations found, over every context of a test."""

    paths: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


class Walk:
    """One signed-in browser context: opens pages and runs axe on each."""

    def __init__(self, page: Any, language: str, report: Report) -> None:
        self.page = page
        self.language = language
        self.report = report
        self.statuses: list[int] = []
        page.on("response", lambda r: (
            self.statuses.append(r.status)
            if r.request.resource_type == "document" and r.request.frame == page.main_frame
            else None))

    def check(self, name: str, *, errors: bool = False, status: int = 200) -> None:
        page = self.page
        page.wait_for_load_state("load")
        where = f"{name} ({self.language}) {page.url}"
        assert self.statuses, f"{where}: no page was loaded"
        assert self.statuses[-1] == status, f"{where} answered {self.statuses[-1]}"
        assert page.locator("html").get_attribute("lang") == LANGUAGES[self.language][1], where
        if errors:
            assert page.locator(".govuk-error-summary").count() == 1, f"{where}: no error summary"
            prefix = "Error:" if self.language == "en" else zh("Error:")
            assert page.title().startswith(prefix), f"{where}: {page.title()}"
        self.report.paths.append(urlsplit(page.url).path)
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SHOTS) / f"{name}-{self.language}.png"),
                            full_page=True)
        results = _axe.run(page, options=AXE_OPTIONS)
        if results.violations_count:
            self.report.violations.append(f"{where}\n{results.generate_report()}")

    def visit(self, name: str, path: str) -> None:
        self.page.goto(path)
        self.check(name)

    def send_empty(self, name: str, selector: str = "main form[method=post]",
                   status: int = 200) -> None:
        """Send the page's form as it is (nothing chosen, nothing typed): its errors."""
        with self.page.expect_navigation():
            self.page.locator(f"{selector} button[type=submit]").first.click()
        self.check(name, errors=True, status=status)


def _signed_in(new_context: Any, language: str, report: Report, sign_in: Any,
               first: str) -> Walk:
    """A context of its own, signed in by ``sign_in(page)`` (which ends at ``first``), its
    session switched to ``language`` there; the first page is not checked yet."""
    walk = Walk(new_context(locale=LANGUAGES[language][0]).new_page(), language, report)
    sign_in(walk.page)
    walk.page.goto(f"/language/{language}?next={first}")
    return walk


def _staff(new_context: Any, language: str, report: Report, user: Any) -> Walk:
    return _signed_in(new_context, language, report,
                      lambda page: sign_in_staff(page, user, next_path="/staff/"), "/staff/")


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_backoffice_pages_have_no_wcag_21_aa_violations(
        language, app, client, new_context, create_user, create_department, create_staff,
        sign_in, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_RATE_LIMIT", "100 per minute")
    # The receipt is issued as in life but for WeasyPrint's part (a fifth of a second and
    # more): these pages show a link to it, never the PDF.
    from portal.receipts import render

    monkeypatch.setattr(render, "render_prepared", lambda document: STAND_IN_PDF)
    world = _build(app, language, client, create_user, create_department, create_staff,
                   sign_in)
    report = Report()
    full = f"/staff/cases/{world.full.reference}"

    # An officer: the queue, the cases and every action's page.
    walk = _staff(new_context, language, report, world.officer)
    walk.check("home-officer")
    walk.visit("queue", "/staff/queue")
    assert walk.page.locator("[data-test=queue] tbody tr").count() >= 4
    walk.visit("queue-filtered", "/staff/queue?assigned=me&days=30")
    assert walk.page.locator("[data-test=queue] tbody tr").count() == 2
    walk.page.goto("/staff/queue?due=soon&days=999&q=x")
    walk.check("queue-bad-filters", errors=True)
    walk.visit("queue-empty", "/staff/queue?q=Nobody+at+all")
    assert walk.page.locator("[data-test=queue-empty]").count() == 1
    walk.visit("case-full", full)
    assert walk.page.locator("[data-test=email-status]").count() >= 3
    walk.visit("case-waiting", f"/staff/cases/{world.waiting.reference}")
    walk.visit("case-rejected", f"/staff/cases/{world.rejected.reference}")
    walk.visit("action-approve", f"{full}/actions/approve")
    walk.visit("action-reject", f"{full}/actions/reject")
    walk.send_empty("action-reject-errors")
    walk.visit("action-request-information", f"{full}/actions/request_information")
    walk.send_empty("action-request-information-errors")
    walk.visit("note", f"{full}/notes/new")
    walk.send_empty("note-errors")
    walk.visit("message", f"{full}/messages/new")
    walk.send_empty("message-errors")
    walk.visit("find-application", "/staff/applications/find")
    walk.visit("payments", f"/staff/applications/{world.full.reference}/payments")
    walk.visit("refund-form",
               f"/staff/applications/{world.full.reference}/payments/"
               f"{world.payment.public_id}/refund")

    # A supervisor: the queue with bulk assignment, assigning, refunds, reports.
    walk = _staff(new_context, language, report, world.supervisor)
    walk.check("home-supervisor")
    walk.visit("queue-supervisor", "/staff/queue")
    walk.send_empty("queue-bulk-assign-errors", "main form[data-test=bulk-assign]", 400)
    walk.visit("assign", f"{full}/assign")
    walk.visit("refund-approvals", "/staff/refunds/approvals")
    walk.visit("refund-decision", f"/staff/refunds/{world.refund.public_id}/decision")
    walk.send_empty("refund-decision-errors")
    walk.visit("reports", "/staff/reports")
    assert walk.page.locator("main svg").count() >= 3

    # A department administrator: the audit log and the department's settings.
    walk = _staff(new_context, language, report, world.department_admin)
    walk.check("home-department-admin")
    walk.visit("audit-log", "/staff/audit")
    assert walk.page.locator("main table tbody tr").count() >= 3
    walk.page.goto("/staff/audit?target=not+a+reference!")
    walk.check("audit-log-errors", errors=True)
    walk.visit("department-settings", "/staff/department/settings")
    walk.page.fill("#threshold", "a lot")
    walk.send_empty("department-settings-errors")

    # A portal administrator: departments, staff and services.
    walk = _staff(new_context, language, report, world.portal_admin)
    walk.check("home-portal-admin")
    walk.visit("departments", "/staff/admin/departments")
    walk.visit("department-new", "/staff/admin/departments/new")
    walk.send_empty("department-new-errors")
    walk.visit("department-edit", f"/staff/admin/departments/{world.department.id}/edit")
    walk.visit("staff-list", "/staff/admin/staff")
    walk.visit("staff-edit", f"/staff/admin/staff/{world.officer.id}/edit")
    walk.visit("staff-new", "/staff/admin/staff/new")
    walk.visit("services", "/staff/admin/services")

    # The citizen: what needs their attention, messages, answering, a rejection.
    walk = _signed_in(new_context, language, report,
                      lambda page: sign_in_citizen(page, world.citizen_email), "/dashboard")
    walk.check("dashboard-attention")
    assert walk.page.locator("[data-test=attention]").count() == 1
    walk.visit("application-waiting", f"/applications/{world.waiting.reference}")
    assert walk.page.locator("[data-test=information-request]").count() == 1
    walk.visit("reply", f"/applications/{world.waiting.reference}/reply")
    walk.send_empty("reply-errors")
    walk.visit("application-rejected", f"/applications/{world.rejected.reference}")
    walk.visit("application-answered", f"/applications/{world.full.reference}")

    adapter = app.url_map.bind("localhost")
    visited = set()
    for path in report.paths:
        try:
            visited.add(adapter.match(path, method="GET")[0])
        except HTTPException:  # a form's POST address, showing its errors
            pass
    pages = {rule.endpoint for rule in app.url_map.iter_rules()
             if rule.rule.startswith("/staff") and "GET" in rule.methods}
    assert pages - NOT_PAGES - visited == set(), "check the new staff pages here too"
    assert not report.violations, "\n\n".join(report.violations)

"""Staff act on a case: claim, assign, approve, reject with a reason, ask for more
information, notes and messages; the citizen is emailed in their language; when two
staff act at once, one succeeds and the other is told plainly what happened."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from portal import toolkit as tk
from portal.applications import engine
from portal.applications.models import (
    Application,
    ApplicationEvent,
    CaseMessage,
    CaseNote,
    MessageKind,
)
from portal.applications.util import add_working_days, new_reference
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.i18n import hong_kong_today
from portal.notifications.models import OutboxEmail
from portal.plugins.manager import LoadedService, ServiceRegistry
from portal.plugins.service import PAY_THEN_DECIDE
from portal.testing.helpers import csrf_token_from, email_text
from tests.applications.conftest import SERVICE

#: The usual workflow, and a service action of its own (``start_review``).
CASE_WORKFLOW = tk.Workflow(
    states=(*PAY_THEN_DECIDE.states, "under_review"),
    initial=PAY_THEN_DECIDE.initial,
    terminal=PAY_THEN_DECIDE.terminal,
    waiting=PAY_THEN_DECIDE.waiting,
    transitions=(
        *PAY_THEN_DECIDE.transitions,
        tk.Transition("received", "start_review", "under_review", {"officer", "supervisor"}),
        tk.Transition("under_review", "approve", "approved", {"officer", "supervisor"}),
        tk.Transition("under_review", "reject", "rejected", {"officer", "supervisor"}),
    ),
)


@pytest.fixture
def permit_service(app) -> Iterator[Any]:
    """The test permit with the usual workflow (so with requests for information)."""
    import dataclasses

    service = dataclasses.replace(SERVICE, workflow=CASE_WORKFLOW)
    registry = ServiceRegistry()
    registry.entries.append(LoadedService("test_permit", "tests", "0", "active", "", service,
                                          "tests.applications"))
    saved = app.extensions["portal_services"]
    app.extensions["portal_services"] = registry
    try:
        yield service
    finally:
        app.extensions["portal_services"] = saved


@pytest.fixture
def make_case(permit_service, create_user) -> Any:
    """``make_case(language=..., **columns)``: a received application, straight in the
    database (the journey to it is tested elsewhere)."""

    def make(*, language: str = "en", **columns: Any) -> Application:
        citizen = create_user("citizen@example.com", preferred_language=language,
                              mobile="+852 9123 4567")
        values = {"state": "received",
                  "decision_due": add_working_days(hong_kong_today(), 5), **columns}
        application = Application(
            reference=new_reference(), user_id=citizen.id, service="test_permit",
            department="TD", answers={"details": {"full_name": ["Chan Tai Man"],
                                                  "kind": ["day"]}},
            locale=language, applicant_name="CHAN Tai Man 陳大文", **values)
        db.session.add(application)
        db.session.flush()
        db.session.add(ApplicationEvent(application_id=application.id, action="submitted",
                                        from_state=None, to_state=application.state,
                                        actor_role="citizen", actor_id=citizen.id))
        db.session.commit()
        return application

    return make


@pytest.fixture
def staff(app, create_staff, sign_in_staff, monkeypatch) -> Any:
    """``staff(role, name, department)``: a client signed in as that member of staff."""
    monkeypatch.setitem(app.config, "SIGN_IN_RATE_LIMIT", "100 per minute")

    def make(role: str = "officer", name: str = "Chan Siu Ming",
             department: str | None = "TD") -> Any:
        slug = name.lower().replace(" ", ".")
        user = create_staff(f"{slug}@example.com", role=role, department_code=department,
                            name_en=name, name_zh=None)
        client = app.test_client()
        sign_in_staff(client, user)
        client.user = user
        return client

    return make


def case_url(application: Application, tail: str = "") -> str:
    return f"/staff/cases/{application.reference}{tail}"


def form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the first form of a page (CSRF token and what it showed)."""
    fields = {"csrf_token": csrf_token_from(page)}
    for name in ("shown_state", "shown_assignee", "shown_version"):
        found = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page)
        if found:
            fields[name] = html.unescape(found.group(1))
    return fields


def open_form(client: Any, url: str) -> dict[str, str]:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return form_fields(response.get_data(as_text=True))


def act(client: Any, application: Application, action: str, **data: str) -> Any:
    url = case_url(application, f"/actions/{action}")
    return client.post(url, data={**open_form(client, url), **data})


def after(client: Any, response: Any) -> str:
    """The page a redirect leads to (with its flashed message), unescaped."""
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


def fresh(application: Application) -> Application:
    db.session.expire_all()
    return db.session.get(Application, application.id)


def audit_actions() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def claimed_by(client: Any, application: Application) -> None:
    page = client.get(case_url(application)).get_data(as_text=True)
    response = client.post(case_url(application, "/claim"), data=form_fields(page))
    assert response.status_code == 302


# --- claim and assign ---------------------------------------------------------------------


def test_an_officer_claims_a_case_and_a_second_claim_is_told_who_has_it(staff, make_case):
    application = make_case()
    first, second = staff("officer", "Chan Siu Ming"), staff("officer", "Wong Ka Yan")
    seen_by_second = form_fields(second.get(case_url(application)).get_data(as_text=True))
    page = after(first, first.post(case_url(application, "/claim"),
                                   data=form_fields(first.get(case_url(application))
                                                    .get_data(as_text=True))))
    assert "You have claimed this case" in page
    assert fresh(application).assigned_to_id == first.user.id
    late = after(second, second.post(case_url(application, "/claim"), data=seen_by_second))
    assert "This case is already assigned to Chan Siu Ming. Nothing was changed." in late
    assert fresh(application).assigned_to_id == first.user.id
    events = [e.action for e in fresh(application).events]
    assert events == ["submitted", "claimed"]
    assert audit_actions().count("case.claimed") == 1


def test_a_supervisor_assigns_and_an_officer_may_not(staff, make_case):
    application = make_case()
    officer = staff("officer", "Chan Siu Ming")
    supervisor = staff("supervisor", "Lee Mei Ling")
    url = case_url(application, "/assign")
    assert officer.get(url).status_code == 403
    assert officer.post(url, data={"csrf_token": csrf_token_from(
        officer.get(case_url(application)).get_data(as_text=True)),
        "assignee": str(officer.user.id)}).status_code == 403
    seen = open_form(supervisor, url)
    bad = supervisor.post(url, data={**seen, "assignee": "999999"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 200
    assert "<title>Error:" in page
    assert "govuk-error-summary" in page
    assert "Select a person from the list, or Unassigned" in page
    done = after(supervisor, supervisor.post(url, data={**seen,
                                                        "assignee": str(officer.user.id)}))
    assert "This case is now assigned to Chan Siu Ming." in done
    assert fresh(application).assigned_to_id == officer.user.id
    # The same form again: the case is no longer unassigned as that page showed.
    stale = after(supervisor, supervisor.post(url, data={**seen, "assignee": ""}))
    assert "This case is already assigned to Chan Siu Ming. Nothing was changed." in stale
    assert fresh(application).assigned_to_id == officer.user.id
    assert audit_actions().count("case.assigned") == 1
    # The timeline names the person in the reader's language (kept as who, not as text).
    from flask_babel import force_locale, gettext

    from portal.identity.models import User

    db.session.get(User, officer.user.id).name_zh = "陳小明"
    db.session.commit()
    supervisor.get("/language/zh-hk")
    with force_locale("zh_Hant_HK"):
        entry = gettext("Assigned to %(name)s", name="陳小明")
    assert entry in supervisor.get(case_url(application)).get_data(as_text=True)


# --- deciding -----------------------------------------------------------------------------


def test_an_officer_must_claim_before_acting(staff, make_case):
    application = make_case()
    officer = staff()
    refused = officer.get(case_url(application, "/actions/approve"))
    assert "Claim this case before you act on it." in after(officer, refused)
    url = case_url(application, "/actions/approve")
    fields = form_fields(officer.get(case_url(application)).get_data(as_text=True))
    fields.update(shown_state="received", shown_assignee="",
                  shown_version=str(application.events[-1].id))
    assert "Claim this case" in after(officer, officer.post(url, data=fields))
    assert fresh(application).state == "received"
    assert officer.get(case_url(application, "/actions/fly")).status_code == 404


def test_approval_emails_the_citizen_over_smtp_and_asks_for_documents(
        staff, make_case, smtp_sink, monkeypatch):
    from portal.receipts import documents

    asked: list[str] = []
    monkeypatch.setattr(documents, "request_documents",
                        lambda application, definition=None: asked.append(application.state)
                        or [])
    application = make_case()
    officer = staff()
    claimed_by(officer, application)
    page = after(officer, act(officer, application, "approve", note="Licence sent by post."))
    assert f"Application {application.reference} is approved." in page
    row = fresh(application)
    assert (row.state, row.decided_at is not None) == ("approved", True)
    event = row.events[-1]
    assert (event.action, event.actor_id, event.note) == ("approve", officer.user.id,
                                                          "Licence sent by post.")
    assert asked == ["approved"]
    [message] = smtp_sink.wait_for("citizen@example.com")
    assert message["Subject"] == f"Application {application.reference} approved"
    body = email_text(message)
    assert "has been approved" in body
    assert "Licence sent by post." in body
    assert f"/applications/{application.reference}" in body
    assert "case.approved" in audit_actions()


@pytest.mark.parametrize(("data", "error"), [
    ({}, "Select the reason for the rejection"),
    ({"reason": "made_up"}, "Select the reason for the rejection"),
    ({"reason": "other"}, "Explain the reason for the rejection"),
    ({"reason": "other", "details": "x" * 1001}, "Answer must be 1000 characters or fewer"),
])
def test_a_rejection_needs_a_reason(staff, make_case, data, error):
    application = make_case()
    supervisor = staff("supervisor", "Lee Mei Ling")
    response = act(supervisor, application, "reject", **data)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "<title>Error:" in page
    assert "govuk-error-summary" in page
    assert error in page
    assert fresh(application).state == "received"


def test_a_rejection_keeps_the_reason_and_tells_the_citizen(staff, make_case, smtp_sink):
    application = make_case()
    supervisor = staff("supervisor", "Lee Mei Ling")
    page = after(supervisor, act(supervisor, application, "reject",
                                 reason="documents_invalid", details="The photo is blurred."))
    assert "is rejected" in page
    assert "A document provided was not valid or could not be read." in page  # timeline
    event = fresh(application).events[-1]
    assert (event.action, event.reason_code, event.note) == (
        "reject", "documents_invalid", "The photo is blurred.")
    [message] = smtp_sink.wait_for("citizen@example.com")
    body = email_text(message)
    assert "Reason: A document provided was not valid or could not be read." in body
    assert "The photo is blurred." in body
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "case.rejected"))
    assert audit.details["reason"] == "documents_invalid"
    assert "blurred" not in str(audit.details)


def test_asking_for_information_pauses_the_case_and_emails_the_citizen_in_chinese(
        staff, make_case, smtp_sink):
    application = make_case(language="zh_Hant_HK")
    officer = staff()
    claimed_by(officer, application)
    empty = act(officer, application, "request_information", message="  ")
    assert "Enter what the applicant needs to send or tell you" in empty.get_data(as_text=True)
    assert fresh(application).state == "received"
    act(officer, application, "request_information",
        message="Please send a clear photo of your licence.")
    row = fresh(application)
    assert row.state == "awaiting_information"
    assert row.waiting_since is not None
    request = db.session.scalar(select(CaseMessage))
    assert (request.kind, request.sender, request.author_id) == (
        MessageKind.INFORMATION_REQUEST, "staff", officer.user.id)
    [message] = smtp_sink.wait_for("citizen@example.com")
    assert message["Subject"] == f"申請{application.reference}需要更多資料"
    body = email_text(message)
    assert "親愛的陳大文：" in body
    assert "我們需要更多資料" in body
    assert "Please send a clear photo of your licence." in body
    assert f"/applications/{application.reference}" in body
    email = db.session.scalar(select(OutboxEmail))
    assert (email.application_id, email.locale) == (application.id, "zh_Hant_HK")
    assert "case.information_requested" in audit_actions()


def test_a_service_action_takes_an_optional_note_and_emails_the_new_status(
        staff, make_case, smtp_sink):
    application = make_case()
    supervisor = staff("supervisor", "Lee Mei Ling")
    after(supervisor, act(supervisor, application, "start_review", note=""))
    assert fresh(application).state == "under_review"
    [message] = smtp_sink.wait_for("citizen@example.com")
    assert "is now “Being processed”" in email_text(message)
    assert "case.start_review" in audit_actions()


# --- two staff at once --------------------------------------------------------------------


def test_the_second_decision_is_refused_and_says_who_decided(staff, make_case, smtp_sink):
    application = make_case()
    officer = staff("officer", "Wong Ka Yan")
    claimed_by(officer, application)
    supervisor = staff("supervisor", "Chan Siu Ming")
    url = case_url(application, "/actions/reject")
    officer_form = open_form(officer, url)
    after(supervisor, act(supervisor, application, "approve"))
    late = after(officer, officer.post(url, data={**officer_form, "reason": "not_eligible"}))
    assert re.search(r"Chan Siu Ming approved this case at [^.]+ while you were looking at "
                     r"it\. Nothing was changed\.", late)
    row = fresh(application)
    assert row.state == "approved"
    assert [e.action for e in row.events].count("reject") == 0
    assert len(smtp_sink.wait_for("citizen@example.com")) == 1


def test_a_case_that_changed_and_came_back_is_not_taken_for_unchanged(staff, make_case):
    """Received -> awaiting information -> received: the same state, yet not what the
    officer saw; the form's last change tells them apart."""
    application = make_case()
    officer = staff()
    claimed_by(officer, application)
    stale_form = open_form(officer, case_url(application, "/actions/approve"))
    act(officer, application, "request_information", message="Send your licence.")
    row = fresh(application)
    engine.transition(row, "information_provided", actor_role="citizen",
                      actor_id=row.user_id)
    db.session.commit()
    late = after(officer, officer.post(case_url(application, "/actions/approve"),
                                       data=stale_form))
    assert "The applicant sent more information at" in late
    assert fresh(application).state == "received"


def test_two_staff_approving_at_the_same_moment_make_one_decision(
        app, staff, make_case, portal_database_url):
    if not portal_database_url.startswith("postgresql"):
        pytest.skip("a real race needs PostgreSQL (SQLite runs one writer at a time)")
    application = make_case()
    officer = staff("officer", "Wong Ka Yan")
    claimed_by(officer, application)
    supervisor = staff("supervisor", "Chan Siu Ming")
    clients = [officer, supervisor]
    url = case_url(application, "/actions/approve")
    forms = [open_form(client, url) for client in clients]
    barrier = threading.Barrier(len(clients))
    pages: list[str] = [""] * len(clients)

    def decide(index: int) -> None:
        barrier.wait()
        response = clients[index].post(url, data=forms[index])
        pages[index] = after(clients[index], response)

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    won = [page for page in pages if "is approved." in page]
    lost = [page for page in pages if "while you were looking at it" in page]
    assert (len(won), len(lost)) == (1, 1)
    assert [e.action for e in fresh(application).events].count("approve") == 1


# --- notes and messages -------------------------------------------------------------------


def test_notes_are_checked_kept_and_audited_without_their_words(staff, make_case):
    application = make_case()
    officer = staff()
    url = case_url(application, "/notes/new")
    for body, error in (("", "Enter the note"),
                        ("x" * 4001, "Answer must be 4000 characters or fewer")):
        response = officer.post(url, data={**open_form(officer, url), "body": body})
        assert error in response.get_data(as_text=True)
    page = after(officer, officer.post(url, data={**open_form(officer, url),
                                                  "body": "Called the applicant <b>twice</b>."}))
    assert "Called the applicant <b>twice</b>." in page  # escaped in the HTML
    note = db.session.scalar(select(CaseNote))
    assert (note.author_id, note.body) == (officer.user.id, "Called the applicant <b>twice</b>.")
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "case.note_added"))
    assert audit.details == {"note": note.id, "length": len(note.body)}


def test_a_message_reaches_the_citizen_only_from_who_may_act(staff, make_case, smtp_sink):
    application = make_case()
    officer = staff()
    url = case_url(application, "/messages/new")
    assert "Claim this case before you act on it." in after(officer, officer.get(url))
    claimed_by(officer, application)
    empty = officer.post(url, data={**open_form(officer, url), "body": ""})
    assert "Enter the message" in empty.get_data(as_text=True)
    after(officer, officer.post(url, data={**open_form(officer, url),
                                           "body": "Your licence is in the post."}))
    message = db.session.scalar(select(CaseMessage))
    assert (message.kind, message.sender) == (MessageKind.MESSAGE, "staff")
    [email] = smtp_sink.wait_for("citizen@example.com")
    assert email["Subject"] == f"A message about your application {application.reference}"
    assert "Your licence is in the post." in email_text(email)
    assert "case.message_sent" in audit_actions()


def test_a_closed_case_cannot_be_claimed(staff, make_case):
    application = make_case(state="approved", decided_at=None)
    officer = staff()
    page = officer.get(case_url(application)).get_data(as_text=True)
    assert 'data-test="claim"' not in page
    fields = form_fields(page)
    fields.update(shown_state="approved", shown_assignee="",
                  shown_version=str(fresh(application).events[-1].id))
    closed = after(officer, officer.post(case_url(application, "/claim"), data=fields))
    assert "This case is closed. Nothing was changed." in closed
    assert fresh(application).assigned_to_id is None


def test_a_switched_off_services_case_can_still_be_decided(app, staff, make_case):
    """Its cases stay in the queue, so the case page must still offer its workflow."""
    application = make_case()
    officer = staff()
    claimed_by(officer, application)
    app.extensions["portal_services"].switch_off("test_permit", "raised KeyError")
    assert "test_permit" not in app.extensions["portal_services"].active
    assert 'data-test="action-approve"' in officer.get(case_url(application)).get_data(
        as_text=True)
    after(officer, act(officer, application, "approve"))
    assert fresh(application).state == "approved"

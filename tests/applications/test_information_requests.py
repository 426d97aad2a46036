"""The citizen's side of a request for more information: the banner, the messages, the
reply (in Chinese, with documents), and everything that must not get through."""

from __future__ import annotations

import io
import secrets
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.applications import engine, replies
from portal.applications.models import (
    Application,
    ApplicationEvent,
    CaseMessage,
    MessageKind,
    Upload,
)
from portal.applications.reasons import reason_text
from portal.applications.uploads import path_for
from portal.applications.util import add_working_days, new_reference, working_days_between
from portal.database import utcnow
from portal.extensions import db
from portal.i18n import force_locale, hong_kong_day, hong_kong_today
from portal.notifications.models import OutboxEmail
from portal.testing.helpers import csrf_token_from
from portal.testing.samples import NOT_A_DOCUMENT, PDF

SERVICE = "licence_renewal"  # a built-in service with the PAY_THEN_DECIDE workflow
ASKED = "Please send a clearer photo of your licence.\nBoth sides, please."
CHINESE_REPLY = "附上駕駛執照兩面的清晰照片。\n如有問題，請致電 9123 4567。"


def make_case(user, *, state="awaiting_information", asked=ASKED, officer=None,
              waited_days=0, **columns):
    """An application of ``user``; while waiting, with the department's open request."""
    now = utcnow()
    values = {
        "fee_amount": 0, "decision_due": hong_kong_today() + timedelta(days=20),
        "waiting_since": now - timedelta(days=waited_days)
        if state == "awaiting_information" else None,
        **columns,
    }
    application = Application(
        reference=new_reference(), user_id=user.id, service=SERVICE, department="TD",
        state=state, answers={}, locale="en", assigned_to_id=officer.id if officer else None,
        **values)
    db.session.add(application)
    db.session.flush()
    db.session.add(ApplicationEvent(application_id=application.id, action="submitted",
                                    to_state="received", actor_role="citizen"))
    if asked is not None:
        db.session.add(CaseMessage(
            public_id=secrets.token_hex(16), kind=MessageKind.INFORMATION_REQUEST,
            application_id=application.id, sender="staff", body=asked,
            author_id=officer.id if officer else None,
            created_at=now - timedelta(days=waited_days)))
    db.session.commit()
    return application


def reply_form(client, application):
    response = client.get(f"/applications/{application.reference}/reply")
    assert response.status_code == 200
    return csrf_token_from(response.get_data(as_text=True))


def post_reply(client, application, token, message, files=()):
    data = {"csrf_token": token, "message": message,
            "documents": [(io.BytesIO(content), name) for name, content in files]}
    return client.post(f"/applications/{application.reference}/reply", data=data,
                       content_type="multipart/form-data")


def replies_of(application):
    return db.session.scalars(select(CaseMessage).where(
        CaseMessage.application_id == application.id,
        CaseMessage.kind == MessageKind.REPLY)).all()


@pytest.fixture
def citizen(client, create_user, sign_in):
    user = create_user()
    sign_in(client)
    return user


def test_the_application_page_shows_the_request_and_the_messages(client, citizen):
    application = make_case(citizen, asked="Send <b>both</b> sides.", waited_days=2)
    db.session.add(CaseMessage(public_id=secrets.token_hex(16), kind=MessageKind.MESSAGE, sender="staff",
                               application_id=application.id, body="We have your papers.",
                               created_at=utcnow() - timedelta(days=3)))
    db.session.commit()
    page = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    banner = page[page.index('data-test="information-request"'):page.index("</dl>")]
    assert "We need more information" in banner
    assert "Send &lt;b&gt;both&lt;/b&gt; sides." in banner  # shown as typed, never as HTML
    assert f'href="/applications/{application.reference}/reply"' in banner
    messages = page[page.index(">Messages<"):page.index(">History<")]
    assert messages.index("We have your papers.") < messages.index("Send &lt;b&gt;both")
    assert "Message from the department" in messages
    assert "We asked for more information" in messages
    assert "Paused while we wait for your reply" in page


def test_a_reply_in_chinese_with_a_document_goes_back_to_the_officer(
        client, create_user, sign_in, create_staff):
    from flask_babel import gettext

    citizen = create_user(preferred_language="zh_Hant_HK")
    sign_in(client)
    officer = create_staff(preferred_language="zh_Hant_HK", name_en="LEE Siu Ming",
                           name_zh="李小明")
    due = hong_kong_today() + timedelta(days=20)
    application = make_case(citizen, officer=officer, waited_days=14, decision_due=due)
    waited_from = hong_kong_day(application.waiting_since)
    page = client.get(f"/applications/{application.reference}/reply").get_data(as_text=True)
    assert '<html lang="zh-HK"' in page
    assert "Please send a clearer photo of your licence." in page
    token = csrf_token_from(page)

    response = post_reply(client, application, token, CHINESE_REPLY, [("執照.pdf", PDF)])
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/applications/{application.reference}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    with force_locale("zh_Hant_HK"):
        sent = gettext("Your reply has been sent. We will continue with your application.")
        banner = gettext("We need more information")
    assert sent in page
    assert banner not in page
    assert CHINESE_REPLY.splitlines()[0] in page
    assert "執照.pdf" in page

    db.session.expire_all()
    stored = db.session.get(Application, application.id)
    assert stored.state == "received"
    assert stored.waiting_since is None
    waited = working_days_between(waited_from, hong_kong_today())
    assert waited > 0
    assert stored.decision_due == add_working_days(due, waited)
    [reply] = replies_of(application)
    assert reply.body == CHINESE_REPLY.strip()
    assert (reply.sender, reply.author_id) == ("citizen", citizen.id)
    request = db.session.get(CaseMessage, reply.in_reply_to_id)
    assert request.answered_at is not None
    [upload] = db.session.scalars(select(Upload)).all()
    assert (upload.application_id, upload.field, upload.draft_id) == (application.id, "reply",
                                                                      None)
    assert path_for(upload.storage_key).read_bytes() == PDF
    event = db.session.scalars(select(ApplicationEvent).where(
        ApplicationEvent.application_id == application.id).order_by(ApplicationEvent.id)).all()[-1]
    assert (event.action, event.actor_role, event.actor_id) == (
        "information_provided", "citizen", citizen.id)

    [email] = db.session.scalars(select(OutboxEmail).where(
        OutboxEmail.recipient == officer.email)).all()
    assert (email.kind, email.locale, email.application_id) == (
        "applications/reply_received", "zh_Hant_HK", application.id)
    assert application.reference in email.subject
    assert f"/staff/cases/{application.reference}" in email.body_text
    assert "附上" not in email.body_text
    assert citizen.name_en not in email.body_text
    assert citizen.name_zh not in email.body_text


@pytest.mark.parametrize(("message", "files", "error"), [
    ("   ", (), "Enter your reply"),
    ("長" * 4001, (), "Answer must be 4000 characters or fewer"),
    ("Here it is.", [("licence.pdf", NOT_A_DOCUMENT)], "The selected file must be a PDF, JPG or PNG"),
])
def test_a_bad_reply_gets_an_error_and_changes_nothing(client, app, citizen, monkeypatch,
                                                       tmp_path, message, files, error):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path))
    application = make_case(citizen)
    token = reply_form(client, application)
    response = post_reply(client, application, token, message, files)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error:" in page
    assert "There is a problem" in page
    assert error in page
    db.session.expire_all()
    assert db.session.get(Application, application.id).state == "awaiting_information"
    assert replies_of(application) == []
    assert replies.unanswered_request(application) is not None
    assert db.session.scalar(select(func.count()).select_from(Upload)) == 0
    assert [p for p in Path(tmp_path).rglob("*") if p.is_file()] == []


def test_another_citizens_application_is_not_found(client, app, create_user, sign_in):
    owner = create_user("owner@example.com")
    application = make_case(owner)
    create_user("other@example.com")
    sign_in(client, "other@example.com")
    assert client.get(f"/applications/{application.reference}/reply").status_code == 404
    token = csrf_token_from(client.get("/dashboard").get_data(as_text=True))
    assert post_reply(client, application, token, "mine now").status_code == 404
    db.session.expire_all()
    assert replies_of(application) == []


def test_staff_are_sent_to_the_back_office(app, create_user, create_staff, sign_in_staff):
    application = make_case(create_user())
    officer = create_staff()
    client = app.test_client()
    sign_in_staff(client, officer)
    response = client.get(f"/applications/{application.reference}/reply")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/")


def test_without_an_open_request_the_reply_page_sends_the_citizen_back(client, citizen):
    application = make_case(citizen, state="received", asked=None)
    response = client.get(f"/applications/{application.reference}/reply")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "There is no request for more information to answer" in page
    assert "We need more information" not in page


def test_a_double_submission_makes_one_reply(client, citizen):
    application = make_case(citizen)
    token = reply_form(client, application)
    assert post_reply(client, application, "forged", "No token.").status_code == 400
    first = post_reply(client, application, token, "Sent twice by a double click.")
    second = post_reply(client, application, token, "Sent twice by a double click.")
    assert first.status_code == second.status_code == 302
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "We already have your reply to this request." in page
    db.session.expire_all()
    assert len(replies_of(application)) == 1
    assert db.session.scalar(select(func.count()).select_from(ApplicationEvent).where(
        ApplicationEvent.action == "information_provided")) == 1
    with pytest.raises(replies.AlreadyAnswered):
        replies.answer_information_request(db.session.get(Application, application.id),
                                           citizen, "And once more, directly.")


@pytest.mark.parametrize(("action", "actor", "status"), [
    ("withdraw", "citizen", "Withdrawn"),
    ("reject", "officer", "Rejected"),
])
def test_a_reply_after_the_case_moved_on_is_not_sent(client, citizen, action, actor, status):
    application = make_case(citizen)
    token = reply_form(client, application)
    # Meanwhile, in another tab or in the back office:
    engine.transition(application, action, actor_role=actor)
    db.session.commit()
    response = post_reply(client, application, token, "Too late?")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Your reply was not sent: this application’s status is now “{status}”." in page
    db.session.expire_all()
    assert replies_of(application) == []
    with pytest.raises(replies.CaseMovedOn):
        replies.answer_information_request(db.session.get(Application, application.id),
                                           citizen, "Straight to the function.")


def test_the_timeline_hides_internal_entries_and_gives_the_reason_in_the_citizens_language(
        client, citizen, create_staff):
    officer = create_staff()
    application = make_case(citizen, state="rejected", asked=None, decided_at=utcnow())
    for action, internal, reason, note in (
            ("claimed", True, None, "internal: claimed by the officer"),
            ("assigned", True, None, "internal: assigned to a colleague"),
            ("reject", False, "documents_missing", "The photo page is missing.")):
        db.session.add(ApplicationEvent(
            application_id=application.id, action=action, from_state="received",
            to_state="rejected" if action == "reject" else "received", actor_role="officer",
            actor_id=officer.id, internal=internal, reason_code=reason, note=note))
    db.session.commit()
    english = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    assert 'data-test="rejection-reason"' in english
    history = english[english.index(">History<"):]
    assert "Reason: Documents we need were not provided." in history
    assert "The photo page is missing." in history
    assert "Claimed" not in history
    assert "Assigned" not in history
    assert "internal:" not in english

    client.get(f"/language/zh-hk?next=/applications/{application.reference}")
    chinese = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    assert '<html lang="zh-HK"' in chinese
    with force_locale("zh_Hant_HK"):
        reason = reason_text("documents_missing")
    assert reason in chinese
    assert "The photo page is missing." in chinese
    assert reason != "Documents we need were not provided."
    assert "Documents we need were not provided." not in chinese
    # The reason also sits next to the status, at the top of the page.
    summary = chinese[chinese.index('data-test="rejection-reason"'):]
    assert summary.index(reason) < summary.index("The photo page is missing.")


def test_the_expected_decision_date_is_shown_and_stays_plain_when_late(client, citizen):
    application = make_case(citizen, state="received", asked=None,
                            decision_due=date(2030, 1, 15))
    page = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    assert "We expect to decide by 15 January 2030" in page
    assert "taking longer" not in page
    application.decision_due = hong_kong_today() - timedelta(days=3)
    db.session.commit()
    page = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    assert "We expect to decide by" in page
    assert "This is taking longer than we said." in page


def test_issued_documents_are_listed_for_download(client, citizen, monkeypatch):
    from portal.receipts import documents

    application = make_case(citizen, state="approved", asked=None)
    issued = [
        SimpleNamespace(number="TD-L-000042", public_id="lic42", status="issued",
                        issued_at=utcnow(), kind="licence"),
        SimpleNamespace(number=None, public_id="doc7", status="pending",
                        issued_at=None, kind="letter"),
    ]
    monkeypatch.setattr(documents, "documents_for", lambda app: issued)
    page = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    assert "Your documents" in page
    assert (f'href="/applications/{application.reference}/receipts/lic42.pdf" download>'
            "Licence TD-L-000042 (PDF)</a>") in page
    assert "Your document is being prepared." in page
    assert "doc7.pdf" not in page  # not issued yet: no link


def test_replies_sent_at_the_same_moment_make_one(app, create_user):
    """Five tabs send at once: one reply, one move back to the department, one email."""
    import threading

    citizen = create_user()
    application = make_case(citizen)
    ids = (application.id, citizen.id)
    parallel = 5
    barrier = threading.Barrier(parallel)
    outcomes: list[str] = []

    def send(number: int) -> None:
        from portal.identity.models import User

        with app.app_context():
            try:
                mine = db.session.get(Application, ids[0])
                user = db.session.get(User, ids[1])
                barrier.wait(timeout=30)
                replies.answer_information_request(mine, user, f"Tab {number}")
                outcomes.append("sent")
            except replies.ReplyRefused as exc:
                outcomes.append(type(exc).__name__)
            except BaseException as exc:  # noqa: BLE001 - reported below
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["AlreadyAnswered"] * (parallel - 1) + ["sent"], outcomes
    db.session.expire_all()
    assert len(replies_of(application)) == 1
    assert db.session.get(Application, application.id).state == "received"

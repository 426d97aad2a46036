"""A citizen's way through a service: steps, drafts, check your answers, submission."""

from __future__ import annotations

import io
import re
from typing import Any

from sqlalchemy import func, select

from portal.applications.models import Application, Draft, Upload
from portal.testing.helpers import csrf_token_from, email_text
from tests.applications.conftest import PDF

DETAILS = {"full_name": "Chan Tai Man", "kind": "year"}
ADDRESS = {"address_street": "1 Queen's Road Central", "district": "central_western"}


def _csrf(client: Any, url: str) -> str:
    return csrf_token_from(client.get(url).get_data(as_text=True))


def start(client: Any) -> str:
    token = _csrf(client, "/dashboard")
    response = client.post("/services/test_permit/apply", data={"csrf_token": token})
    assert response.status_code == 302
    match = re.search(r"/drafts/([0-9a-f]{32})/details$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def post_step(client: Any, draft: str, step: str, data: dict[str, Any], **kwargs: Any) -> Any:
    url = f"/drafts/{draft}/{step}" + kwargs.pop("query", "")
    token = _csrf(client, url)
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


def evidence(name: str = "proof.pdf", content: bytes = PDF) -> dict[str, Any]:
    return {"started_on": ["3", "4", "2020"], "agree": "y",
            "evidence": (io.BytesIO(content), name)}


def fill_all(client: Any, draft: str) -> None:
    assert post_step(client, draft, "details", DETAILS).headers["Location"].endswith("/copies")
    assert post_step(client, draft, "copies", {"copies": "2"}).headers["Location"].endswith(
        "/address")
    assert post_step(client, draft, "address", ADDRESS).headers["Location"].endswith("/evidence")
    response = post_step(client, draft, "evidence", evidence(),
                         content_type="multipart/form-data")
    assert response.headers["Location"].endswith(f"/drafts/{draft}/check")


def submit(client: Any, draft: str) -> Any:
    return client.post(f"/drafts/{draft}/check", data={"csrf_token": _csrf(client, "/dashboard")})


def test_starting_needs_a_signed_in_citizen(client, permit_service):
    response = client.post("/services/test_permit/apply")
    assert response.status_code in (302, 400)
    assert client.get("/services/test_permit/apply").status_code == 302


def test_a_citizen_walks_through_every_step_and_submits_once(
        client, permit_service, create_user, sign_in, smtp_sink, db_session):
    create_user(preferred_language="zh_Hant_HK")
    sign_in(client)
    draft = start(client)
    fill_all(client, draft)
    page = client.get(f"/drafts/{draft}/check").get_data(as_text=True)
    for answer in ("Chan Tai Man", "Year permit", "2", "1 Queen&#39;s Road Central", "proof.pdf",
                   "HK$200.00"):
        assert answer in page
    assert page.count("?return=check") == 10
    first = submit(client, draft)
    again = submit(client, draft)
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert db_session.scalar(select(func.count()).select_from(Application)) == 1
    application = db_session.scalar(select(Application))
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]",
                        application.reference)
    assert application.state == "awaiting_payment"
    assert application.fee_amount == 20_000
    assert application.decision_due is None
    confirmation = client.get(first.headers["Location"]).get_data(as_text=True)
    assert application.reference in confirmation
    messages = [m for m in smtp_sink.messages if application.reference in m["Subject"]]
    assert len(messages) == 1
    # In the citizen's language, whatever the language of the page they submitted from.
    assert "Application received" not in messages[0]["Subject"]
    assert "We have received" not in email_text(messages[0])


def test_a_step_with_errors_shows_a_summary_and_keeps_what_was_typed(
        client, permit_service, create_user, sign_in, db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    response = post_step(client, draft, "details", {"full_name": "Chan<b>", "kind": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert 'href="#kind"' in page
    assert "Select a kind of permit" in page
    assert "Chan&lt;b&gt;" in page
    saved = db_session.scalar(select(Draft))
    assert saved.answers["details"]["full_name"] == ["Chan<b>"]
    assert "details" not in saved.completed_steps


def test_a_conditional_step_is_skipped_when_it_does_not_apply(
        client, permit_service, create_user, sign_in):
    create_user()
    sign_in(client)
    draft = start(client)
    response = post_step(client, draft, "details", {"full_name": "Li", "kind": "day"})
    assert response.headers["Location"].endswith("/address")
    assert client.get(f"/drafts/{draft}/copies").status_code == 302


def test_save_and_come_back_later_resumes_where_the_citizen_left(
        client, permit_service, create_user, sign_in):
    create_user()
    sign_in(client)
    draft = start(client)
    post_step(client, draft, "details", DETAILS)
    response = post_step(client, draft, "copies", {"copies": "3", "save": "1"})
    assert response.headers["Location"].endswith(f"/drafts/{draft}/saved")
    assert "saved" in client.get(response.headers["Location"]).get_data(as_text=True)
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Test permit" in dashboard
    assert f"/drafts/{draft}" in dashboard
    client.post("/sign-out", data={"csrf_token": _csrf(client, "/dashboard")})
    assert client.get(f"/drafts/{draft}").status_code == 302
    assert "/sign-in" in client.get(f"/drafts/{draft}").headers["Location"]
    sign_in(client)
    resumed = client.get(f"/drafts/{draft}")
    assert resumed.headers["Location"].endswith("/copies")
    assert 'value="3"' in client.get(f"/drafts/{draft}/copies").get_data(as_text=True)


def test_the_address_is_prefilled_from_the_profile_and_copied_at_submission(
        client, permit_service, create_user, sign_in, db_session):
    user = create_user()
    user.address_street = "8 Nathan Road"
    user.district = "yau_tsim_mong"
    db_session.commit()
    sign_in(client)
    draft = start(client)
    assert 'value="8 Nathan Road"' in client.get(f"/drafts/{draft}/address").get_data(
        as_text=True)
    post_step(client, draft, "details", DETAILS)
    post_step(client, draft, "copies", {"copies": "1"})
    post_step(client, draft, "address", {"address_street": "8 Nathan Road",
                                         "district": "yau_tsim_mong"})
    post_step(client, draft, "evidence", evidence(), content_type="multipart/form-data")
    submit(client, draft)
    user.address_street = "99 Somewhere Else"
    db_session.commit()
    application = db_session.scalar(select(Application))
    page = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    assert "8 Nathan Road" in page
    assert "Somewhere Else" not in page


def test_extra_fields_posted_are_ignored(client, permit_service, create_user, sign_in,
                                         db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    post_step(client, draft, "details", {**DETAILS, "fee": "0", "status": "approved"})
    saved = db_session.scalar(select(Draft))
    assert set(saved.answers["details"]) == {"full_name", "kind"}


def test_a_change_link_returns_to_check_your_answers(client, permit_service, create_user,
                                                     sign_in):
    create_user()
    sign_in(client)
    draft = start(client)
    fill_all(client, draft)
    response = post_step(client, draft, "details", {"full_name": "Wong", "kind": "year"},
                         query="?return=check")
    assert response.headers["Location"].endswith("/check")
    # Changing an answer that brings in a new step goes to that step first.
    post_step(client, draft, "details", {"full_name": "Wong", "kind": "day"},
              query="?return=check")
    assert "Wong" in client.get(f"/drafts/{draft}/check").get_data(as_text=True)


def test_submitting_with_an_unfinished_step_goes_back_to_it(client, permit_service,
                                                            create_user, sign_in, db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    post_step(client, draft, "details", DETAILS)
    response = submit(client, draft)
    assert response.headers["Location"].endswith("/copies")
    assert db_session.scalar(select(func.count()).select_from(Application)) == 0


def test_another_citizen_gets_404_for_drafts_applications_and_uploads(
        client, app, permit_service, create_user, sign_in, db_session):
    create_user()
    create_user(email="other@example.com")
    sign_in(client)
    draft = start(client)
    fill_all(client, draft)
    submit(client, draft)
    application = db_session.scalar(select(Application))
    upload = db_session.scalar(select(Upload))
    other = app.test_client()
    sign_in(other, "other@example.com")
    for url in (f"/drafts/{draft}", f"/drafts/{draft}/details", f"/drafts/{draft}/check",
                f"/applications/{application.reference}",
                f"/applications/{application.reference}/withdraw",
                f"/uploads/{upload.public_id}", "/applications/ZZZZ-ZZZZ-Z", "/uploads/nothing"):
        assert other.get(url).status_code == 404, url


def test_a_zero_fee_application_goes_straight_to_the_department(
        client, permit_service, create_user, sign_in, db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    post_step(client, draft, "details", {"full_name": "Li", "kind": "day"})
    post_step(client, draft, "address", ADDRESS)
    post_step(client, draft, "evidence", evidence(), content_type="multipart/form-data")
    submit(client, draft)
    application = db_session.scalar(select(Application))
    assert application.state == "received"
    assert application.decision_due is not None
    assert [e.action for e in application.events] == ["submitted", "payment_received"]
    page = client.get(f"/applications/{application.reference}").get_data(as_text=True)
    assert "We expect to decide by " in page


def test_answers_are_kept_in_the_form_their_checks_give(client, permit_service, create_user,
                                                        sign_in, db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    post_step(client, draft, "details", {"full_name": "  Chan  Tai Man ", "kind": "day"})
    saved = db_session.scalar(select(Draft))
    assert saved.answers["details"]["full_name"] == ["Chan  Tai Man"]


def test_starting_again_continues_the_application_already_started(client, permit_service,
                                                                  create_user, sign_in,
                                                                  db_session):
    create_user()
    sign_in(client)
    first = start(client)
    token = _csrf(client, "/dashboard")
    again = client.post("/services/test_permit/apply", data={"csrf_token": token})
    assert again.headers["Location"].endswith(f"/drafts/{first}")
    assert db_session.scalar(select(func.count()).select_from(Draft)) == 1


def test_a_step_posted_after_submission_changes_nothing(client, permit_service, create_user,
                                                        sign_in, db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    fill_all(client, draft)
    token = _csrf(client, f"/drafts/{draft}/details")
    submit(client, draft)
    late = client.post(f"/drafts/{draft}/details",
                       data={"csrf_token": token, "full_name": "Changed", "kind": "day"})
    assert late.status_code == 302
    assert "/applications/" in late.headers["Location"]
    application = db_session.scalar(select(Application))
    assert application.answers["details"]["full_name"] == ["Chan Tai Man"]
    assert db_session.scalar(select(Draft)).answers["details"]["full_name"] == ["Chan Tai Man"]


def test_a_step_saved_in_a_race_with_submission_is_refused(client, permit_service, create_user,
                                                           sign_in, db_session):
    from sqlalchemy import update

    from portal.applications import engine

    create_user()
    sign_in(client)
    draft_id = start(client)
    draft = db_session.scalar(select(Draft))  # read while open...
    with db_session.get_bind().begin() as other:  # ...then sent from another tab
        other.execute(update(Draft).values(status="submitted"))
    assert not engine.save_step(draft, permit_service.steps[0], {"full_name": ["X"]}, True)
    db_session.rollback()
    assert db_session.scalar(select(Draft)).answers.get("details") is None
    assert db_session.scalar(select(Draft)).public_id == draft_id


def test_steps_saved_from_two_tabs_at_once_are_both_kept(client, permit_service, create_user,
                                                         sign_in, db_session):
    from datetime import timedelta

    from sqlalchemy import update

    from portal.applications import engine

    create_user()
    sign_in(client)
    start(client)
    draft = db_session.scalar(select(Draft))  # this tab read the draft...
    with db_session.get_bind().begin() as other:  # ...and another tab saved a step since
        other.execute(update(Draft).values(
            answers={"address": {"address_street": ["1 Main Street"]}},
            updated_at=draft.updated_at + timedelta(seconds=1)))
    assert engine.save_step(draft, permit_service.steps[0], {"full_name": ["Li"]}, True)
    db_session.commit()
    db_session.expire_all()
    answers = db_session.scalar(select(Draft)).answers
    assert answers["address"] == {"address_street": ["1 Main Street"]}
    assert answers["details"] == {"full_name": ["Li"]}


def test_an_unknown_step_is_404_and_a_step_not_asked_goes_back(client, permit_service,
                                                               create_user, sign_in):
    create_user()
    sign_in(client)
    draft = start(client)
    assert client.get(f"/drafts/{draft}/no_such_step").status_code == 404
    assert client.get(f"/drafts/{draft}/copies").headers["Location"].endswith(f"/drafts/{draft}")


def test_the_drafts_command_reminds_and_deletes(app, client, permit_service, create_user,
                                                sign_in, db_session):
    from datetime import timedelta

    from portal.database import utcnow

    create_user()
    sign_in(client)
    start(client)
    draft = db_session.scalar(select(Draft))
    draft.updated_at = utcnow() - timedelta(days=31)
    db_session.commit()
    result = app.test_cli_runner().invoke(args=["drafts", "expire"])
    assert result.exit_code == 0, result.output
    assert "0 reminders queued, 1 expired drafts deleted." in result.output
    assert db_session.scalar(select(func.count()).select_from(Draft)) == 0

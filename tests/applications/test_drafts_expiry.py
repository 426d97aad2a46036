"""A draft unused for 30 days is deleted, with an email a week before."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.applications.models import Draft, Upload
from portal.applications.tasks import remind_and_expire_drafts
from portal.applications.uploads import path_for
from portal.database import utcnow
from portal.extensions import db
from portal.testing.helpers import email_text
from tests.applications.test_journey import ADDRESS, DETAILS, evidence, post_step, start


def _age(draft_id: str, days: float) -> None:
    draft = db.session.scalar(select(Draft).where(Draft.public_id == draft_id))
    draft.updated_at = utcnow() - timedelta(days=days)
    db.session.commit()


def test_a_draft_untouched_for_23_days_gets_one_reminder(client, permit_service, create_user,
                                                         sign_in, smtp_sink):
    create_user()
    sign_in(client)
    draft = start(client)
    post_step(client, draft, "details", DETAILS)
    _age(draft, 22)
    assert remind_and_expire_drafts() == (0, 0)
    _age(draft, 23.5)
    assert remind_and_expire_drafts() == (1, 0)
    assert remind_and_expire_drafts() == (0, 0)
    reminders = [m for m in smtp_sink.messages if "deleted" in m["Subject"]]
    assert len(reminders) == 1
    assert f"/drafts/{draft}" in email_text(reminders[0])
    assert "Test permit" in email_text(reminders[0])


def test_touching_a_draft_again_restarts_its_30_days(client, permit_service, create_user,
                                                     sign_in):
    create_user()
    sign_in(client)
    draft = start(client)
    _age(draft, 24)
    remind_and_expire_drafts()
    post_step(client, draft, "details", DETAILS)
    row = db.session.scalar(select(Draft))
    db.session.refresh(row)
    assert row.reminder_sent_at is None
    assert row.updated_at > utcnow() - timedelta(minutes=5)


def test_an_expired_draft_is_deleted_with_its_uploads(client, permit_service, create_user,
                                                      sign_in):
    create_user()
    sign_in(client)
    draft = start(client)
    post_step(client, draft, "details", {**DETAILS, "kind": "day"})
    post_step(client, draft, "address", ADDRESS)
    post_step(client, draft, "evidence", evidence(), content_type="multipart/form-data")
    stored = path_for(db.session.scalar(select(Upload)).storage_key)
    assert stored.exists()
    _age(draft, 30.1)
    # Expired drafts are gone from the citizen's view at once, before any sweep.
    assert f"/drafts/{draft}" not in client.get("/dashboard").get_data(as_text=True)
    assert client.get(f"/drafts/{draft}").status_code == 404
    assert remind_and_expire_drafts() == (0, 1)
    assert db.session.scalar(select(Draft)) is None
    assert db.session.scalar(select(Upload)) is None
    assert not stored.exists()


def test_the_citizen_can_delete_a_saved_application(client, permit_service, create_user,
                                                    sign_in):
    from tests.applications.test_journey import _csrf

    create_user()
    sign_in(client)
    draft = start(client)
    url = f"/drafts/{draft}/delete"
    assert "delete this saved application" in client.get(url).get_data(as_text=True)
    response = client.post(url, data={"csrf_token": _csrf(client, url)})
    assert response.headers["Location"].endswith("/dashboard")
    assert db.session.scalar(select(Draft)) is None

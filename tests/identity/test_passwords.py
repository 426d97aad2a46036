"""Forgotten and changed passwords."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.identity.models import OneTimeToken, UserSession
from portal.testing.helpers import links_in, path_of, post_form
from portal.testing.plugin import DEFAULT_PASSWORD

NEW = "Victoria-Harbour-Lights-88"


def _reset_link(client, smtp_sink, email="citizen@example.com"):
    post_form(client, "/password/forgotten", {"email": email})
    [message] = smtp_sink.wait_for(email)
    [link] = [u for u in links_in(message) if "/reset/" in u]
    return path_of(link)


def test_a_reset_link_sets_a_new_password_once(client, app, create_user, smtp_sink, sign_in):
    create_user()
    other_device = app.test_client()
    sign_in(other_device)
    link = _reset_link(client, smtp_sink)
    assert client.get(link).status_code == 200
    response = post_form(client, link, {"password": NEW})
    assert response.headers["Location"] == "/sign-in"
    # Signed out everywhere, told by email, and the link is spent.
    assert other_device.get("/dashboard").status_code == 302
    assert all(row.ended_at for row in db.session.scalars(select(UserSession)))
    smtp_sink.wait_for("citizen@example.com", count=2)
    assert client.get(link).status_code == 400
    sign_in(client, password=NEW)


def test_forgotten_password_says_the_same_for_unknown_addresses(client, smtp_sink):
    response = post_form(client, "/password/forgotten", {"email": "nobody@example.com"})
    assert response.headers["Location"] == "/password/check-your-email"
    assert smtp_sink.to("nobody@example.com") == []


def test_an_expired_reset_link_is_refused(client, create_user, smtp_sink):
    create_user()
    link = _reset_link(client, smtp_sink)
    row = db.session.scalar(select(OneTimeToken))
    row.expires_at = row.expires_at - timedelta(hours=2)
    db.session.commit()
    assert client.get(link).status_code == 400


def test_a_reset_must_meet_the_password_rules(client, create_user, smtp_sink):
    create_user()
    link = _reset_link(client, smtp_sink)
    page = post_form(client, link, {"password": "short"}).get_data(as_text=True)
    assert "Password must be 12 characters or more" in page
    assert db.session.scalar(select(OneTimeToken)).used_at is None


def test_changing_the_password_needs_the_current_one(client, create_user, sign_in, smtp_sink):
    create_user()
    sign_in(client)
    page = post_form(client, "/account/password", {"current_password": "wrong-one-12345", "password": NEW})
    assert "Your current password is not right" in page.get_data(as_text=True)
    response = post_form(client, "/account/password", {"current_password": DEFAULT_PASSWORD, "password": NEW})
    assert response.headers["Location"] == "/account"
    # This session stays signed in; the old password no longer works.
    assert client.get("/account").status_code == 200
    [message] = smtp_sink.wait_for("citizen@example.com")
    assert message["Subject"] == "Your password has been changed"


def test_a_staff_invitation_link_sets_the_first_password(client, create_staff, sign_in_staff, smtp_sink):
    admin = create_staff("admin@example.com", role="portal_admin", department_code=None)
    sign_in_staff(client, admin)
    post_form(client, "/staff/admin/staff/new", {
        "email": "pa2@example.com", "name_en": "LAM Mei Ling", "role": "portal_admin", "department": "",
    })
    [message] = smtp_sink.wait_for("pa2@example.com")
    [link] = [u for u in links_in(message) if "/invitation/" in u]
    fresh = __import__("flask").current_app.test_client()
    response = post_form(fresh, path_of(link), {"password": NEW})
    assert response.headers["Location"] == "/sign-in"
    response = post_form(fresh, "/sign-in", {"email": "pa2@example.com", "password": NEW})
    assert response.headers["Location"] == "/sign-in/set-up-security-code"

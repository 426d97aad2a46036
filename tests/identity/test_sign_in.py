"""Signing in and out: one message for every failure, lockout, sessions, safe redirects."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.identity.models import User, UserSession
from portal.testing.helpers import post_form
from portal.testing.plugin import DEFAULT_PASSWORD

FAILED = "The email address or password is not right"


def _cookie(client):
    cookie = client.get_cookie("portal_session")
    return cookie.value if cookie else None


def test_a_citizen_signs_in_and_reaches_the_dashboard(client, create_user):
    create_user()
    response = post_form(client, "/sign-in", {"email": "Citizen@Example.com ", "password": DEFAULT_PASSWORD})
    assert response.headers["Location"] == "/dashboard"
    page = client.get("/dashboard").get_data(as_text=True)
    assert "You have no applications yet" in page


@pytest.mark.parametrize(
    ("email", "password"),
    [("citizen@example.com", "wrong-password-123"), ("nobody@example.com", DEFAULT_PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_every_failure_gets_the_same_message(client, create_user, email, password):
    create_user()
    response = post_form(client, "/sign-in", {"email": email, "password": password})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert FAILED in page
    assert "There is a problem" in page


def test_repeated_failures_lock_the_account_for_a_while(client, create_user, app):
    user = create_user()
    for _ in range(app.config["LOCKOUT_THRESHOLD"]):
        post_form(client, "/sign-in", {"email": user.email, "password": "wrong-password-123"})
    db.session.refresh(user)
    assert user.locked_until is not None
    # Even the right password now gets the same message.
    response = post_form(client, "/sign-in", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert FAILED in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_sign_in_is_rate_limited(client, app):
    app.config["SIGN_IN_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [
            post_form(client, "/sign-in", {"email": "a@example.com", "password": "x" * 12}).status_code
            for _ in range(5)
        ]
        page = post_form(client, "/sign-in", {"email": "a@example.com", "password": "x" * 12})
    finally:
        app.config["SIGN_IN_RATE_LIMIT"] = "10 per minute;50 per hour"
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    assert page.status_code == 429
    assert "Too many attempts" in page.get_data(as_text=True)


def test_the_session_changes_at_sign_in_and_ends_at_sign_out(client, create_user, sign_in):
    create_user()
    client.get("/sign-in")
    before = _cookie(client)
    sign_in(client)
    after = _cookie(client)
    assert before != after
    [row] = db.session.scalars(select(UserSession)).all()
    assert row.ended_at is None

    stolen = after
    response = post_form(client, "/sign-out", {}, form_url="/dashboard")
    assert response.status_code == 302
    db.session.refresh(row)
    assert row.ended_at is not None
    # Replaying the old cookie does not bring the session back.
    client.set_cookie("portal_session", stolen)
    assert client.get("/dashboard").status_code == 302


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/account", "/account"),
        ("https://elsewhere.example/phish", "/dashboard"),
        ("//elsewhere.example/phish", "/dashboard"),
        ("/\\elsewhere.example", "/dashboard"),
        ("javascript:alert(1)", "/dashboard"),
    ],
)
def test_next_after_sign_in_stays_on_the_portal(client, create_user, next_url, expected):
    create_user()
    response = post_form(
        client, f"/sign-in?next={next_url}", {"email": "citizen@example.com", "password": DEFAULT_PASSWORD},
        form_url="/sign-in",
    )
    assert response.headers["Location"] == expected


def test_signed_out_visitors_are_sent_to_sign_in_and_back(client, create_user):
    create_user()
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/account")


def test_a_deactivated_account_cannot_sign_in(client, create_user):
    user = create_user()
    user.is_active = False
    db.session.commit()
    page = post_form(client, "/sign-in", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert FAILED in page.get_data(as_text=True)


def test_an_idle_session_expires(client, create_user, sign_in, app):
    from datetime import timedelta

    create_user()
    sign_in(client)
    row = db.session.scalar(select(UserSession))
    row.last_seen_at = row.last_seen_at - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()
    assert client.get("/dashboard").status_code == 302
    db.session.refresh(row)
    assert row.ended_at is not None


def test_personal_pages_are_not_cached(client, create_user, sign_in):
    create_user()
    sign_in(client)
    response = client.get("/dashboard")
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/account").headers["Cache-Control"] == "no-store"


def test_staff_are_sent_to_their_home_not_the_citizen_dashboard(client, create_staff, sign_in_staff):
    officer = create_staff()
    sign_in_staff(client, officer)
    assert client.get("/dashboard").headers["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_password_is_rehashed_transparently_when_parameters_change(client, create_user):
    from argon2 import PasswordHasher

    user = create_user()
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(DEFAULT_PASSWORD)
    db.session.commit()
    post_form(client, "/sign-in", {"email": user.email, "password": DEFAULT_PASSWORD})
    db.session.refresh(user)
    assert "m=8192" not in user.password_hash


def test_user_lookup_is_case_insensitive(create_user):
    from portal.identity.util import find_user_by_email

    create_user("mixed@example.com")
    assert isinstance(find_user_by_email("MIXED@example.COM"), User)

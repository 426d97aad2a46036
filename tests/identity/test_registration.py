"""A citizen creates an account and confirms the email address."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.identity.models import Role, User
from portal.testing.helpers import email_text, get_csrf, links_in, path_of, post_form

GOOD = {
    "email": "Wong.Ka-Ming@Example.com",
    "name_en": "WONG Ka Ming",
    "name_zh": "黃家明",
    "password": "Lantau-Ferry-Morning-77",
    "preferred_language": "en",
}


def _users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_registration_sends_a_confirmation_link_that_lets_the_citizen_sign_in(client, smtp_sink):
    response = post_form(client, "/register", GOOD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/register/check-your-email")
    page = client.get("/register/check-your-email").get_data(as_text=True)
    assert "wong.ka-ming@example.com" in page

    [message] = smtp_sink.wait_for("wong.ka-ming@example.com")
    assert message["Subject"] == "Confirm your email address"
    [link] = [u for u in links_in(message) if "/confirm/" in u]

    user = db.session.scalar(select(User).where(User.email == "wong.ka-ming@example.com"))
    assert user.email_confirmed_at is None
    assert user.role == Role.CITIZEN
    assert user.password_hash.startswith("$argon2id$")

    # Before confirming, sign-in stops at "confirm your email".
    response = post_form(client, "/sign-in", {"email": GOOD["email"], "password": GOOD["password"]})
    assert response.headers["Location"].endswith("/sign-in/confirm-your-email")

    response = client.get(path_of(link))
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.email_confirmed_at is not None

    response = post_form(client, "/sign-in", {"email": GOOD["email"], "password": GOOD["password"]})
    assert response.headers["Location"].endswith("/dashboard")
    assert "Your applications" in client.get("/dashboard").get_data(as_text=True)


def test_confirmation_email_is_in_the_language_the_citizen_chose(client, smtp_sink):
    post_form(client, "/register", {**GOOD, "preferred_language": "zh_Hant_HK"})
    [message] = smtp_sink.wait_for("wong.ka-ming@example.com")
    assert message["Content-Language"] == "zh-HK"
    assert "確認" in message["Subject"]
    assert "黃家明" in email_text(message)


def test_a_tampered_confirmation_link_is_refused(client, smtp_sink):
    post_form(client, "/register", GOOD)
    [message] = smtp_sink.wait_for("wong.ka-ming@example.com")
    [link] = [u for u in links_in(message) if "/confirm/" in u]
    response = client.get(path_of(link)[:-3] + "xyz")
    assert response.status_code == 400
    assert "This link does not work" in response.get_data(as_text=True)


def test_registering_an_existing_email_reveals_nothing_and_warns_the_owner(
    client, smtp_sink, create_user
):
    create_user("wong.ka-ming@example.com")
    response = post_form(client, "/register", GOOD)
    assert response.headers["Location"].endswith("/register/check-your-email")
    [message] = smtp_sink.wait_for("wong.ka-ming@example.com")
    assert message["Subject"] == "You already have an account"
    assert _users() == 1


def test_names_like_obrien_and_chinese_names_are_accepted(client):
    response = post_form(client, "/register", {**GOOD, "name_en": "O'Brien Mary-Jane", "name_zh": "歐陽·小明"})
    assert response.status_code == 302
    user = db.session.scalar(select(User))
    assert user.name_en == "O'Brien Mary-Jane"
    assert user.name_zh == "歐陽·小明"


def test_bad_answers_get_field_errors_and_create_nothing(client):
    cases = {
        "email": ("not-an-email", "Enter an email address in the correct format"),
        "name_en": ("陳大文", "Enter your name in English"),
        "name_zh": ("Chan", "Enter your name in Chinese characters only"),
        "password": ("short-pass", "Password must be 12 characters or more"),
    }
    for field, (value, message) in cases.items():
        response = post_form(client, "/register", {**GOOD, field: value})
        page = response.get_data(as_text=True)
        assert response.status_code == 200, field
        assert "There is a problem" in page, field
        assert message in page, field
        assert f'href="#{field}"' in page, field
        assert "<title>Error:" in page, field
    assert _users() == 0


def test_common_passwords_are_refused(client):
    for password in ("password1234", "qwertyuiop123", "iloveyou1234", "wong.ka-ming@example.com"):
        page = post_form(client, "/register", {**GOOD, "password": password}).get_data(as_text=True)
        assert "too common or simple" in page, password
    assert _users() == 0


def test_over_long_and_control_character_input_gets_a_field_error(client):
    for field, value in {
        "name_en": "A" * 101,
        "name_zh": "陳" * 51,
        "password": "x" * 129,
    }.items():
        page = post_form(client, "/register", {**GOOD, field: value}).get_data(as_text=True)
        assert "There is a problem" in page, field
    for value in ("WONG\x00Ka Ming", "WONG\nKa Ming", "WONG\u202eKa Ming"):
        page = post_form(client, "/register", {**GOOD, "name_en": value}).get_data(as_text=True)
        assert "Remove the special characters" in page, repr(value)
    assert _users() == 0


def test_missing_answers_are_named(client):
    page = post_form(client, "/register", {}).get_data(as_text=True)
    for message in ("Enter your email address", "Enter your full name in English", "Enter a password"):
        assert message in page


def test_extra_posted_fields_are_ignored(client):
    response = post_form(
        client, "/register",
        {**GOOD, "role": "portal_admin", "email_confirmed_at": "2026-01-01", "department_id": "1",
         "is_active": "0"},
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User))
    assert user.role == Role.CITIZEN
    assert user.email_confirmed_at is None
    assert user.department_id is None
    assert user.is_active


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(client):
    response = client.post("/register", data=GOOD)
    assert response.status_code == 400
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert _users() == 0


def test_html_in_a_name_is_shown_escaped(client, create_user, sign_in):
    get_csrf(client, "/register")
    create_user("x@example.com", name_en="Chan", name_zh=None)
    user = db.session.scalar(select(User))
    user.address_street = "<script>alert(1)</script>"
    db.session.commit()
    sign_in(client, "x@example.com")
    page = client.get("/account").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

"""Staff reach staff pages only after a second factor (TOTP)."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select

from portal.extensions import db
from portal.identity.models import User, UserSession
from portal.testing.helpers import post_form
from portal.testing.plugin import DEFAULT_PASSWORD, current_totp


def test_staff_sign_in_asks_for_the_code_before_any_staff_page(client, create_staff):
    officer = create_staff()
    response = post_form(client, "/sign-in", {"email": officer.email, "password": DEFAULT_PASSWORD})
    assert response.headers["Location"] == "/sign-in/security-code"
    # Password alone is not a session.
    assert db.session.scalar(select(UserSession)) is None
    assert client.get("/staff/").status_code == 302

    response = post_form(client, "/sign-in/security-code", {"code": current_totp(officer.test_totp_secret)})
    assert response.headers["Location"] == "/staff/"
    page = client.get("/staff/").get_data(as_text=True)
    assert "Staff home" in page
    assert "Transport Department" in page
    row = db.session.scalar(select(UserSession))
    assert row.second_factor_at is not None


def test_a_wrong_code_is_refused_and_counted(client, create_staff):
    officer = create_staff()
    post_form(client, "/sign-in", {"email": officer.email, "password": DEFAULT_PASSWORD})
    response = post_form(client, "/sign-in/security-code", {"code": "000000"})
    assert "The security code is not right" in response.get_data(as_text=True)
    db.session.refresh(officer)
    assert officer.failed_sign_ins == 1
    page = post_form(client, "/sign-in/security-code", {"code": "12ab"}).get_data(as_text=True)
    assert "The security code must be 6 digits" in page


def test_a_code_cannot_be_used_twice(client, app, create_staff):
    officer = create_staff()
    code = current_totp(officer.test_totp_secret)
    post_form(client, "/sign-in", {"email": officer.email, "password": DEFAULT_PASSWORD})
    assert post_form(client, "/sign-in/security-code", {"code": code}).status_code == 302
    other = app.test_client()
    post_form(other, "/sign-in", {"email": officer.email, "password": DEFAULT_PASSWORD})
    response = post_form(other, "/sign-in/security-code", {"code": code})
    assert "The security code is not right" in response.get_data(as_text=True)


def test_new_staff_enrol_with_a_qr_code_at_first_sign_in(client, create_user, create_department):
    user = create_user("new.officer@example.com", role="officer", department=create_department())
    response = post_form(client, "/sign-in", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.headers["Location"] == "/sign-in/set-up-security-code"
    page = client.get("/sign-in/set-up-security-code").get_data(as_text=True)
    assert "<svg" in page
    secret = re.search(r'data-test="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    # Reloading shows the same secret until it is confirmed.
    assert secret.replace(" ", "") in client.get("/sign-in/set-up-security-code").get_data(as_text=True).replace(" ", "")

    bad = post_form(client, "/sign-in/set-up-security-code", {"code": "123456"})
    assert "The security code is not right" in bad.get_data(as_text=True)

    response = post_form(client, "/sign-in/set-up-security-code", {"code": pyotp.TOTP(secret).now()})
    assert response.headers["Location"] == "/staff/"
    db.session.refresh(user)
    assert user.totp_confirmed_at is not None
    assert secret not in (user.totp_secret_protected or "")


def test_a_citizen_gets_404_on_staff_pages(client, create_user, sign_in):
    create_user()
    sign_in(client)
    for url in ("/staff/", "/staff/admin/staff", "/staff/admin/staff/new"):
        assert client.get(url).status_code == 404


def test_an_officer_cannot_manage_staff(client, create_staff, sign_in_staff):
    officer = create_staff()
    sign_in_staff(client, officer)
    assert client.get("/staff/admin/staff").status_code == 403
    response = post_form(client, "/staff/admin/staff/new", {"email": "x@example.com"}, form_url="/staff/")
    assert response.status_code == 403
    assert db.session.scalar(select(User).where(User.email == "x@example.com")) is None


def test_portal_admin_creates_staff_who_get_an_invitation(client, create_staff, sign_in_staff, smtp_sink):
    admin = create_staff("admin@example.com", role="portal_admin", department_code=None)
    create_staff("someone@example.com")  # makes the TD department
    sign_in_staff(client, admin)
    td = db.session.scalar(select(User).where(User.email == "someone@example.com")).department_id
    response = post_form(client, "/staff/admin/staff/new", {
        "email": "new.supervisor@example.com", "name_en": "HO Wai Kit", "name_zh": "何偉傑",
        "role": "supervisor", "department": str(td),
    })
    assert response.status_code == 302
    person = db.session.scalar(select(User).where(User.email == "new.supervisor@example.com"))
    assert person.role == "supervisor"
    assert person.password_hash is None
    [message] = smtp_sink.wait_for("new.supervisor@example.com")
    assert "/invitation/" in message.get_body(("plain",)).get_content()


def test_department_roles_need_a_department(client, create_staff, sign_in_staff):
    admin = create_staff("admin@example.com", role="portal_admin", department_code=None)
    sign_in_staff(client, admin)
    page = post_form(client, "/staff/admin/staff/new", {
        "email": "x@example.com", "name_en": "HO Wai Kit", "role": "officer", "department": "",
    }).get_data(as_text=True)
    assert "Select the department this person works in" in page
    assert db.session.scalar(select(User).where(User.email == "x@example.com")) is None


def test_the_demo_officer_signs_in_with_the_published_secret(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "EMBEDDED", True)
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    response = post_form(client, "/sign-in", {"email": "officer.td@example.com", "password": "Demo-officer-2026"})
    assert response.headers["Location"] == "/sign-in/security-code"
    response = post_form(client, "/sign-in/security-code", {"code": current_totp("JBSWY3DPEHPK3PXP")})
    assert response.headers["Location"] == "/staff/"
    assert "Transport Department" in client.get("/staff/").get_data(as_text=True)

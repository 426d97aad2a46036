"""The ``portal`` command."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.identity.models import Department, User


def test_demo_loads_the_demo_accounts_once(app, monkeypatch):
    # The refusal outside the embedded default is tested below; here, what it loads.
    monkeypatch.setitem(app.config, "EMBEDDED", True)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "chan.taiman@example.com" in result.output
    assert "JBSWY3DPEHPK3PXP" in result.output
    again = runner.invoke(args=["demo"])
    assert "0 new records" in again.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 7
    # The second demo citizen's cases fill the TD back office: one of each usual state.
    from portal.applications.models import Application

    states = sorted(db.session.scalars(select(Application.state)
                                       .where(Application.department == "TD")))
    assert states == ["approved", "awaiting_information", "received", "received",
                      "received", "rejected"]
    roles = {u.email: (u.role, u.department.code if u.department else None)
             for u in db.session.scalars(select(User))}
    assert roles["supervisor.td@example.com"] == ("supervisor", "TD")
    assert roles["depadmin.td@example.com"] == ("department_admin", "TD")
    assert roles["officer.try@example.com"] == ("officer", "TRY")
    officer = db.session.scalar(select(User).where(User.email == "officer.td@example.com"))
    assert officer.department.code == "TD"
    assert officer.totp_confirmed_at is not None


def test_demo_refuses_a_database_other_than_the_embedded_default(app, monkeypatch):
    monkeypatch.setitem(app.config, "EMBEDDED", False)
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code != 0
    assert "only loaded into the embedded default" in result.output


def test_staff_create_invites_the_new_member(app, smtp_sink, create_department):
    create_department("TD")
    result = app.test_cli_runner().invoke(args=[
        "staff", "create", "--email", "Supervisor.TD@example.com", "--name", "CHEUNG Ka Fai",
        "--role", "supervisor", "--department", "td",
    ])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "supervisor.td@example.com"))
    assert user.role == "supervisor"
    assert user.department.code == "TD"
    [message] = smtp_sink.wait_for("supervisor.td@example.com")
    assert "/invitation/" in message.get_body(("plain",)).get_content()


def test_staff_create_with_a_password_prompt(app):
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--email", "pa@example.com", "--name", "WONG Siu Ming",
              "--role", "portal_admin", "--password"],
        input="Kowloon-Walled-City-93\nKowloon-Walled-City-93\n",
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.email == "pa@example.com")).password_hash


def test_staff_create_refuses_bad_input(app, create_department):
    runner = app.test_cli_runner()
    no_dept = runner.invoke(args=["staff", "create", "--email", "a@example.com", "--name", "A B",
                                  "--role", "officer"])
    assert no_dept.exit_code != 0
    unknown = runner.invoke(args=["staff", "create", "--email", "a@example.com", "--name", "A B",
                                  "--role", "officer", "--department", "XX"])
    assert "No department" in unknown.output
    weak = runner.invoke(args=["staff", "create", "--email", "a@example.com", "--name", "A B",
                               "--role", "portal_admin", "--password"], input="password1234\npassword1234\n")
    assert weak.exit_code != 0
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_departments_add_and_list(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["departments", "add", "lcsd", "--name-en",
                                 "Leisure and Cultural Services Department", "--name-zh", "康樂及文化事務署"])
    assert result.exit_code == 0
    assert db.session.scalar(select(Department)).code == "LCSD"
    assert "康樂及文化事務署" in runner.invoke(args=["departments", "list"]).output
    assert runner.invoke(args=["departments", "add", "LCSD", "--name-en", "x", "--name-zh", "y"]).exit_code != 0

"""Portal administrators manage departments and staff: every change checked, audited and
in force at once; nobody demotes themselves and the last administrator stays."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.applications.models import Application, ApplicationEvent
from portal.applications.util import new_reference
from portal.audit.models import AuditEvent
from portal.backoffice import admin
from portal.extensions import db
from portal.identity.models import Department, Role, User, UserSession
from portal.testing.helpers import csrf_token_from


def fill_in(client, url: str, data: dict, form_url: str | None = None):
    """Fill in the form as a browser does: its hidden fields (the CSRF token and what the
    page showed) come with the answers."""
    import html
    import re

    page = client.get(form_url or url).get_data(as_text=True)
    hidden = {name: html.unescape(value) for name, value in re.findall(
        r'<input[^>]*name="(\w+)"[^>]*type="hidden"[^>]*value="([^"]*)"', page)}
    hidden.update({name: html.unescape(value) for name, value in re.findall(
        r'<input[^>]*type="hidden"[^>]*name="(\w+)"[^>]*value="([^"]*)"', page)})
    return client.post(url, data={**hidden, **data})


def _events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _department(code: str) -> Department | None:
    db.session.expire_all()
    return db.session.scalar(select(Department).where(Department.code == code))


def _user(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


def _edit(client, person, role: str, department: Department | None):
    return fill_in(client, f"/staff/admin/staff/{person.id}/edit",
                     {"role": role, "department": str(department.id) if department else ""})


def _post_button(client, url: str, page_url: str):
    token = csrf_token_from(client.get(page_url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token})


@pytest.fixture
def portal_admin(staff_client):
    return staff_client("portal_admin", None)


# --- departments -------------------------------------------------------------------------


def test_an_administrator_adds_a_department(portal_admin):
    response = fill_in(portal_admin, "/staff/admin/departments/new", {
        "code": "fehd", "name_en": "Food and Environmental Hygiene Department",
        "name_zh": "食物環境衞生署"})
    assert response.status_code == 302
    department = _department("FEHD")
    assert department.name_zh == "食物環境衞生署"
    assert department.refund_approval_threshold == 100_000
    [event] = _events("department.created")
    assert event.department == "FEHD"
    assert event.actor_ref == portal_admin.user.id
    page = portal_admin.get("/staff/admin/departments").get_data(as_text=True)
    assert "Food and Environmental Hygiene Department" in page


@pytest.mark.parametrize(("fields", "message"), [
    ({"code": "T"}, "Enter a code of 2 to 8 letters, like TD"),
    ({"code": "TD1"}, "Enter a code of 2 to 8 letters, like TD"),
    ({"code": "ABCDEFGHI"}, "Answer must be 8 characters or fewer"),
    ({"code": "TD"}, "A department with this code already exists"),
    ({"name_en": ""}, "Enter the department&#39;s name in English"),
    ({"name_zh": ""}, "Enter the department&#39;s name in Chinese"),
    ({"name_zh": "署" * 101}, "Answer must be 100 characters or fewer"),
])
def test_a_department_with_bad_details_is_refused(portal_admin, create_department, fields,
                                                  message):
    create_department("TD")
    data = {"code": "LD", "name_en": "Labour Department", "name_zh": "勞工處", **fields}
    response = fill_in(portal_admin, "/staff/admin/departments/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error:" in page
    assert "govuk-error-summary" in page
    assert message in page
    assert _department("LD") is None
    assert _events("department.created") == []


def test_a_departments_code_is_fixed_once_it_has_staff(portal_admin, create_staff):
    officer = create_staff()
    department = officer.department
    url = f"/staff/admin/departments/{department.id}/edit"
    assert 'name="code"' not in portal_admin.get(url).get_data(as_text=True)
    response = fill_in(portal_admin, url, {"code": "XX", "name_en": "Transport Dept",
                                             "name_zh": "運輸署"})
    assert response.status_code == 302
    department = _department("TD")
    assert department.name_en == "Transport Dept"
    assert _department("XX") is None
    [event] = _events("department.updated")
    assert event.details == {"name_en": {"old": "Transport Department",
                                         "new": "Transport Dept"}}


def test_an_unused_departments_code_can_change(portal_admin, create_department):
    department = create_department("LD", "Labour Department", "勞工處")
    url = f"/staff/admin/departments/{department.id}/edit"
    response = fill_in(portal_admin, url, {"code": "LAB", "name_en": "Labour Department",
                                             "name_zh": "勞工處"})
    assert response.status_code == 302
    assert _department("LAB") is not None
    assert _events("department.updated")[0].details == {"code": {"old": "LD", "new": "LAB"}}


def test_a_department_changed_meanwhile_is_not_overwritten(portal_admin, create_department):
    department = create_department("LD", "Labour Department", "勞工處")
    url = f"/staff/admin/departments/{department.id}/edit"
    token = csrf_token_from(portal_admin.get(url).get_data(as_text=True))
    department.name_en = "Labour Dept"  # another administrator, after the form was shown
    db.session.commit()
    response = portal_admin.post(url, data={"csrf_token": token, "seen": "0" * 16,
                                            "code": "LD", "name_en": "Mine",
                                            "name_zh": "勞工處"})
    assert "Someone else changed this department meanwhile" in response.get_data(as_text=True)
    assert _department("LD").name_en == "Labour Dept"


# --- staff: roles ----------------------------------------------------------------------


def test_a_role_change_is_audited_and_counts_at_once(portal_admin, staff_client):
    officer = staff_client("officer")
    assert officer.get("/staff/reports").status_code == 403
    response = _edit(portal_admin, officer.user, "supervisor", officer.user.department)
    assert response.status_code == 302
    assert _user(officer.user.id).role == "supervisor"
    # the officer's own session, unchanged, now has the supervisor's permissions
    assert officer.get("/staff/reports").status_code == 200
    [event] = _events("staff.role_changed")
    assert event.department == "TD"
    assert event.target_id == str(officer.user.id)
    assert event.details == {"old_role": "officer", "new_role": "supervisor",
                             "old_department": "TD", "new_department": "TD",
                             "cases_returned": 0}
    # and back: the permission goes as soon as the role does
    _edit(portal_admin, officer.user, "officer", officer.user.department)
    assert officer.get("/staff/reports").status_code == 403


def test_moving_someone_to_another_department_returns_their_open_cases(
        portal_admin, staff_client, create_department, create_user):
    officer = staff_client("officer")
    citizen = create_user()
    immd = create_department("IMMD", "Immigration Department", "入境事務處")
    cases = [Application(reference=new_reference(), user_id=citizen.id, service="x",
                         department="TD", state=state, answers={}, locale="en",
                         assigned_to_id=officer.user.id)
             for state in ("received", "received")]
    db.session.add_all(cases)
    db.session.commit()
    response = _edit(portal_admin, officer.user, "officer", immd)
    assert response.status_code == 302
    db.session.expire_all()
    assert [db.session.get(Application, c.id).assigned_to_id for c in cases] == [None, None]
    returned = db.session.scalars(select(ApplicationEvent).where(
        ApplicationEvent.action == "assigned")).all()
    assert len(returned) == 2
    assert all(e.internal for e in returned)
    events = _events("staff.role_changed")
    assert sorted(e.department for e in events) == ["IMMD", "TD"]  # both departments see it
    assert events[0].details["cases_returned"] == 2
    assert officer.get("/staff/reports").status_code == 403


def test_a_department_role_needs_a_department(portal_admin, staff_client):
    officer = staff_client("officer")
    response = _edit(portal_admin, officer.user, "supervisor", None)
    page = response.get_data(as_text=True)
    assert "<title>Error:" in page
    assert "Select the department this person works in" in page
    assert _user(officer.user.id).role == "officer"


def test_a_portal_administrator_belongs_to_no_department(portal_admin, staff_client):
    officer = staff_client("department_admin")
    _edit(portal_admin, officer.user, "portal_admin", officer.user.department)
    person = _user(officer.user.id)
    assert (person.role, person.department_id) == ("portal_admin", None)


def test_nobody_changes_their_own_role_or_deactivates_themselves(portal_admin, staff_client):
    me = portal_admin.user
    page = portal_admin.get(f"/staff/admin/staff/{me.id}/edit").get_data(as_text=True)
    assert "You cannot change your own role" in page
    assert "Deactivate account" not in page
    response = _edit(portal_admin, me, "officer", staff_client("officer").user.department)
    assert "You cannot change your own role" in response.get_data(as_text=True)
    response = _post_button(portal_admin, f"/staff/admin/staff/{me.id}/deactivate", "/staff/")
    assert "You cannot change your own role or deactivate" in response.get_data(as_text=True)
    person = _user(me.id)
    assert (person.role, person.is_active) == ("portal_admin", True)
    assert _events("staff.role_changed") == _events("staff.deactivated") == []


def test_the_last_active_portal_administrator_stays_one(app, create_staff, create_department):
    """Two administrators removing each other at once: the second finds none would be left."""
    first = create_staff("first@example.com", role="portal_admin", department_code=None)
    second = create_staff("second@example.com", role="portal_admin", department_code=None)
    td = create_department("TD")
    admin.change_role(second, role=Role.OFFICER, department=td, by=first,
                      expected_role="portal_admin", expected_department_id=None)
    db.session.commit()
    # ``second`` acted on what it saw before the change above was committed
    with pytest.raises(admin.AdminRefused, match="last active portal administrator"):
        admin.change_role(first, role=Role.OFFICER, department=td, by=second,
                          expected_role="portal_admin", expected_department_id=None)
    db.session.rollback()
    with pytest.raises(admin.AdminRefused, match="last active portal administrator"):
        admin.set_active(first, False, by=second)
    db.session.rollback()
    assert _user(first.id).role == "portal_admin"
    assert _user(first.id).is_active


def test_a_role_changed_meanwhile_is_not_overwritten(portal_admin, staff_client):
    officer = staff_client("officer")
    url = f"/staff/admin/staff/{officer.user.id}/edit"
    token = csrf_token_from(portal_admin.get(url).get_data(as_text=True))
    db.session.get(User, officer.user.id).role = "supervisor"  # someone else, meanwhile
    db.session.commit()
    response = portal_admin.post(url, data={
        "csrf_token": token, "seen": f"officer:{officer.user.department_id}",
        "role": "department_admin", "department": str(officer.user.department_id)})
    assert response.status_code == 409
    assert "Someone else changed this account meanwhile" in response.get_data(as_text=True)
    assert _user(officer.user.id).role == "supervisor"


@pytest.mark.parametrize("seen", ["officer:abc", "officer:²", "officer:1e3"])
def test_an_altered_hidden_field_is_refused_not_a_500(portal_admin, staff_client, seen):
    officer = staff_client("officer")
    url = f"/staff/admin/staff/{officer.user.id}/edit"
    token = csrf_token_from(portal_admin.get(url).get_data(as_text=True))
    response = portal_admin.post(url, data={
        "csrf_token": token, "seen": seen, "role": "supervisor",
        "department": str(officer.user.department_id)})
    assert response.status_code == 400
    assert _user(officer.user.id).role == "officer"


# --- staff: deactivation -----------------------------------------------------------------


def test_deactivation_signs_the_person_out_and_reactivation_lets_them_back(
        portal_admin, staff_client):
    officer = staff_client("officer")
    person_id = officer.user.id
    edit = f"/staff/admin/staff/{person_id}/edit"
    response = _post_button(portal_admin, f"/staff/admin/staff/{person_id}/deactivate", edit)
    assert response.status_code == 302
    assert not _user(person_id).is_active
    assert db.session.scalars(select(UserSession).where(
        UserSession.user_id == person_id, UserSession.ended_at.is_(None))).all() == []
    assert officer.get("/staff/").status_code == 302  # to the sign-in page
    assert "Deactivated" in portal_admin.get("/staff/admin/staff").get_data(as_text=True)
    [event] = _events("staff.deactivated")
    assert (event.department, event.details) == ("TD", {"role": "officer",
                                                       "cases_returned": 0})
    _post_button(portal_admin, f"/staff/admin/staff/{person_id}/reactivate", edit)
    assert _user(person_id).is_active
    assert len(_events("staff.reactivated")) == 1


# --- who may ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["officer", "supervisor", "department_admin"])
def test_department_staff_may_not_administer_the_portal(staff_client, create_staff, role):
    client = staff_client(role)
    other = create_staff("other@example.com")
    department_id = other.department_id
    for url in ("/staff/admin/departments", "/staff/admin/departments/new",
                f"/staff/admin/departments/{department_id}/edit",
                f"/staff/admin/staff/{other.id}/edit"):
        assert client.get(url).status_code == 403, url
    response = _post_button(client, f"/staff/admin/staff/{other.id}/deactivate", "/staff/")
    assert response.status_code == 403
    assert _user(other.id).is_active


def test_citizens_do_not_find_the_administration(client, create_user, sign_in):
    create_user()
    sign_in(client)
    assert client.get("/staff/admin/departments").status_code == 404


def test_an_account_that_is_not_staff_or_missing_is_not_found(portal_admin, create_user):
    citizen = create_user()
    assert portal_admin.get(f"/staff/admin/staff/{citizen.id}/edit").status_code == 404
    assert portal_admin.get("/staff/admin/staff/999999/edit").status_code == 404
    assert portal_admin.get("/staff/admin/departments/999999/edit").status_code == 404

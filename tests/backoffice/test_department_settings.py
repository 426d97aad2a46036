"""Department administrators set the amount above which a refund needs a second person's
approval: typed in HK$, checked, audited, and only for their own department."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.identity.models import Department
from portal.testing.helpers import csrf_token_from
from tests.backoffice.test_admin import fill_in

URL = "/staff/department/settings"


def _threshold(code: str = "TD") -> int | None:
    db.session.expire_all()
    return db.session.scalar(select(Department.refund_approval_threshold)
                             .where(Department.code == code))


def _changes() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "department.settings_changed")))


@pytest.fixture
def department_admin(staff_client):
    return staff_client("department_admin")


def test_a_department_administrator_sets_the_threshold(department_admin, create_department):
    create_department("IMMD", "Immigration Department", "入境事務處")
    page = department_admin.get(URL).get_data(as_text=True)
    assert "Now refunds above HK$1,000.00 need approval." in page
    assert 'value="1000.00"' in page
    response = fill_in(department_admin, URL, {"threshold": "HK$2,500.5"})
    assert response.status_code == 302
    assert _threshold() == 250_050
    assert _threshold("IMMD") == 100_000  # another department's is its own
    [event] = _changes()
    assert (event.department, event.actor_ref) == ("TD", department_admin.user.id)
    assert event.details == {"setting": "refund_approval_threshold", "old": 100_000,
                             "new": 250_050}
    page = department_admin.get(URL).get_data(as_text=True)
    assert "Now refunds above HK$2,500.50 need approval." in page


def test_zero_means_every_refund_needs_approval(department_admin):
    fill_in(department_admin, URL, {"threshold": "0"})
    assert _threshold() == 0


def test_four_eyes_cannot_be_switched_off_from_the_department(department_admin, app,
                                                             monkeypatch):
    """Blank (never) is refused, and so is a threshold above the operator's ceiling."""
    response = fill_in(department_admin, URL, {"threshold": ""})
    assert "Enter the amount above which a refund needs approval" in response.get_data(
        as_text=True)
    monkeypatch.setitem(app.config, "REFUND_APPROVAL_THRESHOLD_MAX", 500_000)
    response = fill_in(department_admin, URL, {"threshold": "5000.01"})
    assert "Enter an amount of HK$5,000.00 or less" in response.get_data(as_text=True)
    assert _threshold() == 100_000
    fill_in(department_admin, URL, {"threshold": "5000"})
    assert _threshold() == 500_000


def test_a_department_without_a_threshold_is_warned(department_admin):
    db.session.scalar(select(Department).where(Department.code == "TD")) \
        .refund_approval_threshold = None
    db.session.commit()
    page = department_admin.get(URL).get_data(as_text=True)
    assert 'data-test="no-threshold"' in page


def test_saving_the_same_amount_changes_nothing(department_admin):
    fill_in(department_admin, URL, {"threshold": "1000"})
    assert _changes() == []


@pytest.mark.parametrize(("typed", "message"), [
    ("ten dollars", "Enter the amount as a number, like 1000.00"),
    ("-5", "Enter the amount as a number, like 1000.00"),
    ("10.123", "Enter the amount with no more than 2 decimal places"),
    ("10000.01", "Enter an amount of HK$10,000.00 or less"),
    ("1" * 21, "Answer must be 20 characters or fewer"),
])
def test_a_bad_amount_gets_an_error_and_changes_nothing(department_admin, typed, message):
    response = fill_in(department_admin, URL, {"threshold": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error:" in page
    assert "govuk-error-summary" in page
    assert message in page
    assert _threshold() == 100_000
    assert _changes() == []


def test_a_threshold_changed_meanwhile_is_not_overwritten(department_admin):
    token = csrf_token_from(department_admin.get(URL).get_data(as_text=True))
    db.session.scalar(select(Department).where(Department.code == "TD")) \
        .refund_approval_threshold = 50_000  # another administrator, meanwhile
    db.session.commit()
    response = department_admin.post(URL, data={"csrf_token": token, "seen": "1000.00",
                                                "threshold": "2000"})
    assert response.status_code == 409
    assert "Someone else changed the settings meanwhile" in response.get_data(as_text=True)
    assert _threshold() == 50_000


@pytest.mark.parametrize(("role", "department"), [
    ("officer", "TD"), ("supervisor", "TD"), ("portal_admin", None),
])
def test_only_department_administrators_change_settings(staff_client, role, department):
    client = staff_client(role, department)
    assert client.get(URL).status_code == 403
    token = csrf_token_from(client.get("/staff/").get_data(as_text=True))
    assert client.post(URL, data={"csrf_token": token, "threshold": ""}).status_code == 403
    assert _threshold() in (100_000, None)
    assert _changes() == []


def test_a_post_without_the_csrf_token_changes_nothing(department_admin):
    assert department_admin.post(URL, data={"threshold": ""}).status_code == 400
    assert _threshold() == 100_000

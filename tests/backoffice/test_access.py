"""One rule decides which staff may handle a case: ``may_handle_application``."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from portal.database import utcnow
from portal.identity.auth import may_handle_application

CASE = SimpleNamespace(department="TD")


def _signed_in(user, *, second_factor: bool = True):
    """``user`` as the session loader leaves it: with this session's row."""
    user.current_session = SimpleNamespace(
        second_factor_at=utcnow() if second_factor else None)
    return user


@pytest.mark.parametrize("role", ["officer", "supervisor", "department_admin"])
def test_staff_of_the_cases_department_may_handle_it(create_staff, role):
    user = _signed_in(create_staff(f"{role}@example.com", role=role))
    assert may_handle_application(user, CASE)


@pytest.mark.parametrize(("role", "department"), [
    ("officer", "IMMD"), ("supervisor", "IMMD"), ("department_admin", "IMMD"),
    ("portal_admin", None),
])
def test_staff_of_another_or_no_department_may_not(create_staff, role, department):
    user = _signed_in(create_staff(f"{role}@example.com", role=role,
                                   department_code=department))
    assert not may_handle_application(user, CASE)


def test_without_the_second_factor_not_even_the_departments_staff_may(create_staff):
    user = _signed_in(create_staff(), second_factor=False)
    assert not may_handle_application(user, CASE)
    user.current_session = None
    assert not may_handle_application(user, CASE)


def test_a_deactivated_member_of_staff_may_not(create_staff):
    user = _signed_in(create_staff())
    user.is_active = False
    assert not may_handle_application(user, CASE)


def test_citizens_and_people_signed_out_may_not(create_user):
    from flask_login import AnonymousUserMixin

    citizen = _signed_in(create_user())
    assert not may_handle_application(citizen, SimpleNamespace(department=None))
    assert not may_handle_application(citizen, CASE)
    assert not may_handle_application(AnonymousUserMixin(), CASE)
    assert not may_handle_application(None, CASE)

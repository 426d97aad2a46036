"""Every staff route against every role, in and out of the case's department.

``EXPECTED`` names, for each back-office endpoint, the roles that reach it; everyone else
is turned away (403 for staff without the permission, 404 for citizens, for a case of
another department, and for a portal administrator on a case; signed-out people are sent
to sign in). A route added without an entry here fails ``test_every_staff_route_is_listed``.
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from portal.applications.models import Application
from portal.extensions import db
from portal.identity.models import User
from portal.payments.models import Payment, Refund, RefundState
from portal.testing.helpers import csrf_token_from

OF, S, DA, PA = "officer", "supervisor", "department_admin", "portal_admin"
DEPARTMENT = frozenset({OF, S, DA})
ANY_STAFF = frozenset({OF, S, DA, PA})

#: endpoint -> (roles that reach it, whether it is about one case of a department).
EXPECTED: dict[str, tuple[frozenset[str], bool]] = {
    "backoffice.home": (ANY_STAFF, False),
    # portal administrators
    "backoffice.staff_list": (frozenset({PA}), False),
    "backoffice.staff_create": (frozenset({PA}), False),
    "backoffice.staff_edit": (frozenset({PA}), False),
    "backoffice.staff_deactivate": (frozenset({PA}), False),
    "backoffice.staff_reactivate": (frozenset({PA}), False),
    "backoffice.services": (frozenset({PA}), False),
    "backoffice.service_switch_on": (frozenset({PA}), False),
    "backoffice.departments": (frozenset({PA}), False),
    "backoffice.department_create": (frozenset({PA}), False),
    "backoffice.department_edit": (frozenset({PA}), False),
    # the department's work
    "backoffice.find_application": (ANY_STAFF, False),
    "backoffice.queue": (DEPARTMENT, False),
    "backoffice.bulk_assign": (frozenset({S, DA}), False),
    "backoffice.queue_csv": (frozenset({S, DA}), False),
    "backoffice.reports": (frozenset({S, DA}), False),
    "backoffice.audit_log": (frozenset({DA}), False),
    "backoffice.department_settings": (frozenset({DA}), False),
    "backoffice.refund_approvals": (frozenset({S, DA}), False),
    # one case (or its refund) of the department
    "backoffice.case": (DEPARTMENT, True),
    # a case is claimed by those it can be assigned to (officers and supervisors)
    "backoffice.case_claim": (frozenset({OF, S}), True),
    "backoffice.case_assign": (frozenset({S, DA}), True),
    "backoffice.case_action": (DEPARTMENT, True),
    "backoffice.case_note": (DEPARTMENT, True),
    "backoffice.case_message": (DEPARTMENT, True),
    "backoffice.application_payments": (DEPARTMENT, True),
    "backoffice.refund_form": (DEPARTMENT, True),
    "backoffice.confirm_refund": (DEPARTMENT, True),
    "backoffice.refund_decision": (frozenset({S, DA}), True),
}

#: Who is asking: a role and the department they belong to (None: signed out).
PRINCIPALS = {
    "signed out": (None, None),
    "citizen": ("citizen", None),
    "officer": (OF, "TD"),
    "supervisor": (S, "TD"),
    "department admin": (DA, "TD"),
    "portal admin": (PA, None),
    "officer elsewhere": (OF, "IMMD"),
    "supervisor elsewhere": (S, "IMMD"),
    "department admin elsewhere": (DA, "IMMD"),
}


def _staff_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/staff")]


def test_every_staff_route_is_listed(app):
    endpoints = {rule.endpoint for rule in _staff_rules(app)}
    assert endpoints - set(EXPECTED) == set(), "add the new staff routes to EXPECTED"
    assert set(EXPECTED) - endpoints == set(), "EXPECTED names routes that do not exist"
    assert all(rule.endpoint.startswith("backoffice.") for rule in _staff_rules(app))


@pytest.fixture
def world(paid, create_staff, create_department):
    """A paid TD case with a refund waiting for approval, and staff to point routes at."""
    create_department("IMMD", "Immigration Department", "入境事務處")
    application = db.session.get(Application, paid.application_id)
    asker = create_staff("asker@example.com", role=OF)
    refund = Refund(public_id=secrets.token_hex(16), payment_id=paid.id, amount=100,
                    reason="Charged twice", state=RefundState.NEEDS_APPROVAL,
                    requested_by_id=asker.id)
    db.session.add(refund)
    spare = create_staff("spare@example.com", role=OF)
    db.session.commit()
    payment = db.session.get(Payment, paid.id)
    return {
        "reference": application.reference,
        "payment_id": payment.public_id,
        "public_id": refund.public_id,
        "action": "approve",
        "user_id": spare.id,
        "department_id": spare.department_id,
        "entry_point": "licence_renewal",
    }


def _url(app, rule, values):
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})


def _outcome_ok(status: int, location: str, allowed: bool, principal: tuple, case: bool,
                method: str, url: str, has_role: bool) -> str | None:
    role, department = principal
    if role is None:
        # Sent to sign in; a POST has no CSRF token without a session, and stops there.
        ok = (status == 302 and "/sign-in" in location) or (method == "POST" and status == 400)
        return None if ok else f"{method} {url}: signed out got {status} {location}"
    if status >= 500:
        return f"{method} {url}: {role}@{department} got {status}"
    if allowed:
        refused = status in (403, 404, 405) or (status == 302 and "/sign-in" in location)
        return f"{method} {url}: {role}@{department} refused ({status})" if refused else None
    if role == "citizen" or (case and department not in (None, "TD") and has_role):
        # Another department's case looks missing to those who could handle one like it;
        # without the permission at all, 403 says nothing about the case either.
        expected = {404}
    else:
        expected = {403, 404}
    return None if status in expected else (
        f"{method} {url}: {role}@{department} got {status}, expected {sorted(expected)}")


@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_each_staff_route_admits_exactly_the_roles_it_names(
        who, app, world, client, create_staff, create_user, sign_in, sign_in_staff,
        monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_RATE_LIMIT", "100 per minute")
    role, department = PRINCIPALS[who]
    browser = app.test_client()
    if role == "citizen":
        create_user("someone@example.com")
        sign_in(browser, "someone@example.com")
    elif role is not None:
        user = create_staff(f"{role}.{department}@example.com".lower(), role=role,
                            department_code=department)
        sign_in_staff(browser, user)
    page = browser.get("/staff/" if role not in (None, "citizen") else "/")
    token = csrf_token_from(page.get_data(as_text=True)) if role is not None else ""

    problems = []
    for rule in sorted(_staff_rules(app), key=lambda r: r.rule):
        roles, case = EXPECTED[rule.endpoint]
        allowed = role in roles and (not case or department == "TD")
        url = _url(app, rule, world)
        for method in sorted(rule.methods & {"GET", "POST"}):
            if method == "GET":
                response = browser.get(url)
            else:
                response = browser.post(url, data={"csrf_token": token})
            problem = _outcome_ok(response.status_code, response.headers.get("Location", ""),
                                  allowed, (role, department), case, method, url,
                                  role in roles)
            if problem:
                problems.append(problem)
            db.session.rollback()
    assert problems == []


def test_a_role_change_takes_effect_on_the_next_request(app, world, create_staff,
                                                        sign_in_staff, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_RATE_LIMIT", "100 per minute")
    user = create_staff("rising@example.com", role=OF)
    browser = app.test_client()
    sign_in_staff(browser, user)
    assert browser.get("/staff/reports").status_code == 403
    db.session.get(User, user.id).role = S
    db.session.commit()
    assert browser.get("/staff/reports").status_code == 200
    row = db.session.scalar(select(User).where(User.id == user.id))
    row.is_active = False
    db.session.commit()
    assert browser.get("/staff/queue").status_code == 302  # signed out: sessions end

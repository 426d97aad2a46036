"""The events the existing staff routes write: sign-in, staff created, refunds, the
payments page and receipt downloads by staff; none carries a secret."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from portal.audit import log as audit
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.identity.models import Department, User
from portal.payments import ledger, refunds
from portal.payments.models import Payment
from portal.testing.helpers import post_form
from portal.testing.plugin import DEFAULT_PASSWORD
from tests.payments.conftest import (  # noqa: F401 - fixtures
    _receipts_without_weasyprint,
    awaiting_payment,
    permit_service,
    provider,
)
from tests.payments.test_ledger import _pay
from tests.receipts.conftest import issue_for, make_payment, receipts_folder  # noqa: F401


def _events(action: str | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def _assert_no_secret_in(rows: list[AuditEvent], *secrets: str) -> None:
    text = json.dumps([row.details for row in rows])
    for secret in secrets:
        assert secret not in text


def test_staff_sign_in_is_recorded_after_the_second_factor(client, create_staff,
                                                         sign_in_staff):
    officer = create_staff()
    sign_in_staff(client, officer)
    [event] = _events("auth.sign_in")
    assert (event.actor_id, event.actor_role, event.department) == (officer.id, "officer", "TD")
    assert event.details == {"second_factor": True}
    assert event.ip == "127.0.0.1"
    assert event.request_id
    assert event.request_id != "-"
    _assert_no_secret_in(_events(), DEFAULT_PASSWORD, officer.test_totp_secret)
    assert audit.verify().ok


def test_a_wrong_second_factor_is_recorded_as_a_failure(client, create_staff):
    officer = create_staff()
    post_form(client, "/sign-in", {"email": officer.email, "password": DEFAULT_PASSWORD})
    response = post_form(client, "/sign-in/security-code", {"code": "000000"})
    assert response.status_code == 200
    [event] = _events("auth.sign_in_failed")
    assert event.actor_id == officer.id
    assert event.details == {"step": "second_factor"}
    assert _events("auth.sign_in") == []
    _assert_no_secret_in(_events(), "000000", DEFAULT_PASSWORD)
    assert audit.verify().ok


def test_citizen_sign_in_writes_nothing(client, create_user, sign_in):
    create_user()
    sign_in(client)
    assert _events() == []


def test_staff_created_in_the_back_office(client, create_staff, create_department,
                                          sign_in_staff):
    admin = create_staff("admin@example.com", role="portal_admin", department_code=None)
    department = create_department("TD")
    sign_in_staff(client, admin)
    response = post_form(client, "/staff/admin/staff/new", {
        "email": "new.officer@example.com", "name_en": "CHAN Tai Man", "name_zh": "",
        "role": "officer", "department": str(department.id),
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    created = db.session.scalar(select(User).where(User.email == "new.officer@example.com"))
    [event] = _events("staff.created")
    assert (event.actor_id, event.target_type, event.target_id) == (
        admin.id, "users", str(created.id))
    assert (event.department, event.details) == ("TD", {"role": "officer"})


def test_staff_created_with_the_cli(app, create_department):
    create_department("TD")
    result = app.test_cli_runner().invoke(args=[
        "staff", "create", "--email", "sup@example.com", "--name", "CHEUNG Ka Fai",
        "--role", "supervisor", "--department", "td"])
    assert result.exit_code == 0, result.output
    [event] = _events("staff.created")
    assert event.actor_id is None
    assert event.department == "TD"
    assert event.details == {"role": "supervisor", "via": "cli"}
    assert db.session.scalar(select(Department).where(Department.code == "TD"))


@pytest.fixture
def paid(client, provider, awaiting_payment) -> Payment:  # noqa: F811
    _pay(client, awaiting_payment)
    provider.status = "succeeded"
    payment = db.session.scalar(select(Payment))
    ledger.settle(payment)
    return payment


def test_a_refund_records_its_request_and_its_outcome(paid, create_staff):
    officer = create_staff()
    row = refunds.refund(paid, 2_500, "Charged twice", officer)
    requested, succeeded = _events("refund.requested"), _events("refund.succeeded")
    assert [e.target_id for e in requested] == [row.public_id]
    assert requested[0].actor_id == officer.id
    assert requested[0].details == {"amount": 2_500, "payment": paid.public_id}
    assert [e.target_id for e in succeeded] == [row.public_id]
    assert succeeded[0].actor_id is None
    assert requested[0].id < succeeded[0].id
    assert audit.verify().ok


def test_a_refused_refund_records_the_failure(paid, provider, create_staff):  # noqa: F811
    provider.refund_status = "failed"
    row = refunds.refund(paid, 1_000, "Overcharged", create_staff())
    assert [e.target_id for e in _events("refund.failed")] == [row.public_id]
    assert _events("refund.succeeded") == []


def test_a_refund_refused_before_reserving_leaves_no_event(paid, create_staff):
    with pytest.raises(refunds.MoreThanRemains):
        refunds.refund(paid, paid.amount + 1, "Too much", create_staff())
    assert _events("refund.requested") == []
    assert audit.verify().ok


def test_the_payments_page_viewed_by_staff(client, paid, create_staff, sign_in_staff):
    officer = create_staff()
    staff_client = client.application.test_client()  # ``client`` is the citizen's
    sign_in_staff(staff_client, officer)
    reference = paid.application.reference
    assert staff_client.get(f"/staff/applications/{reference}/payments").status_code == 200
    [event] = _events("case.payments_viewed")
    assert (event.actor_id, event.target_type, event.target_id, event.department) == (
        officer.id, "applications", reference, paid.application.department)


def test_a_receipt_downloaded_by_staff_is_recorded(client, create_staff, sign_in_staff,
                                                   make_payment, issue_for):  # noqa: F811
    receipt = issue_for(make_payment())
    url = (f"/applications/{receipt.payment.application.reference}/receipts/"
           f"{receipt.public_id}.pdf")
    officer = create_staff(department_code="TD")
    sign_in_staff(client, officer)
    assert client.get(url).status_code == 200
    [event] = _events("receipt.downloaded")
    assert (event.actor_id, event.target_id, event.department) == (
        officer.id, receipt.public_id, "TD")
    assert event.details["number"] == receipt.number


def test_a_receipt_downloaded_by_its_citizen_is_not(
        client, sign_in, make_payment, issue_for):  # noqa: F811
    receipt = issue_for(make_payment())
    sign_in(client)
    url = (f"/applications/{receipt.payment.application.reference}/receipts/"
           f"{receipt.public_id}.pdf")
    assert client.get(url).status_code == 200
    assert _events("receipt.downloaded") == []

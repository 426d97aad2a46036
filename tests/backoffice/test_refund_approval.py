"""Four eyes: a refund above its department's threshold is kept aside until someone else
of the department, with the right to approve, approves it (then it is sent once) or
declines it (then its amount is free again). The one who asked never decides."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.applications.models import ApplicationEvent
from portal.audit.models import AuditEvent
from portal.database import utcnow
from portal.extensions import db
from portal.identity.models import Department
from portal.notifications.models import OutboxEmail
from portal.payments import refunds
from portal.payments.models import Payment, Refund
from portal.payments.tasks import reconcile_refunds
from portal.testing.helpers import csrf_token_from
from tests.backoffice.test_refund_pages import _ask, _confirm, _payments_url
from tests.payments.test_refunds import credit_notes

APPROVALS = "/staff/refunds/approvals"


def _decision_url(row: Refund) -> str:
    return f"/staff/refunds/{row.public_id}/decision"


@pytest.fixture
def set_threshold(create_department):
    """``set_threshold(cents)``: the department's threshold (None: never)."""

    def set_to(cents: int | None) -> None:
        create_department("TD")
        db.session.execute(update(Department).where(Department.code == "TD")
                           .values(refund_approval_threshold=cents))
        db.session.commit()

    return set_to


def _the_refund() -> Refund:
    db.session.expire_all()
    return db.session.scalar(select(Refund).order_by(Refund.id.desc()))


def _emails_to(user_id: int) -> list[OutboxEmail]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxEmail).where(
        OutboxEmail.user_id == user_id, OutboxEmail.kind == "backoffice/refund_decided")))


def _refunded(payment: Payment) -> int:
    db.session.expire_all()
    return db.session.get(Payment, payment.id).refunded_amount


def _audited(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _request(client, paid, amount: str, reason: str = "Charged twice"):
    """Ask for a refund through the pages; returns the response to the confirmation."""
    return _confirm(client, paid, _ask(client, paid, amount, reason).get_data(as_text=True))


def _decide(client, row: Refund, decision: str | None, reason: str = ""):
    token = csrf_token_from(client.get(_decision_url(row)).get_data(as_text=True))
    data = {"csrf_token": token, "decline_reason": reason}
    if decision is not None:
        data["decision"] = decision
    return client.post(_decision_url(row), data=data)


def _followed(client, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.fixture
def waiting(staff_client, paid, set_threshold):
    """An officer asked for HK$80.00 of the HK$100 payment, over a HK$50 threshold."""
    set_threshold(5_000)
    officer = staff_client()
    assert _request(officer, paid, "80", "Charged for a copy not sent").status_code == 302
    row = _the_refund()
    assert row.state == "needs_approval"
    return row


# --- asking ------------------------------------------------------------------------------


@pytest.mark.parametrize(("threshold", "amount"), [(5_000, "50.00"), (None, "100")])
def test_at_or_below_the_threshold_or_with_none_the_refund_is_sent_at_once(
        staff_client, paid, provider, set_threshold, threshold, amount):
    set_threshold(threshold)
    officer = staff_client()
    page = _followed(officer, _request(officer, paid, amount))
    assert "was refunded to CHAN Tai Man" in page
    assert _the_refund().state == "succeeded"
    assert len(provider.refunds) == 1
    assert _audited("refund.sent_for_approval") == []


def test_above_the_threshold_the_refund_is_reserved_and_waits_for_approval(
        staff_client, paid, provider, set_threshold):
    set_threshold(5_000)
    officer = staff_client()
    page = _followed(officer, _request(officer, paid, "50.01"))
    assert "Sent for approval: a supervisor must approve refunds over HK$50.00" in page
    assert "Waiting for approval" in page
    assert "of which HK$50.01 is waiting for approval" in page
    assert "Approve or decline" not in page  # an officer does not decide
    row = _the_refund()
    assert (row.state, row.amount, row.decided_by_id) == ("needs_approval", 5_001, None)
    assert provider.refunds == []
    assert credit_notes() == []
    assert _refunded(paid) == 5_001  # reserved: nobody can over-refund meanwhile
    with pytest.raises(refunds.MoreThanRemains):
        refunds.refund(db.session.get(Payment, paid.id), 5_000, "Too much", officer.user)
    [sent] = _audited("refund.sent_for_approval")
    assert (sent.actor_id, sent.target_id, sent.department) == (
        officer.user.id, row.public_id, "TD")
    assert sent.details == {"amount": 5_001, "payment": paid.public_id, "threshold": 5_000}
    assert len(_audited("refund.requested")) == 1


def test_parts_under_the_threshold_need_approval_once_their_total_is_above_it(
        staff_client, paid, provider, set_threshold):
    """Four eyes cannot be dodged by splitting: HK$40 + HK$40 over a HK$50 threshold."""
    set_threshold(5_000)
    officer = staff_client()
    _followed(officer, _request(officer, paid, "40"))
    assert _the_refund().state == "succeeded"
    page = _followed(officer, _request(officer, paid, "40"))
    assert "Sent for approval" in page
    assert _the_refund().state == "needs_approval"
    assert len(provider.refunds) == 1
    assert _refunded(paid) == 8_000  # the second part is reserved all the same


def test_reconciliation_leaves_a_refund_waiting_for_approval_alone(waiting, provider):
    db.session.execute(update(Refund).where(Refund.id == waiting.id)
                       .values(created_at=utcnow() - timedelta(days=2),
                               updated_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    assert reconcile_refunds().checked == 0
    assert _the_refund().state == "needs_approval"
    assert provider.refunds == []


# --- approving and declining ---------------------------------------------------------------


def test_a_supervisor_sees_the_waiting_refunds_and_approves_one_sent_once(
        staff_client, paid, waiting, provider):
    supervisor = staff_client("supervisor")
    listing = supervisor.get(APPROVALS)
    page = listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert listing.headers["Cache-Control"] == "no-store"
    for shown in (paid.application.reference, "CHAN Tai Man", "HK$80.00",
                  "Charged for a copy not sent", _decision_url(waiting)):
        assert shown in page
    payments_page = supervisor.get(_payments_url(paid.application)).get_data(as_text=True)
    assert _decision_url(waiting) in payments_page
    done = _decide(supervisor, waiting, "approve")
    assert done.headers["Location"] == APPROVALS
    banner = _followed(supervisor, done)
    assert "You approved the refund: HK$80.00 was refunded to CHAN Tai Man" in banner
    assert "No refunds are waiting for approval." in banner
    row = _the_refund()
    assert (row.state, row.decided_by_id) == ("succeeded", supervisor.user.id)
    assert row.decided_at is not None
    assert provider.refunds == [("fake-1", 8_000, row.public_id)]
    assert credit_notes() == [row.id]
    assert _refunded(paid) == 8_000
    [approved] = _audited("refund.approved")
    assert (approved.actor_id, approved.target_id) == (supervisor.user.id, row.public_id)
    assert approved.details["requested_by"] == waiting.requested_by_id
    assert _audited("refund.decision_viewed")
    # The officer who asked is told, in their language.
    [told] = _emails_to(waiting.requested_by_id)
    assert told.subject == (f"Your refund of HK$80.00 for application "
                            f"{paid.application.reference} was approved")
    assert "approved the refund of HK$80.00" in told.body_text
    # The same decision posted again is told plainly, and nothing is sent twice.
    again = _followed(supervisor, _decide(supervisor, row, "approve"))
    assert "This refund was already approved by" in again
    assert len(provider.refunds) == 1


def test_declining_releases_the_amount_once_so_someone_else_can_refund_it_all(
        staff_client, paid, waiting, provider):
    supervisor = staff_client("supervisor")
    banner = _followed(supervisor, _decide(supervisor, waiting, "decline",
                                           "<b>Copy was sent</b> after all"))
    assert "You declined the refund of HK$80.00 to CHAN Tai Man" in banner
    row = _the_refund()
    assert (row.state, row.decided_by_id) == ("declined", supervisor.user.id)
    assert row.decline_reason == "<b>Copy was sent</b> after all"
    assert _refunded(paid) == 0
    assert provider.refunds == []
    [event] = db.session.scalars(select(ApplicationEvent).where(
        ApplicationEvent.action == refunds.DECLINED_ACTION)).all()
    assert event.internal  # staff only
    assert (event.actor_id, event.note) == (
        supervisor.user.id, "HK$80.00: <b>Copy was sent</b> after all")
    [declined] = _audited("refund.declined")
    assert declined.actor_id == supervisor.user.id
    assert "Copy was sent" not in str(declined.details)  # free text stays out of the log
    [told] = _emails_to(waiting.requested_by_id)
    assert told.subject.endswith("was declined")
    assert "Their reason: <b>Copy was sent</b> after all" in told.body_text
    assert "&lt;b&gt;Copy was sent&lt;/b&gt;" in told.body_html
    listing = supervisor.get(_payments_url(paid.application)).get_data(as_text=True)
    assert "Declined" in listing
    assert "&lt;b&gt;Copy was sent&lt;/b&gt; after all" in listing
    assert "<b>Copy was sent</b>" not in listing
    # Declined again (a replay): nothing is released twice.
    assert "already declined by" in _followed(supervisor, _decide(supervisor, row, "decline",
                                                                  "Again"))
    assert _refunded(paid) == 0
    # The whole payment can now be refunded, by someone else, with another's approval.
    assert _followed(supervisor, _request(supervisor, paid, "100")).count("Sent for approval")
    admin = staff_client("department_admin")
    _decide(admin, _the_refund(), "approve")
    assert _the_refund().state == "succeeded"
    assert _refunded(paid) == 10_000


def test_the_one_who_asked_never_decides_even_a_supervisor(
        staff_client, paid, provider, set_threshold):
    set_threshold(5_000)
    supervisor = staff_client("supervisor")
    assert _request(supervisor, paid, "60").status_code == 302
    row = _the_refund()
    assert row.state == "needs_approval"  # asked by a supervisor, still waits
    listing = supervisor.get(APPROVALS).get_data(as_text=True)
    assert "You asked for this one" in listing
    assert _decision_url(row) not in listing
    message = "You asked for this refund, so someone else must approve or decline it."
    page = supervisor.get(_decision_url(row)).get_data(as_text=True)
    assert message in page
    assert 'name="decision"' not in page
    token = csrf_token_from(page)
    for decision in ("approve", "decline"):
        refused = supervisor.post(_decision_url(row), data={
            "csrf_token": token, "decision": decision, "decline_reason": "Mine"})
        assert refused.status_code == 403
        assert message in refused.get_data(as_text=True)
    # The domain refuses it too, whatever the page does.
    with pytest.raises(refunds.OwnRefund):
        refunds.approve_refund(_the_refund(), supervisor.user)
    with pytest.raises(refunds.OwnRefund):
        refunds.decline_refund(_the_refund(), supervisor.user, "Mine")
    assert _the_refund().state == "needs_approval"
    assert provider.refunds == []
    assert _audited("refund.approved") == _audited("refund.declined") == []


def test_a_decision_in_bad_form_gets_an_error_and_changes_nothing(
        staff_client, paid, waiting, provider):
    supervisor = staff_client("supervisor")
    for decision, reason, message in [
        (None, "", "Select whether to approve or decline the refund"),
        ("approved", "", "Select whether to approve or decline the refund"),
        ("decline", "", "Enter the reason for declining the refund"),
        ("decline", "   ", "Enter the reason for declining the refund"),
        ("decline", "x" * 501, "Answer must be 500 characters or fewer"),
        ("decline", "bad\x00reason", "Remove the special characters from this answer"),
    ]:
        response = _decide(supervisor, waiting, decision, reason)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, decision
        assert "govuk-error-summary" in page
        assert "<title>Error:" in page
        assert message in page, (decision, reason)
    assert supervisor.post(_decision_url(waiting), data={"decision": "approve"}
                           ).status_code == 400  # no CSRF token
    assert _the_refund().state == "needs_approval"
    assert _refunded(paid) == 8_000
    assert provider.refunds == []
    with pytest.raises(ValueError, match="reason"):
        refunds.decline_refund(_the_refund(), supervisor.user, " ")


def test_two_deciding_one_after_the_other_the_second_is_told_plainly(
        staff_client, paid, waiting, provider):
    supervisor, admin = staff_client("supervisor"), staff_client("department_admin")
    # Both opened the decision page; the supervisor approves first.
    admin_token = csrf_token_from(admin.get(_decision_url(waiting)).get_data(as_text=True))
    _decide(supervisor, waiting, "approve")
    late = admin.post(_decision_url(waiting), data={
        "csrf_token": admin_token, "decision": "decline", "decline_reason": "No"})
    name = supervisor.user.display_name("en")
    assert f"This refund was already approved by {name}." in _followed(admin, late)
    row = _the_refund()
    assert (row.state, row.decided_by_id) == ("succeeded", supervisor.user.id)
    assert _refunded(paid) == 8_000
    assert len(provider.refunds) == 1


def test_two_deciding_at_once_one_wins(app, create_staff, paid, waiting, provider):
    """An approval and a decline at the same moment: exactly one happens."""
    deciders = [create_staff("one@example.com", role="supervisor").id,
                create_staff("two@example.com", role="department_admin").id]
    refund_id, payment_id = waiting.id, paid.id
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(user_id: int, approve: bool) -> None:
        from portal.identity.models import User

        with app.app_context():
            try:
                row = db.session.get(Refund, refund_id)
                staff = db.session.get(User, user_id)
                _ = row.payment.application, staff.department
                db.session.commit()
                barrier.wait()
                if approve:
                    outcomes.append(refunds.approve_refund(row, staff).state)
                else:
                    outcomes.append(refunds.decline_refund(row, staff, "No").state)
            except refunds.AlreadyDecided:
                outcomes.append("already decided")
            except Exception as exc:  # noqa: BLE001 - recorded and checked below
                outcomes.append(f"error: {exc!r}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=decide, args=(deciders[0], True)),
               threading.Thread(target=decide, args=(deciders[1], False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "already decided" in outcomes, outcomes
    [won] = [outcome for outcome in outcomes if outcome != "already decided"]
    row = _the_refund()
    assert won == row.state
    refunded = db.session.get(Payment, payment_id).refunded_amount
    if won == "succeeded":
        assert (len(provider.refunds), refunded) == (1, 8_000)
    else:
        assert (won, provider.refunds, refunded) == ("declined", [], 0)
    assert len(_audited("refund.approved")) + len(_audited("refund.declined")) == 1


# --- who may decide --------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "department"), [("officer", "TD"), ("portal_admin", None)])
def test_staff_without_the_right_to_approve_get_403(
        app, create_staff, sign_in_staff, waiting, role, department):
    other = app.test_client()
    sign_in_staff(other, create_staff("another@example.com", role=role,
                                      department_code=department))
    assert other.get(APPROVALS).status_code == 403
    assert other.get(_decision_url(waiting)).status_code == 403
    token = csrf_token_from(other.get("/staff/").get_data(as_text=True))
    assert other.post(_decision_url(waiting), data={
        "csrf_token": token, "decision": "approve"}).status_code == 403
    assert _the_refund().state == "needs_approval"


def test_another_departments_refund_is_not_found(
        staff_client, create_department, paid, waiting, provider):
    create_department("IMMD", "Immigration Department", "入境事務處")
    other = staff_client("supervisor", "IMMD")
    assert "No refunds are waiting for approval." in other.get(APPROVALS).get_data(
        as_text=True)
    assert other.get(_decision_url(waiting)).status_code == 404
    assert other.get(f"/staff/refunds/{'0' * 32}/decision").status_code == 404
    assert other.get("/staff/refunds/not-an-id/decision").status_code == 404
    token = csrf_token_from(other.get(APPROVALS).get_data(as_text=True))
    assert other.post(_decision_url(waiting), data={
        "csrf_token": token, "decision": "approve"}).status_code == 404
    with pytest.raises(refunds.NotYourDecision):
        refunds.approve_refund(_the_refund(), other.user)
    assert _the_refund().state == "needs_approval"
    assert provider.refunds == []


def test_a_refund_that_never_waited_has_no_decision_page(staff_client, paid):
    officer = staff_client()
    _request(officer, paid, "10")
    assert staff_client("supervisor").get(_decision_url(_the_refund())).status_code == 404


def test_the_approval_pages_come_in_chinese(staff_client, waiting):
    supervisor = staff_client("supervisor")
    supervisor.get("/language/zh-hk")
    for url in (APPROVALS, _decision_url(waiting)):
        page = supervisor.get(url).get_data(as_text=True)
        assert 'lang="zh-HK"' in page
        assert "陳大文" in page  # the applicant's Chinese name

"""Staff find an application, see its payments and refund one: only staff of its
department, with an amount and a reason checked, after a confirmation."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select, update

from portal.applications.util import new_reference
from portal.extensions import db
from portal.payments.models import Payment, Refund
from portal.testing.helpers import csrf_token_from
from tests.payments.test_refunds import credit_notes


def _payments_url(application) -> str:
    return f"/staff/applications/{application.reference}/payments"


def _refund_url(application, payment) -> str:
    return f"{_payments_url(application)}/{payment.public_id}/refund"


def _refund_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Refund))


def _refunded(payment) -> int:
    db.session.expire_all()
    return db.session.get(Payment, payment.id).refunded_amount


def _ask(officer, paid, amount: str, reason: str = "Charged twice"):
    """Fill in the refund form; returns the response (the confirmation when valid)."""
    url = _refund_url(paid.application, paid)
    token = csrf_token_from(officer.get(url).get_data(as_text=True))
    return officer.post(url, data={"csrf_token": token, "amount": amount, "reason": reason})


def _confirm(officer, paid, page: str, **changes):
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    fields.update(re.findall(r'<input id="(nonce)" name="nonce" type="hidden" value="([^"]*)"',
                             page))
    fields = {name: html.unescape(value) for name, value in fields.items()}
    fields.update(changes)
    return officer.post(f"{_refund_url(paid.application, paid)}/confirm", data=fields)


# --- finding an application ---------------------------------------------------------


def test_staff_home_offers_to_find_an_application(staff_client):
    officer = staff_client()
    page = officer.get("/staff/").get_data(as_text=True)
    assert 'action="/staff/applications/find"' in page
    assert "Find an application" in page


@pytest.mark.parametrize("typed", ["{ref}", "{lower}", "{compact}", "  {spaced}  "])
def test_a_reference_is_found_however_it_is_typed(staff_client, paid, typed):
    reference = paid.application.reference
    query = typed.format(ref=reference, lower=reference.lower(),
                         compact=reference.replace("-", ""),
                         spaced=reference.replace("-", " "))
    response = staff_client().get("/staff/applications/find", query_string={"reference": query})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/staff/cases/{reference}"


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Enter the application reference"),
    ("not a reference", "Enter the reference as it is written, like K7MX-4P9Q-R"),
    ("K7MX-4P9Q-A", "Enter the reference as it is written, like K7MX-4P9Q-R"),
])
def test_a_reference_in_the_wrong_form_gets_an_error(staff_client, typed, message):
    response = staff_client().get("/staff/applications/find", query_string={"reference": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "govuk-error-summary" in page
    assert "<title>Error:" in page
    assert message in page


def test_another_departments_application_is_not_found_like_a_missing_one(
        staff_client, paid, create_department):
    create_department("IMMD", "Immigration Department", "入境事務處")
    other = staff_client("officer", "IMMD")
    theirs = other.get("/staff/applications/find",
                       query_string={"reference": paid.application.reference})
    missing = other.get("/staff/applications/find", query_string={"reference": new_reference()})
    message = "No application of your department has this reference"
    assert message in theirs.get_data(as_text=True)
    assert message in missing.get_data(as_text=True)


# --- who may see the payments ---------------------------------------------------------


@pytest.mark.parametrize("role", ["officer", "supervisor", "department_admin"])
def test_staff_of_the_department_see_the_payments(staff_client, paid, role):
    response = staff_client(role).get(_payments_url(paid.application))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert paid.application.reference in page
    assert "CHAN Tai Man" in page
    assert "HK$100.00" in page
    assert _refund_url(paid.application, paid) in page


@pytest.mark.parametrize(("role", "department"), [
    ("officer", "IMMD"), ("supervisor", "IMMD"), ("department_admin", "IMMD"),
    ("portal_admin", None),
])
def test_anyone_else_on_staff_gets_the_same_404_as_a_missing_reference(
        staff_client, paid, create_department, role, department):
    if department:
        create_department(department, "Immigration Department", "入境事務處")
    other = staff_client(role, department)
    application = paid.application
    assert other.get(_payments_url(application)).status_code == 404
    assert other.get(f"/staff/applications/{new_reference()}/payments").status_code == 404
    assert other.get(_refund_url(application, paid)).status_code == 404
    page = other.get("/staff/").get_data(as_text=True)
    token = csrf_token_from(page)
    response = other.post(f"{_refund_url(application, paid)}/confirm",
                          data={"csrf_token": token, "amount": "10.00", "reason": "x",
                                "nonce": "c" * 32})
    assert response.status_code == 404
    assert _refund_count() == 0


def test_a_citizen_gets_404_even_for_their_own_application(client, paid):
    assert client.get(_payments_url(paid.application)).status_code == 404
    assert client.get(_refund_url(paid.application, paid)).status_code == 404


def test_signed_out_people_are_sent_to_sign_in(app, paid):
    response = app.test_client().get(_payments_url(paid.application))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_a_payment_of_another_application_is_not_found(staff_client, paid):
    officer = staff_client()
    url = f"{_payments_url(paid.application)}/{'0' * 32}/refund"
    assert officer.get(url).status_code == 404


def test_the_reference_in_the_address_is_forgiven_and_made_canonical(staff_client, paid):
    reference = paid.application.reference
    response = staff_client().get(f"/staff/applications/{reference.lower()}/payments")
    assert response.status_code == 302
    assert response.headers["Location"] == _payments_url(paid.application)


# --- refunding --------------------------------------------------------------------------


def test_the_refund_form_is_prefilled_with_what_remains(staff_client, paid):
    page = staff_client().get(_refund_url(paid.application, paid)).get_data(as_text=True)
    assert 'value="100.00"' in page
    assert "HK$" in page


def test_a_refund_is_confirmed_then_made_once(staff_client, paid, provider):
    officer = staff_client()
    confirmation = _ask(officer, paid, "40", "Charged for two copies, sent one")
    page = confirmation.get_data(as_text=True)
    assert confirmation.status_code == 200
    assert "Refund HK$40.00 to CHAN Tai Man?" in page
    assert _refund_count() == 0  # nothing happens before the confirmation
    done = _confirm(officer, paid, page)
    assert done.status_code == 302
    assert done.headers["Location"] == _payments_url(paid.application)
    banner = officer.get(done.headers["Location"]).get_data(as_text=True)
    assert "HK$40.00 was refunded to CHAN Tai Man" in banner
    assert "govuk-notification-banner--success" in banner
    assert "Charged for two copies, sent one" in banner
    row = db.session.scalar(select(Refund))
    assert (row.amount, row.state, row.requested_by_id) == (4_000, "succeeded", officer.user.id)
    assert provider.refunds == [("fake-1", 4_000, row.public_id)]
    assert _refunded(paid) == 4_000
    assert credit_notes() == [row.id]
    # The same confirmation sent again (a double click) is the same refund.
    again = _confirm(officer, paid, page)
    assert again.status_code == 302
    assert _refund_count() == 1
    assert len(provider.refunds) == 1
    assert _refunded(paid) == 4_000


def test_the_whole_amount_can_be_refunded_and_then_no_more(staff_client, paid):
    officer = staff_client()
    page = _ask(officer, paid, "100.00").get_data(as_text=True)
    assert _confirm(officer, paid, page).status_code == 302
    payments_page = officer.get(_payments_url(paid.application)).get_data(as_text=True)
    assert _refund_url(paid.application, paid) not in payments_page
    response = officer.get(_refund_url(paid.application, paid))
    assert response.status_code == 302
    assert "Nothing remains to be refunded" in officer.get(
        response.headers["Location"]).get_data(as_text=True)


def test_change_on_the_confirmation_shows_the_form_with_what_was_typed(staff_client, paid):
    officer = staff_client()
    page = _ask(officer, paid, "12.5", "Typed reason").get_data(as_text=True)
    fields = {name: html.unescape(value) for name, value in
              re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)}
    token = csrf_token_from(page)
    response = officer.post(_refund_url(paid.application, paid),
                            data={**fields, "csrf_token": token, "change": "1"})
    form = response.get_data(as_text=True)
    assert 'value="12.50"' in form
    assert "Typed reason" in form
    assert "govuk-error-summary" not in form
    assert _refund_count() == 0


@pytest.mark.parametrize(("amount", "reason", "message"), [
    ("", "Charged twice", "Enter the amount to refund"),
    ("   ", "Charged twice", "Enter the amount to refund"),
    ("ten dollars", "Charged twice", "Enter the amount as a number, like 50.00"),
    ("1.2.3", "Charged twice", "Enter the amount as a number, like 50.00"),
    ("0", "Charged twice", "Enter an amount more than HK$0.00"),
    ("0.00", "Charged twice", "Enter an amount more than HK$0.00"),
    ("-5", "Charged twice", "Enter an amount more than HK$0.00"),
    ("10.001", "Charged twice", "Enter the amount with no more than 2 decimal places"),
    ("100.01", "Charged twice",
     "Enter an amount no more than HK$100.00, what remains of this payment"),
    ("50", "", "Enter the reason for the refund"),
    ("50", "   ", "Enter the reason for the refund"),
    ("50", "x" * 501, "Answer must be 500 characters or fewer"),
    ("50", "bad\x00reason", "Remove the special characters from this answer"),
])
def test_bad_input_gets_an_error_summary_and_changes_nothing(
        staff_client, paid, provider, amount, reason, message):
    response = _ask(staff_client(), paid, amount, reason)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "govuk-error-summary" in page
    assert "<title>Error:" in page
    assert message in page
    assert "govuk-error-message" in page  # the field's own message too
    assert _refund_count() == 0
    assert provider.refunds == []


def test_amounts_are_read_as_staff_type_them(staff_client, paid):
    page = _ask(staff_client(), paid, "HK$1,0.5").get_data(as_text=True)
    assert "Refund HK$10.50 to CHAN Tai Man?" in page


def test_what_remains_is_checked_again_when_confirming(staff_client, paid):
    """Another member of staff refunded meanwhile: the confirmation is refused."""
    officer = staff_client()
    page = _ask(officer, paid, "60").get_data(as_text=True)
    other = staff_client("supervisor")
    assert _confirm(other, paid, _ask(other, paid, "60").get_data(as_text=True)
                    ).status_code == 302
    late = _confirm(officer, paid, page)
    assert late.status_code == 200
    assert "Enter an amount no more than HK$40.00" in late.get_data(as_text=True)
    assert _refunded(paid) == 6_000
    assert _refund_count() == 1


def test_confirming_without_csrf_or_nonce_is_refused(staff_client, paid, provider):
    officer = staff_client()
    page = _ask(officer, paid, "10").get_data(as_text=True)
    assert _confirm(officer, paid, page, csrf_token="forged").status_code == 400
    assert _confirm(officer, paid, page, nonce="").status_code == 400
    assert _confirm(officer, paid, page, nonce="../../etc").status_code == 400
    assert _refund_count() == 0
    assert provider.refunds == []


def test_extra_fields_posted_are_ignored(staff_client, paid):
    officer = staff_client()
    page = _ask(officer, paid, "10").get_data(as_text=True)
    _confirm(officer, paid, page, state="failed", refunded_amount="0", requested_by_id="999")
    row = db.session.scalar(select(Refund))
    assert (row.amount, row.state, row.requested_by_id) == (1_000, "succeeded",
                                                            officer.user.id)


def test_html_in_the_reason_is_shown_escaped(staff_client, paid):
    officer = staff_client()
    page = _ask(officer, paid, "10", "<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    _confirm(officer, paid, page)
    listing = officer.get(_payments_url(paid.application)).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    assert "<script>alert(1)</script>" not in listing


def test_a_refusal_by_the_provider_is_shown_and_nothing_is_refunded(
        staff_client, paid, provider):
    provider.refund_status = "failed"
    officer = staff_client()
    done = _confirm(officer, paid, _ask(officer, paid, "10").get_data(as_text=True))
    page = officer.get(done.headers["Location"]).get_data(as_text=True)
    assert "The payment provider refused the refund of HK$10.00" in page
    assert "Refused by the provider" in page
    assert _refunded(paid) == 0


def test_a_provider_that_is_down_leaves_the_refund_to_finish_later(
        staff_client, paid, provider):
    provider.fail = True
    officer = staff_client()
    done = _confirm(officer, paid, _ask(officer, paid, "10").get_data(as_text=True))
    page = officer.get(done.headers["Location"]).get_data(as_text=True)
    assert "The payment provider did not answer" in page
    assert "Processing" in page
    assert db.session.scalar(select(Refund.state)) == "processing"
    assert _refunded(paid) == 1_000


@pytest.mark.parametrize("state", ["started", "failed"])
def test_a_payment_that_did_not_succeed_cannot_be_refunded(staff_client, paid, state):
    db.session.execute(update(Payment).where(Payment.id == paid.id).values(state=state))
    db.session.commit()
    officer = staff_client()
    page = officer.get(_payments_url(paid.application)).get_data(as_text=True)
    assert _refund_url(paid.application, paid) not in page
    response = officer.get(_refund_url(paid.application, paid))
    assert response.status_code == 302
    token = csrf_token_from(officer.get("/staff/").get_data(as_text=True))
    posted = officer.post(f"{_refund_url(paid.application, paid)}/confirm",
                          data={"csrf_token": token, "amount": "10", "reason": "x",
                                "nonce": "d" * 32})
    assert posted.status_code == 302
    assert _refund_count() == 0


def test_the_pages_come_in_chinese(staff_client, paid):
    officer = staff_client()
    officer.get("/language/zh-hk")
    page = officer.get(_payments_url(paid.application)).get_data(as_text=True)
    assert 'lang="zh-HK"' in page
    assert "陳大文" in page  # the applicant's Chinese name


def test_a_card_payment_in_the_sandbox_is_refunded_in_two_parts(
        app, client, awaiting_payment, staff_client, smtp_sink):
    """The citizen pays by card in the built-in sandbox; an officer gives back HK$30 and
    then the remaining HK$70; a third refund is not offered; the citizen gets one credit
    note email per refund."""
    from tests.payments.test_ledger import _pay
    from tests.payments.test_paying_in_the_sandbox import _card, _path

    sandbox_page = _path(_pay(client, awaiting_payment).headers["Location"])
    client.get(_path(_card(client, sandbox_page, "4242 4242 4242 4242").headers["Location"]))
    db.session.expire_all()
    payment = db.session.scalar(select(Payment))
    assert payment.state == "succeeded"
    officer = staff_client()
    for amount, reason in (("30", "Charged for a copy not sent"), ("70.00", "Withdrawn")):
        page = _ask(officer, payment, amount, reason).get_data(as_text=True)
        done = _confirm(officer, payment, page)
        assert "was refunded to CHAN Tai Man" in officer.get(
            done.headers["Location"]).get_data(as_text=True)
    states = db.session.scalars(select(Refund.state).order_by(Refund.id)).all()
    assert states == ["succeeded", "succeeded"]
    assert _refunded(payment) == 10_000
    listing = officer.get(_payments_url(payment.application)).get_data(as_text=True)
    assert _refund_url(payment.application, payment) not in listing
    assert sorted(credit_notes()) == sorted(db.session.scalars(select(Refund.id)).all())
    # Sent, the receipt and one credit note per refund: each email once.
    smtp_sink.wait_for("citizen@example.com", count=4)
    subjects = [message["Subject"] for message in smtp_sink.to("citizen@example.com")]
    assert sum("credit note" in subject.lower() for subject in subjects) == 2, subjects

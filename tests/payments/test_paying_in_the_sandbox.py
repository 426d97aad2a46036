"""A citizen pays an application's fee in the built-in sandbox, by card."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from portal.applications.models import Application
from portal.extensions import db
from portal.payments.models import Payment
from portal.testing.helpers import csrf_token_from
from tests.payments.test_ledger import _pay


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _card(client, page_url, number):
    page = client.get(page_url).get_data(as_text=True)
    return client.post(page_url, data={
        "csrf_token": csrf_token_from(page), "card_number": number, "expiry": "04/39",
        "cvc": "123", "cardholder_name": "CHAN TAI MAN"})


def test_paying_by_card_in_the_sandbox(client, awaiting_payment):
    to_provider = _pay(client, awaiting_payment)
    sandbox_page = _path(to_provider.headers["Location"])
    assert sandbox_page.startswith("/sandbox-pay/")
    assert "HK$100.00" in client.get(sandbox_page).get_data(as_text=True)
    back = _card(client, sandbox_page, "4242 4242 4242 4242")
    assert back.status_code == 303  # back to the portal, as a real hosted page does
    return_path = _path(back.headers["Location"])
    assert return_path.startswith("/payments/")
    assert "succeeded" not in return_path  # the portal asks the sandbox, not the URL
    landed = client.get(return_path)
    assert landed.headers["Location"].endswith(f"/applications/{awaiting_payment.reference}")
    db.session.expire_all()
    payment = db.session.scalar(select(Payment))
    assert (payment.state, payment.method) == ("succeeded", "card")
    assert db.session.scalar(select(Application.state)) == "received"
    page = client.get(landed.headers["Location"]).get_data(as_text=True)
    assert "Payment received" in page
    assert "Paid" in page


def test_a_declined_card_leaves_the_fee_to_pay(client, awaiting_payment):
    sandbox_page = _path(_pay(client, awaiting_payment).headers["Location"])
    declined = _card(client, sandbox_page, "4000 0000 0000 0002")
    page = declined.get_data(as_text=True) if declined.status_code == 200 else client.get(
        _path(declined.headers["Location"])).get_data(as_text=True)
    assert "declined" in page
    db.session.expire_all()
    assert db.session.scalar(select(Application.state)) == "awaiting_payment"


def test_paying_a_bill_marks_it_paid_and_completes_the_application(
        client, create_user, create_department, sign_in):
    from services.pay_bill.demo import WATER_BILL, add_demo_bills
    from services.pay_bill.models import Bill
    from tests.services.test_journeys import answer, reference_of, start, submit

    create_department("TRY", "Treasury", "庫務署")
    add_demo_bills()
    db.session.commit()
    create_user()
    sign_in(client)
    url = start(client, "pay_bill")
    url = answer(client, url, {"bill_number": WATER_BILL})
    url = answer(client, url, {"confirm_payment": "y"})
    _html, url = submit(client, url)
    application = db.session.scalar(select(Application).where(
        Application.reference == reference_of(url)))
    sandbox_page = _path(_pay(client, application).headers["Location"])
    assert "HK$356.40" in client.get(sandbox_page).get_data(as_text=True)
    back = _card(client, sandbox_page, "4242 4242 4242 4242")
    client.get(_path(back.headers["Location"]))
    db.session.expire_all()
    assert db.session.scalar(select(Application.state)) == "paid"
    bill = db.session.scalar(select(Bill).where(Bill.bill_number == WATER_BILL.replace(" ", "")))
    assert bill.status == "paid"
    # The bill cannot be put up for payment again.
    again = start(client, "pay_bill")
    page = client.get(again).get_data(as_text=True)
    token = csrf_token_from(page)
    refused = client.post(again, data={"csrf_token": token, "bill_number": WATER_BILL})
    assert refused.status_code == 200
    assert "already been paid" in refused.get_data(as_text=True)

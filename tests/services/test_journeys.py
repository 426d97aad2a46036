"""Each service end to end through the portal: a citizen applies in the browser's way."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest

from portal.extensions import db
from portal.testing.helpers import csrf_token_from, get_csrf
from services.pay_bill.demo import WATER_BILL, add_demo_bills
from services.pay_bill.models import Bill, BillStatus

# The smallest valid PNG: a 1x1 transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def citizen(client, create_user, sign_in):
    create_user(address_flat="Flat A, 12/F", address_building="Sunshine Court",
                address_street="18 Nathan Road", district="yau_tsim_mong",
                mobile="+85291234567")
    sign_in(client)
    return client


def start(client, name):
    token = get_csrf(client, f"/services/{name}")
    response = client.post(f"/services/{name}/apply", data={"csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def answer(client, url, data, **kwargs):
    page = client.get(url)
    assert page.status_code == 200, url
    response = client.post(url, data={"csrf_token": csrf_token_from(page.get_data(as_text=True)),
                                      **data}, **kwargs)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return response.headers["Location"]


def submit(client, check_url):
    page = client.get(check_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    response = client.post(check_url, data={"csrf_token": csrf_token_from(html)})
    assert response.status_code == 302
    return html, response.headers["Location"]


def reference_of(url):
    return re.search(r"/applications/([^/]+)/confirmation", url).group(1)


def test_renewing_a_full_licence_for_ten_years(citizen, create_department):
    from portal.applications.models import Application

    create_department("TD")
    url = start(citizen, "licence_renewal")
    assert url.endswith("/licence_details")
    url = answer(citizen, url, {"licence_number": "a123456 3"})
    assert url.endswith("/licence_type")
    url = answer(citizen, url, {"licence_type": "full"})
    assert url.endswith("/validity")
    url = answer(citizen, url, {"validity_period": "10_years"})
    assert url.endswith("/photo")
    url = answer(citizen, url, {"photo": (io.BytesIO(PNG), "me.png")},
                 content_type="multipart/form-data")
    assert url.endswith("/address")
    prefilled = citizen.get(url).get_data(as_text=True)
    assert "18 Nathan Road" in prefilled
    url = answer(citizen, url, {"address_flat": "Flat A, 12/F", "address_building": "",
                                "address_street": "18 Nathan Road", "district": "yau_tsim_mong"})
    assert url.endswith("/health")
    url = answer(citizen, url, {"medical_condition": "no", "health_declaration": "y"})
    assert url.endswith("/check")
    html, url = submit(citizen, url)
    assert "A123456(3)" in html
    application = db.session.scalar(db.select(Application).where(
        Application.reference == reference_of(url)))
    assert application.fee_amount == 90_000
    assert application.state == "awaiting_payment"
    assert application.department == "TD"


def test_a_probationary_licence_skips_the_validity_step(citizen, create_department):
    create_department("TD")
    url = start(citizen, "licence_renewal")
    url = answer(citizen, url, {"licence_number": "AB123456(9)"})
    url = answer(citizen, url, {"licence_type": "probationary"})
    assert url.endswith("/photo")


def test_ordering_birth_record_copies_by_post(citizen, create_department):
    from portal.applications.models import Application

    create_department("IMMD", "Immigration Department", "入境事務處")
    url = start(citizen, "birth_record")
    url = answer(citizen, url, {"name_en": "CHAN Siu Ming", "name_zh": "陳小明",
                                "date_of_birth": ["27", "3", "2007"],
                                "place_of_birth": "Queen Mary Hospital"})
    url = answer(citizen, url, {"copies": "3"})
    url = answer(citizen, url, {"delivery_method": "post"})
    assert url.endswith("/delivery_address")
    url = answer(citizen, url, {"address_street": "18 Nathan Road", "district": "yau_tsim_mong"})
    assert url.endswith("/check")
    _html, url = submit(citizen, url)
    application = db.session.scalar(db.select(Application).where(
        Application.reference == reference_of(url)))
    assert application.fee_amount == 3 * 14_000
    assert "collection_office" not in application.answers


def test_collecting_birth_record_copies_asks_for_a_registry(citizen, create_department):
    create_department("IMMD", "Immigration Department", "入境事務處")
    url = start(citizen, "birth_record")
    url = answer(citizen, url, {"name_en": "CHAN Siu Ming", "date_of_birth": ["1", "1", "2000"],
                                "place_of_birth": "Hong Kong"})
    url = answer(citizen, url, {"copies": "1"})
    url = answer(citizen, url, {"delivery_method": "collect"})
    assert url.endswith("/collection_office")
    url = answer(citizen, url, {"collection_office": "kowloon"})
    assert url.endswith("/check")


def test_paying_a_bill_charges_its_amount(citizen, create_department):
    from portal.applications.models import Application

    create_department("TRY", "Treasury", "庫務署")
    add_demo_bills()
    db.session.commit()
    url = start(citizen, "pay_bill")
    url = answer(citizen, url, {"bill_number": WATER_BILL})
    assert url.endswith("/confirm")
    url = answer(citizen, url, {"confirm_payment": "y"})
    assert url.endswith("/check")
    _html, url = submit(citizen, url)
    application = db.session.scalar(db.select(Application).where(
        Application.reference == reference_of(url)))
    assert application.fee_amount == 35_640
    confirmation = citizen.get(url).get_data(as_text=True)
    assert "Your receipt is your proof of payment" in confirmation

    # The confirmation offers to pay at once: its button opens the sandbox's page.
    action = re.search(r'<form method="post" action="([^"]+/pay)"', confirmation).group(1)
    nonce = re.search(r'name="nonce" value="([0-9a-f]{32})"', confirmation).group(1)
    paying = citizen.post(action, data={"csrf_token": csrf_token_from(confirmation),
                                        "nonce": nonce})
    assert paying.status_code == 302
    assert "/sandbox-pay/" in paying.headers["Location"]


def test_a_paid_bill_cannot_be_paid_again(citizen, create_department):
    create_department("TRY", "Treasury", "庫務署")
    db.session.add(Bill(bill_number="400012345676", department="WSD", description_en="Water",
                        description_zh="水費", amount=100, due_date=date(2027, 1, 1),
                        status=BillStatus.PAID))
    db.session.commit()
    url = start(citizen, "pay_bill")
    page = citizen.get(url)
    response = citizen.post(url, data={"csrf_token": csrf_token_from(page.get_data(as_text=True)),
                                       "bill_number": WATER_BILL})
    assert response.status_code == 200
    assert "This bill has already been paid" in response.get_data(as_text=True)

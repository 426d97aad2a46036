"""A citizen pays for each built-in service in the sandbox and gets one receipt each."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from portal.applications.models import Application
from portal.extensions import db
from portal.receipts import storage
from portal.receipts.models import Receipt
from tests.payments.test_ledger import _pay
from tests.payments.test_paying_in_the_sandbox import _card, _path
from tests.receipts.test_render import pdf_text
from tests.services.test_journeys import PNG, answer, reference_of, start, submit


@pytest.fixture
def citizen(client, create_user, sign_in):
    create_user(address_flat="Flat A, 12/F", address_building="Sunshine Court",
                address_street="18 Nathan Road", district="yau_tsim_mong",
                mobile="+85291234567")
    sign_in(client)
    return client


def _licence_renewal(client) -> str:
    url = start(client, "licence_renewal")
    url = answer(client, url, {"licence_number": "A123456(3)"})
    url = answer(client, url, {"licence_type": "full"})
    url = answer(client, url, {"validity_period": "10_years"})
    url = answer(client, url, {"photo": (io.BytesIO(PNG), "me.png")},
                 content_type="multipart/form-data")
    url = answer(client, url, {"address_flat": "Flat A, 12/F", "address_building": "",
                               "address_street": "18 Nathan Road", "district": "yau_tsim_mong"})
    url = answer(client, url, {"medical_condition": "no", "health_declaration": "y"})
    return reference_of(submit(client, url)[1])


def _birth_record(client) -> str:
    url = start(client, "birth_record")
    url = answer(client, url, {"name_en": "CHAN Siu Ming", "name_zh": "陳小明",
                               "date_of_birth": ["27", "3", "2007"],
                               "place_of_birth": "Queen Mary Hospital"})
    url = answer(client, url, {"copies": "2"})
    url = answer(client, url, {"delivery_method": "collect"})
    url = answer(client, url, {"collection_office": "kowloon"})
    return reference_of(submit(client, url)[1])


def _pay_bill(client) -> str:
    from services.pay_bill.demo import WATER_BILL, add_demo_bills

    add_demo_bills()
    db.session.commit()
    url = start(client, "pay_bill")
    url = answer(client, url, {"bill_number": WATER_BILL})
    url = answer(client, url, {"confirm_payment": "y"})
    return reference_of(submit(client, url)[1])


JOURNEYS = {
    "licence_renewal": (_licence_renewal, "TD", "Transport Department", "運輸署"),
    "birth_record": (_birth_record, "IMMD", "Immigration Department", "入境事務處"),
    "pay_bill": (_pay_bill, "TRY", "Treasury", "庫務署"),
}


@pytest.mark.parametrize("service", sorted(JOURNEYS))
def test_paying_in_the_sandbox_gives_one_receipt(service, citizen, create_department,
                                                  smtp_sink):
    journey, code, name_en, name_zh = JOURNEYS[service]
    create_department(code, name_en, name_zh)
    reference = journey(citizen)
    application = db.session.scalar(select(Application).where(
        Application.reference == reference))
    sandbox_page = _path(_pay(citizen, application).headers["Location"])
    back = _card(citizen, sandbox_page, "4242 4242 4242 4242")
    landed = citizen.get(_path(back.headers["Location"]))
    assert landed.status_code == 302
    citizen.get(_path(back.headers["Location"]))  # the return page reloaded: nothing more

    db.session.expire_all()
    [receipt] = db.session.scalars(select(Receipt)).all()
    assert receipt.status == "issued"
    assert receipt.amount == application.fee_amount
    assert receipt.number.startswith(f"{code}/")
    assert receipt.number.endswith("/000001")
    page = citizen.get(f"/applications/{reference}").get_data(as_text=True)
    link = f"/applications/{reference}/receipts/{receipt.public_id}.pdf"
    assert link in page
    pdf = citizen.get(link).data
    assert pdf == storage.read(receipt.storage_key)
    text = pdf_text(pdf)
    assert name_en in text
    assert name_zh in text
    assert receipt.number in text
    emails = [m for m in smtp_sink.wait_for("citizen@example.com", count=2)
              if "receipt" in str(m["Subject"]).lower()]
    assert len(emails) == 1

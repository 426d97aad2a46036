"""The three built-in services against the portal's service contract kit."""

from __future__ import annotations

from datetime import date

import pytest

from portal.extensions import db
from portal.testing.contract import ServiceContract
from portal.testing.samples import JPEG
from services.pay_bill.demo import WATER_BILL, add_demo_bills


class TestLicenceRenewalContract(ServiceContract):
    service = "licence_renewal"
    answers = {
        "licence_details": {"licence_number": "A123456(3)"},
        "licence_type": {"licence_type": "full"},
        "validity": {"validity_period": "10_years"},
        "photo": {"photo": ("photo.jpg", JPEG)},
        "address": {"address_flat": "Flat A, 12/F", "address_building": "Sunshine Court",
                    "address_street": "18 Nathan Road", "district": "yau_tsim_mong"},
        "health": {"medical_condition": "yes", "medical_details": "Short-sighted: I wear glasses",
                   "health_declaration": True},
    }


class TestProbationaryLicenceRenewalContract(TestLicenceRenewalContract):
    answers = {step: fields for step, fields in TestLicenceRenewalContract.answers.items()
               if step != "validity"}
    answers["licence_type"] = {"licence_type": "probationary"}


class TestBirthRecordByPostContract(ServiceContract):
    service = "birth_record"
    answers = {
        "particulars": {"name_en": "O'BRIEN Mary", "name_zh": "陳小明",
                        "date_of_birth": date(2007, 3, 27), "place_of_birth": "Queen Mary Hospital",
                        "father_name": "", "mother_name": "", "registration_number": ""},
        "copies": {"copies": "3"},
        "delivery": {"delivery_method": "post"},
        "delivery_address": {"address_street": "18 Nathan Road", "district": "yau_tsim_mong"},
    }


class TestBirthRecordCollectedContract(TestBirthRecordByPostContract):
    answers = {step: fields for step, fields in TestBirthRecordByPostContract.answers.items()
               if step != "delivery_address"}
    answers["delivery"] = {"delivery_method": "collect"}
    answers["collection_office"] = {"collection_office": "sha_tin"}


class TestPayBillContract(ServiceContract):
    service = "pay_bill"
    answers = {
        "bill": {"bill_number": WATER_BILL},
        "confirm": {"confirm_payment": True},
    }

    @pytest.fixture(autouse=True)
    def _bills(self, request: pytest.FixtureRequest) -> None:
        """The bills the citizen pays exist (after the tables were emptied for the test)."""
        if "citizen" in request.fixturenames:
            request.getfixturevalue("citizen")
            add_demo_bills()
            db.session.commit()

"""Certified copies of a birth record: fees, workflow, the conditional steps, the questions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.toolkit import PAY_THEN_DECIDE
from services.birth_record.fees import FEE_PER_COPY, copies_fee
from services.birth_record.forms import (
    OFFICES,
    CollectionOfficeForm,
    CopiesForm,
    DeliveryAddressForm,
    DeliveryForm,
    ParticularsForm,
)
from services.birth_record.plugin import (
    DEFINITION,
    wants_collection,
    wants_post,
)

from .helpers import posted

# --- fees ----------------------------------------------------------------------------------


@pytest.mark.parametrize("copies", range(1, 11))
def test_fee_is_the_number_of_copies_times_the_fee_per_copy(copies):
    for delivery in ("collect", "post"):
        fee = copies_fee({"copies": copies, "delivery_method": delivery})
        assert fee.amount == copies * 14_000
        assert isinstance(fee.amount, int)


def test_fee_per_copy_is_hk_140():
    assert FEE_PER_COPY == 14_000


# --- workflow ------------------------------------------------------------------------------

def test_the_workflow_is_the_core_pay_then_decide_one():
    # Its whole transition table is tested once, in tests/plugins/test_workflow.py.
    assert DEFINITION.workflow is PAY_THEN_DECIDE


# --- conditional steps ---------------------------------------------------------------------


def test_collection_asks_for_a_registry_and_post_for_an_address():
    assert DEFINITION.step("collection_office").condition is wants_collection
    assert DEFINITION.step("delivery_address").condition is wants_post
    assert wants_collection({"delivery_method": "collect"})
    assert not wants_post({"delivery_method": "collect"})
    assert wants_post({"delivery_method": "post"})
    assert not wants_collection({"delivery_method": "post"})
    assert not wants_post({})
    assert not wants_collection({})


def test_delivery_address_is_the_core_address_form():
    assert DEFINITION.step("delivery_address").form is DeliveryAddressForm
    assert DEFINITION.step("delivery_address").fields() == [
        "address_flat", "address_building", "address_street", "district"]


# --- particulars ---------------------------------------------------------------------------

GOOD = {
    "name_en": "O'BRIEN Mary",
    "name_zh": "陳小明",
    "date_of_birth": ["27", "3", "2007"],
    "place_of_birth": "Queen Mary Hospital",
    "father_name": "",
    "mother_name": "",
    "registration_number": "",
}


def test_good_particulars_pass(app):
    form = posted(app, ParticularsForm, GOOD)
    assert form.messages == {}
    assert form.date_of_birth.data == date(2007, 3, 27)


def test_optional_particulars_may_be_given(app):
    given = {**GOOD, "father_name": "CHAN Tai Man", "mother_name": "WONG Mei Mei",
             "registration_number": "B12345/2007"}
    assert posted(app, ParticularsForm, given).messages == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name_en", "", "Enter the name in English, as it is on the birth record"),
        ("name_en", "CHAN\x07Tai Man", "Remove the special characters from this answer"),
        ("name_en", "CHAN\nTai Man", "Remove the special characters from this answer"),
        ("name_zh", "陳" * 21, "Answer must be 20 characters or fewer"),
        ("place_of_birth", "", "Enter the place of birth, like the name of the hospital"),
        ("date_of_birth", ["", "", ""], "Enter the date of birth"),
        ("date_of_birth", ["30", "2", "2000"], "Enter a real date, for example 27 3 2007"),
        ("date_of_birth", ["31", "4", "2010"], "Enter a real date, for example 27 3 2007"),
        ("date_of_birth", ["1", "March", "2000"], "Enter the date as numbers, for example 27 3 2007"),
        ("registration_number", "12<script>", "Enter the registration number with letters, numbers"),
    ],
)
def test_bad_particulars_get_a_specific_message(app, field, value, message):
    form = posted(app, ParticularsForm, {**GOOD, field: value})
    assert list(form.messages) == [field]
    assert form.messages[field][0].startswith(message)


def test_a_date_of_birth_in_the_future_is_refused(app):
    from portal.i18n import hong_kong_today

    # Tomorrow in Hong Kong, whatever the server's own clock says.
    tomorrow = hong_kong_today() + timedelta(days=1)
    form = posted(app, ParticularsForm, {
        **GOOD, "date_of_birth": [str(tomorrow.day), str(tomorrow.month), str(tomorrow.year)]})
    assert form.messages == {"date_of_birth": ["The date must be today or in the past"]}


# --- copies, delivery and collection -------------------------------------------------------


@pytest.mark.parametrize("copies", ["1", "10", " 3 "])
def test_one_to_ten_copies_are_accepted(app, copies):
    form = posted(app, CopiesForm, {"copies": copies})
    assert form.messages == {}
    assert form.copies.data == int(copies)


@pytest.mark.parametrize(
    ("copies", "message"),
    [
        ("0", "Enter a number from 1 to 10"),
        ("11", "Enter a number from 1 to 10"),
        ("two", "Enter a whole number, like 2"),
        ("-1", "Enter a whole number, like 2"),
        ("1.5", "Enter a whole number, like 2"),
        ("", "Enter how many certified copies you need"),
    ],
)
def test_a_bad_number_of_copies_gets_a_specific_message(app, copies, message):
    form = posted(app, CopiesForm, {"copies": copies})
    assert form.messages["copies"][0] == message


def test_delivery_must_be_collect_or_post(app):
    for value in ("collect", "post"):
        assert posted(app, DeliveryForm, {"delivery_method": value}).messages == {}
    form = posted(app, DeliveryForm, {"delivery_method": "courier"})
    assert form.messages["delivery_method"][0] == "Select how you want to get the copies"


def test_collection_office_must_be_a_registry(app):
    for choice in OFFICES:
        assert posted(app, CollectionOfficeForm, {"collection_office": choice.value}).messages == {}
    form = posted(app, CollectionOfficeForm, {})
    assert form.messages["collection_office"][0] == (
        "Select the registry where you will collect the copies")

"""Renew a driving licence: fees, workflow, the conditional step and the questions."""

from __future__ import annotations

import pytest

from portal.toolkit import PAY_THEN_DECIDE
from portal.toolkit import InvalidHKID as InvalidLicenceNumber
from portal.toolkit import normalise_hkid as normalise_licence_number
from services.licence_renewal.fees import renewal_fee
from services.licence_renewal.forms import (
    PHOTO_MAX_BYTES,
    VALIDITY_PERIODS,
    HealthForm,
    LicenceAddressForm,
    LicenceDetailsForm,
    LicenceTypeForm,
    PhotoForm,
    ValidityForm,
)
from services.licence_renewal.plugin import DEFINITION, is_full_licence, prefill

from .helpers import posted

# --- fees ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "cents"),
    [
        ({"licence_type": "full", "validity_period": "10_years"}, 90_000),
        ({"licence_type": "full", "validity_period": "3_years"}, 27_000),
        ({"licence_type": "full", "validity_period": "1_year"}, 9_000),
        ({"licence_type": "probationary"}, 90_000),
    ],
)
def test_fee_follows_licence_type_and_validity(answers, cents):
    fee = renewal_fee(answers)
    assert fee.amount == cents
    assert isinstance(fee.amount, int)
    assert fee.currency == "HKD"


def test_probationary_fee_ignores_a_validity_left_from_an_earlier_answer():
    assert renewal_fee({"licence_type": "probationary", "validity_period": "1_year"}).amount == 90_000


def test_every_validity_choice_has_a_fee():
    for choice in VALIDITY_PERIODS:
        assert renewal_fee({"licence_type": "full", "validity_period": choice.value}).amount > 0


# --- workflow ------------------------------------------------------------------------------

def test_the_workflow_is_the_core_pay_then_decide_one():
    # Its whole transition table is tested once, in tests/plugins/test_workflow.py.
    assert DEFINITION.workflow is PAY_THEN_DECIDE


def test_workflow_starts_awaiting_payment_and_ends_in_a_decision_or_withdrawal():
    assert DEFINITION.workflow.initial == "awaiting_payment"
    assert DEFINITION.workflow.terminal == {"approved", "rejected", "withdrawn", "lapsed"}
    assert DEFINITION.pay_before_processing


# --- steps ---------------------------------------------------------------------------------


def test_validity_is_asked_only_for_a_full_licence():
    step = DEFINITION.step("validity")
    assert step.condition is is_full_licence
    assert is_full_licence({"licence_type": "full"})
    assert not is_full_licence({"licence_type": "probationary"})
    assert not is_full_licence({})


def test_steps_come_in_order_with_the_address_form_of_the_core():
    assert [s.name for s in DEFINITION.steps] == [
        "licence_details", "licence_type", "validity", "photo", "address", "health"]
    assert DEFINITION.step("address").fields() == [
        "address_flat", "address_building", "address_street", "district"]


def test_prefill_is_the_profile_address():
    class Profile:
        address_flat = "Flat A, 12/F"
        address_building = "Sunshine Court"
        address_street = "18 Nathan Road"
        district = "yau_tsim_mong"

    assert prefill(Profile()) == {
        "address_flat": "Flat A, 12/F", "address_building": "Sunshine Court",
        "address_street": "18 Nathan Road", "district": "yau_tsim_mong"}


# --- licence number ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("A123456(3)", "A123456(3)"),
        ("a123456 3", "A123456(3)"),
        ("A123458(A)", "A123458(A)"),
        ("A123466(0)", "A123466(0)"),
        ("CA182361(1)", "CA182361(1)"),
        ("AB123456(9)", "AB123456(9)"),
        (" ab 123456 (9) ", "AB123456(9)"),
    ],
)
def test_valid_licence_numbers_are_stored_in_one_form(raw, stored):
    assert normalise_licence_number(raw) == stored


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("A123456(9)", "check"),
        ("AB123456(3)", "check"),
        ("123456(3)", "format"),
        ("ABC123456(3)", "format"),
        ("A12345(3)", "format"),
        ("A123456(B)", "format"),
        ("", "format"),
    ],
)
def test_bad_licence_numbers_say_why(raw, reason):
    with pytest.raises(InvalidLicenceNumber) as caught:
        normalise_licence_number(raw)
    assert caught.value.reason == reason


def test_licence_details_form_stores_the_normal_form(app):
    form = posted(app, LicenceDetailsForm, {"licence_number": "a123456 3"})
    assert form.messages == {}
    assert form.licence_number.data == "A123456(3)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter your driving licence number"),
        ("A123456(9)", "Check your driving licence number: the character in brackets does not match"),
        ("123456(3)", "Enter your driving licence number in the right format"),
        ("A123456\x00(3)", "Remove the special characters from this answer"),
        ("A" * 21, "Answer must be 20 characters or fewer"),
    ],
)
def test_a_bad_licence_number_gets_a_specific_message(app, value, message):
    form = posted(app, LicenceDetailsForm, {"licence_number": value})
    assert form.messages["licence_number"][0].startswith(message)


# --- the other questions -------------------------------------------------------------------


def test_licence_type_must_be_one_of_the_choices(app):
    assert posted(app, LicenceTypeForm, {"licence_type": "full"}).messages == {}
    for value in ("", "learner"):
        form = posted(app, LicenceTypeForm, {"licence_type": value})
        assert form.messages["licence_type"][0] == (
            "Select the type of driving licence you are renewing")


def test_validity_must_be_one_of_the_choices(app):
    assert posted(app, ValidityForm, {"validity_period": "10_years"}).messages == {}
    form = posted(app, ValidityForm, {"validity_period": "20_years"})
    assert form.messages["validity_period"][0] == (
        "Select how long your new licence should be valid for")


def test_photo_is_a_jpeg_or_png_of_at_most_2_mb(app):
    with app.test_request_context():
        field = PhotoForm(meta={"csrf": False}).photo
    assert field.kinds == ("jpeg", "png")
    assert field.max_bytes == PHOTO_MAX_BYTES == 2 * 1024 * 1024


def test_photo_is_required(app):
    form = posted(app, PhotoForm, {})
    assert form.messages["photo"] == ["Upload a photo of yourself"]


def test_address_is_the_core_address_form(app):
    form = posted(app, LicenceAddressForm, {"address_street": "18 Nathan Road",
                                            "district": "nowhere"})
    assert list(form.messages) == ["district"]
    assert "Select a district from the list" in form.messages["district"]


HEALTHY = {"medical_condition": "no", "medical_details": "", "health_declaration": "y"}


def test_health_declaration_without_a_condition_passes(app):
    assert posted(app, HealthForm, HEALTHY).messages == {}


def test_a_declared_condition_needs_details(app):
    form = posted(app, HealthForm, {**HEALTHY, "medical_condition": "yes"})
    assert form.messages == {"medical_details": ["Give details of your medical condition"]}
    details = {**HEALTHY, "medical_condition": "yes", "medical_details": "Type 2 diabetes,\ncontrolled by diet"}
    assert posted(app, HealthForm, details).messages == {}


def test_the_declaration_must_be_ticked(app):
    form = posted(app, HealthForm, {"medical_condition": "no"})
    assert form.messages["health_declaration"][0].startswith("Confirm the health declaration")


def test_the_medical_condition_question_must_be_answered(app):
    form = posted(app, HealthForm, {"health_declaration": "y"})
    assert form.messages["medical_condition"][0] == (
        "Select yes if you have a medical condition to declare")


def test_control_characters_in_the_details_are_refused(app):
    form = posted(app, HealthForm, {**HEALTHY, "medical_condition": "yes",
                                    "medical_details": "ok\u202eevil"})
    assert form.messages["medical_details"] == ["Remove the special characters from this answer"]

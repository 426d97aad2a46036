"""Pay a government bill: bill numbers, the look-up, the fee, the workflow, demo bills."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from flask_babel import force_locale

from portal.extensions import db
from portal.plugins.manager import services
from portal.plugins.service import ACTORS, IllegalTransition
from services.pay_bill import plugin
from services.pay_bill.bills import (
    BillNumberProblem,
    check_digit,
    format_bill_number,
    mark_paid,
    normalise_bill_number,
    payable_bill,
)
from services.pay_bill.demo import (
    DEMO_BILLS,
    PAID_BILL,
    RATES_BILL,
    TENANCY_BILL,
    WATER_BILL,
    add_demo_bills,
)
from services.pay_bill.fees import BillNotFound, bill_fee
from services.pay_bill.forms import BillNumberForm, ConfirmBillForm
from services.pay_bill.models import Bill, BillStatus
from services.pay_bill.plugin import DEFINITION, WORKFLOW

from .helpers import posted


def add_bill(number="400012345676", status=BillStatus.UNPAID, amount=35_640):
    bill = Bill(bill_number=number, department="WSD",
                description_en="Water and sewage charges", description_zh="水費及排污費",
                amount=amount, due_date=date(2027, 1, 15), status=status)
    db.session.add(bill)
    db.session.commit()
    return bill


# --- bill numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("number", [bill[0] for bill in DEMO_BILLS])
def test_demo_bill_numbers_have_valid_check_digits(number):
    compact = number.replace(" ", "")
    assert len(compact) == 12
    assert check_digit(compact[:-1]) == compact[-1]


def test_check_digit_is_luhn():
    # 7992739871 is the usual Luhn example: its check digit is 3
    assert check_digit("7992739871") == "3"


@pytest.mark.parametrize("raw", ["400012345676", "4000 1234 5676", "4000-1234-5676",
                                 " 4000 1234 5676 "])
def test_a_valid_bill_number_is_kept_without_separators(raw):
    assert normalise_bill_number(raw) == "400012345676"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("400012345677", "check_digit"),  # last digit wrong
        ("400012345766", "check_digit"),  # two neighbours swapped
        ("500012345676", "check_digit"),  # first digit wrong
        ("40001234567", "format"),  # 11 digits
        ("4000123456760", "format"),  # 13 digits
        ("4000 1234 567A", "format"),
        ("", "format"),
    ],
)
def test_an_invalid_bill_number_says_why(raw, reason):
    with pytest.raises(BillNumberProblem) as caught:
        normalise_bill_number(raw)
    assert caught.value.reason == reason


def test_bill_numbers_are_printed_in_groups_of_four():
    assert format_bill_number("400012345676") == "4000 1234 5676"




# --- looking the bill up -------------------------------------------------------------------


def test_an_unpaid_bill_is_found(app):
    add_bill()
    assert payable_bill("4000 1234 5676").bill_number == "400012345676"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter the bill number"),
        ("4000 1234", "Enter the bill number as 12 digits, like 1234 5678 9012"),
        ("4000 1234 5677", "This is not a valid bill number. Check that you copied it exactly"),
        ("3100 0052 0182", "We cannot find a bill with this number. Check the number on your bill"),
        ("6000 0777 2152", "This bill has already been paid. You do not need to pay it again"),
        ("4000\x001234 5676", "Remove the special characters from this answer"),
    ],
)
def test_a_bill_that_cannot_be_paid_gets_a_specific_message(app, value, message):
    add_bill()
    add_bill("600007772152", status=BillStatus.PAID)
    form = posted(app, BillNumberForm, {"bill_number": value})
    assert form.messages["bill_number"][0].startswith(message)


def test_the_bill_number_step_gives_the_number_as_printed_on_the_bill(app):
    add_bill()
    form = posted(app, BillNumberForm, {"bill_number": "4000-12345676"})
    assert form.messages == {}
    assert form.bill_number.data == "4000 1234 5676"


def test_the_confirmation_shows_what_the_bill_is_for_and_the_amount(app):
    add_bill()
    form = posted(app, ConfirmBillForm, {"confirm_payment": "y"},
                  answers={"bill_number": "400012345676"})
    assert form.messages == {}
    with app.test_request_context():
        text = str(form.confirm_payment.description)
    assert "4000 1234 5676" in text
    assert "Water Supplies Department" in text
    assert "Water and sewage charges" in text
    assert "HK$356.40" in text


def test_the_confirmation_is_in_chinese_for_a_chinese_page(app):
    add_bill()
    with app.test_request_context(), force_locale("zh_Hant_HK"):
        form = ConfirmBillForm(meta={"csrf": False}, answers={"bill_number": "400012345676"})
        text = str(form.confirm_payment.description)
    assert "水務署" in text
    assert "水費及排污費" in text
    assert "HK$356.40" in text


def test_the_confirmation_without_answers_still_works(app):
    form = posted(app, ConfirmBillForm, {"confirm_payment": "y"})
    assert form.messages == {}
    assert form.bill is None


def test_the_confirmation_box_must_be_ticked(app):
    add_bill()
    form = posted(app, ConfirmBillForm, {}, answers={"bill_number": "400012345676"})
    assert form.messages == {
        "confirm_payment": ["Tick the box to confirm that you want to pay this bill"]}


# --- fee -----------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [1, 35_640, 1_280_000])
def test_the_fee_is_the_amount_of_the_bill(app, amount):
    add_bill(amount=amount)
    fee = bill_fee({"bill_number": "400012345676", "confirm_payment": True})
    assert fee.amount == amount
    assert fee.currency == "HKD"


def test_a_missing_bill_never_costs_nothing(app):
    with pytest.raises(BillNotFound):
        bill_fee({"bill_number": "400012345676"})


# --- workflow ------------------------------------------------------------------------------

ALLOWED = {
    ("awaiting_payment", "payment_received"): ("paid", {"system"}),
    ("awaiting_payment", "withdraw"): ("withdrawn", {"citizen"}),
    ("awaiting_payment", "lapse"): ("lapsed", {"system"}),
}
ACTIONS = ["approve", "lapse", "payment_received", "reject", "start_review", "withdraw"]


@pytest.mark.parametrize("state", WORKFLOW.states)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", sorted(ACTORS))
def test_workflow_allows_exactly_the_listed_moves(state, action, actor):
    target, actors = ALLOWED.get((state, action), (None, set()))
    if actor in actors:
        assert WORKFLOW.next_state(state, action, actor) == target
    else:
        with pytest.raises(IllegalTransition):
            WORKFLOW.next_state(state, action, actor)


def test_payment_comes_first_and_no_officer_acts():
    assert DEFINITION.pay_before_processing
    assert WORKFLOW.initial == "awaiting_payment"
    assert WORKFLOW.terminal == {"paid", "withdrawn", "lapsed"}
    staff = {"officer", "supervisor", "department_admin"}
    assert not any(move.actors & staff for move in WORKFLOW.transitions)


# --- the bill is paid once -----------------------------------------------------------------


def _application(reference="K7MX-4P9Q-2", number="4000 1234 5676"):
    answers = {"bill": {"bill_number": [number]}, "confirm": {"confirm_payment": ["y"]}}
    return SimpleNamespace(service="pay_bill", reference=reference, answers=answers)


def test_receiving_the_payment_marks_the_bill_paid(app):
    add_bill()
    plugin.application_transitioned(_application(), SimpleNamespace(to_state="paid"))
    db.session.expire_all()
    bill = db.session.scalar(db.select(Bill))
    assert bill.status == BillStatus.PAID
    assert bill.paid_by == "K7MX-4P9Q-2"


def test_a_bill_is_marked_paid_only_once(app):
    add_bill()
    assert mark_paid("400012345676", "FIRST-REF-1")
    assert not mark_paid("400012345676", "SECOND-REF-2")
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(db.select(Bill.paid_by)) == "FIRST-REF-1"


def test_other_services_and_other_moves_leave_bills_alone(app):
    add_bill()
    other = SimpleNamespace(**{**vars(_application()), "service": "licence_renewal"})
    plugin.application_transitioned(other, SimpleNamespace(to_state="paid"))
    plugin.application_transitioned(_application(), SimpleNamespace(to_state="withdrawn"))
    db.session.expire_all()
    assert db.session.scalar(db.select(Bill.status)) == BillStatus.UNPAID


# --- demo bills ----------------------------------------------------------------------------


def test_demo_bills_are_added_once_through_the_hook(app):
    hook = services(app).plugin_manager.hook
    assert sum(hook.register_demo_data()) == len(DEMO_BILLS) == 5
    db.session.commit()
    assert sum(hook.register_demo_data()) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(Bill)) == 5


def test_demo_bills_show_each_message(app):
    add_demo_bills()
    db.session.commit()
    for number in (WATER_BILL, RATES_BILL, TENANCY_BILL):
        assert payable_bill(number).status == BillStatus.UNPAID
    with pytest.raises(BillNumberProblem) as caught:
        payable_bill(PAID_BILL)
    assert caught.value.reason == "paid"

"""Pay a government bill: the service definition and the hooks it implements."""

from __future__ import annotations

from typing import Any

from portal.toolkit import (
    ServiceDefinition,
    Step,
    Transition,
    Workflow,
    db,
    hookimpl,
)

from .bills import BillNumberProblem, mark_paid, normalise_bill_number
from .demo import add_demo_bills
from .fees import bill_fee
from .forms import BillNumberForm, ConfirmBillForm
from .i18n import _

NAME = "pay_bill"
BILL_STEP = "bill"

WORKFLOW = Workflow(
    states=("awaiting_payment", "paid", "withdrawn", "lapsed"),
    initial="awaiting_payment",
    terminal=frozenset({"paid", "withdrawn", "lapsed"}),
    transitions=(
        Transition("awaiting_payment", "payment_received", "paid", {"system"}),
        Transition("awaiting_payment", "withdraw", "withdrawn", {"citizen"}),
        # Unpaid for UNPAID_APPLICATION_DAYS: closed, so the bill can be paid again.
        Transition("awaiting_payment", "lapse", "lapsed", {"system"}),
    ),
)

STEPS = (
    Step(BILL_STEP, _("Your bill"), BillNumberForm),
    Step("confirm", _("Check the bill"), ConfirmBillForm),
)

DEFINITION = ServiceDefinition(
    name=NAME,
    title=_("Pay a government bill"),
    summary=_("Pay a bill or demand note from a government department with its bill "
              "number, and get a receipt at once."),
    department="TRY",
    category="payments",
    workflow=WORKFLOW,
    steps=STEPS,
    fees=bill_fee,
    # One open application per bill, whoever applies: a bill cannot be put up for payment
    # twice (the key is freed if the application is withdrawn).
    exclusive_key=lambda answers: answers.get("bill_number"),
    exclusive_across_citizens=True,
    pay_before_processing=True,
    # Nothing for staff to do: the bill is settled when the payment is received.
    pledge_working_days=1,
    eligibility=_("Anyone can pay a bill issued by a Hong Kong government department, "
                  "if it has a 12-digit bill number and has not been paid yet."),
    requirements=(
        _("the bill number printed on your bill"),
        _("a card or bank account to pay the amount"),
    ),
    fee_summary=_("You pay the amount on the bill. There is no charge for paying online."),
    keywords=("bill", "demand note", "pay", "payment", "Treasury", "繳費", "帳單",
              "賬單", "繳款通知書", "庫務署"),
)


@hookimpl
def register_services() -> list[ServiceDefinition]:
    return [DEFINITION]


@hookimpl
def register_demo_data() -> int:
    return add_demo_bills()


def bill_number_of(answers: Any) -> str | None:
    """The bill number in an application's answers (``{step: {field: [values]}}``)."""
    values = ((answers or {}).get(BILL_STEP) or {}).get("bill_number") or []
    if not values:
        return None
    try:
        return normalise_bill_number(str(values[0]))
    except BillNumberProblem:
        return None


@hookimpl
def application_transitioned(application: Any, event: Any) -> None:
    """When the payment for a bill is received, the bill is paid: it cannot be paid twice."""
    if application.service != NAME or event.to_state != "paid":
        return
    number = bill_number_of(application.answers)
    if number is not None and mark_paid(number, application.reference):
        db.session.commit()

"""The questions of paying a bill: which bill, then confirming it is the right one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.toolkit import (
    ConfirmField,
    InputRequired,
    ServiceForm,
    TextField,
    ValidationError,
    current_locale,
    format_day,
    format_hkd,
)

from .bills import BillNumberProblem, format_bill_number, payable_bill
from .i18n import _, gettext
from .models import Bill

#: Departments whose bills can be paid here (a code without a name is shown as it is).
DEPARTMENT_NAMES = {
    "FEHD": _("Food and Environmental Hygiene Department"),
    "IMMD": _("Immigration Department"),
    "LANDSD": _("Lands Department"),
    "RVD": _("Rating and Valuation Department"),
    "TD": _("Transport Department"),
    "TRY": _("Treasury"),
    "WSD": _("Water Supplies Department"),
}

BILL_NUMBER_MESSAGES = {
    "format": _("Enter the bill number as 12 digits, like 1234 5678 9012"),
    "check_digit": _("This is not a valid bill number. Check that you copied it exactly "
                     "as it is printed on your bill"),
    "unknown": _("We cannot find a bill with this number. Check the number on your bill"),
    "paid": _("This bill has already been paid. You do not need to pay it again"),
}


def describe_bill(bill: Bill) -> str:
    """What the bill is for and how much, in the page's language."""
    locale = current_locale()
    department = DEPARTMENT_NAMES.get(bill.department, bill.department)
    return gettext(
        "Bill %(number)s from the %(department)s: %(description)s. Amount: %(amount)s, "
        "due by %(due)s.",
        number=format_bill_number(bill.bill_number),
        department=str(department),
        description=bill.description(locale),
        amount=format_hkd(bill.amount),
        due=format_day(bill.due_date),
    )


class BillNumberForm(ServiceForm):
    bill_number = TextField(
        _("Bill number"),
        [InputRequired(message=_("Enter the bill number"))],
        max_length=20,
        description=_("The 12-digit number at the top of your bill"),
    )

    def validate_bill_number(self, field: Any) -> None:
        try:
            # Shown (on check your answers) as printed on the bill.
            field.data = format_bill_number(payable_bill(field.data).bill_number)
        except BillNumberProblem as problem:
            raise ValidationError(BILL_NUMBER_MESSAGES[problem.reason]) from None


class ConfirmBillForm(ServiceForm):
    """Shows the bill found in the previous step, and asks to confirm paying it.

    The bill is shown when the portal passes the answers so far (``answers=``); without
    them the box still works, with the general hint.
    """

    confirm_payment = ConfirmField(
        _("I want to pay this bill"),
        description=_("Check the bill number and amount against your bill."),
    )

    def __init__(self, *args: Any, answers: Mapping[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bill: Bill | None = None
        number = (answers or {}).get("bill_number")
        if number:
            try:
                self.bill = payable_bill(str(number))
            except BillNumberProblem:
                self.bill = None
        if self.bill is not None:
            self.confirm_payment.description = describe_bill(self.bill)

    def validate_confirm_payment(self, field: Any) -> None:
        if not field.data:
            raise ValidationError(_("Tick the box to confirm that you want to pay this bill"))

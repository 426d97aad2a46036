"""Bill numbers and finding the bill a number names.

A bill number is 12 digits, printed in groups of four (``4000 1234 5676``). The last
digit is a check digit computed with the Luhn algorithm over the first 11: from the right
of those 11, every other digit starting with the rightmost is doubled (9 is subtracted
from a result above 9), everything is summed, and the check digit is what brings the sum
to a multiple of 10. It catches every single mistyped digit and most swaps of two
neighbouring digits, so a typing mistake gets its own message before any look-up.
"""

from __future__ import annotations

import re

from portal.toolkit import db

from .models import Bill, BillStatus

LENGTH = 12
_SEPARATORS = re.compile(r"[\s-]+")


class BillNumberProblem(ValueError):
    """Why a bill number cannot be paid: ``format``, ``check_digit``, ``unknown``, ``paid``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_digit(body: str) -> str:
    """The Luhn check digit for the digits ``body``."""
    total = 0
    for position, digit in enumerate(reversed(body)):
        value = int(digit)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str(-total % 10)


def normalise_bill_number(raw: str) -> str:
    """``4000-1234 5676`` becomes ``400012345676``; raises ``BillNumberProblem``
    (``format`` or ``check_digit``) when it cannot be a bill number."""
    compact = _SEPARATORS.sub("", raw or "")
    if not re.fullmatch(rf"[0-9]{{{LENGTH}}}", compact):
        raise BillNumberProblem("format")
    if check_digit(compact[:-1]) != compact[-1]:
        raise BillNumberProblem("check_digit")
    return compact


def format_bill_number(number: str) -> str:
    """``400012345676`` printed as on the bill: ``4000 1234 5676``."""
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


def find_bill(number: str) -> Bill | None:
    return db.session.scalar(db.select(Bill).where(Bill.bill_number == number))


def payable_bill(raw: str) -> Bill:
    """The unpaid bill ``raw`` names, or ``BillNumberProblem`` saying why there is none."""
    bill = find_bill(normalise_bill_number(raw))
    if bill is None:
        raise BillNumberProblem("unknown")
    if bill.status != BillStatus.UNPAID:
        raise BillNumberProblem("paid")
    return bill


def mark_paid(number: str, reference: str) -> bool:
    """Record that the application ``reference`` paid the bill; once only.

    A compare-and-set on the status, so a repeated or concurrent call changes nothing.
    The caller commits.
    """
    result = db.session.execute(
        db.update(Bill)
        .where(Bill.bill_number == number, Bill.status == BillStatus.UNPAID)
        .values(status=BillStatus.PAID, paid_by=reference)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1

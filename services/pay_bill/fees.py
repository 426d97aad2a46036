"""The fee is the bill's own amount, read from the bill when the application is sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.toolkit import Fee

from .bills import find_bill, normalise_bill_number


class BillNotFound(LookupError):
    """The answers name no bill (it was removed after the number was checked)."""


def bill_fee(answers: Mapping[str, Any]) -> Fee:
    """The amount of the bill named by ``bill_number``.

    Never zero for a missing bill: a zero fee would mark the application paid at once.
    """
    bill = find_bill(normalise_bill_number(str(answers["bill_number"])))
    if bill is None:
        raise BillNotFound("the bill named in the answers does not exist")
    return Fee(bill.amount)

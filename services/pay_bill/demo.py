"""Demo bills for the embedded default (``portal demo``), added once.

Bill numbers are printed with spaces as on a bill; every one has a valid check digit.
"""

from __future__ import annotations

from datetime import date

from portal.toolkit import db

from .bills import normalise_bill_number
from .models import Bill, BillStatus

#: Unpaid bills to try the service with.
WATER_BILL = "4000 1234 5676"
RATES_BILL = "3100 0052 0182"
FOOD_LICENCE_BILL = "5200 1009 8769"
TENANCY_BILL = "2700 0483 3116"
#: Already paid: shows the "already paid" message.
PAID_BILL = "6000 0777 2152"

DEMO_BILLS = [
    (WATER_BILL, "WSD", "Water and sewage charges, September to December 2026",
     "2026年9月至12月水費及排污費", 35_640, date(2027, 1, 15), BillStatus.UNPAID),
    (RATES_BILL, "RVD", "Rates and Government rent, January to March 2027",
     "2027年1月至3月差餉及地租", 214_500, date(2027, 1, 31), BillStatus.UNPAID),
    (FOOD_LICENCE_BILL, "FEHD", "Food factory licence fee, 2027",
     "2027年食物製造廠牌照費", 356_000, date(2027, 2, 28), BillStatus.UNPAID),
    (TENANCY_BILL, "LANDSD", "Short term tenancy rent, January 2027",
     "2027年1月短期租約租金", 1_280_000, date(2027, 1, 10), BillStatus.UNPAID),
    (PAID_BILL, "WSD", "Water and sewage charges, May to August 2026",
     "2026年5月至8月水費及排污費", 28_870, date(2026, 9, 20), BillStatus.PAID),
]


def add_demo_bills() -> int:
    """Add the demo bills that are missing; returns how many were added. The caller commits."""
    added = 0
    for number, department, description_en, description_zh, amount, due, status in DEMO_BILLS:
        bill_number = normalise_bill_number(number)
        exists = db.session.scalar(db.select(Bill.id).where(Bill.bill_number == bill_number))
        if exists is not None:
            continue
        db.session.add(Bill(bill_number=bill_number, department=department,
                            description_en=description_en, description_zh=description_zh,
                            amount=amount, due_date=due, status=status))
        added += 1
    db.session.flush()
    return added

"""The bills this service can be used to pay: its own table, ``pay_bill_bills``."""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import CheckConstraint, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.toolkit import db


class BillStatus(enum.StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"


class Bill(db.Model):
    """A demand note issued by a department, payable once through the portal."""

    __tablename__ = "pay_bill_bills"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('unpaid', 'paid')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Twelve digits, the last a check digit (see ``bills.py``); stored without spaces.
    bill_number: Mapped[str] = mapped_column(String(12), unique=True)
    #: Code of the department that issued the bill, e.g. ``WSD`` (not necessarily a
    #: department with staff on the portal, so not a foreign key).
    department: Mapped[str] = mapped_column(String(16))
    description_en: Mapped[str] = mapped_column(String(200))
    description_zh: Mapped[str] = mapped_column(String(100))
    #: In integer cents of HKD.
    amount: Mapped[int]
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=BillStatus.UNPAID)
    #: Reference of the application that paid it.
    paid_by: Mapped[str | None] = mapped_column(String(20))

    def description(self, locale: str) -> str:
        return self.description_zh if locale.startswith("zh") else self.description_en

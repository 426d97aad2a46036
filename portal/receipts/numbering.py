"""Receipt numbers: gapless per department, kind and Hong Kong fiscal year.

A series is ``TD/2026-27`` (credit notes ``TD/CN/2026-27``, issued documents the code their
service declared, ``TD/LIC/2026-27``); the printed number adds the
sequence, ``TD/2026-27/000123``. The counter row of the series is raised in the same short
transaction that gives the receipt its number, so a rollback gives the number back and no
number is ever skipped or taken twice: on PostgreSQL the ``UPDATE`` holds the counter's row
lock until commit; on SQLite the first write takes the database's write lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.extensions import db
from portal.receipts.models import Receipt, ReceiptCounter, ReceiptKind, ReceiptStatus

HONG_KONG = ZoneInfo("Asia/Hong_Kong")
#: The government's fiscal year starts on 1 April (Hong Kong time).
FISCAL_YEAR_FIRST_MONTH = 4


def fiscal_year(moment: datetime) -> str:
    """The Hong Kong fiscal year of ``moment`` (aware), e.g. ``2026-27``."""
    if moment.tzinfo is None:
        raise ValueError("a receipt's moment must be timezone-aware")
    local = moment.astimezone(HONG_KONG)
    start = local.year if local.month >= FISCAL_YEAR_FIRST_MONTH else local.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def series_for(department: str, kind: str, moment: datetime, code: str | None = None) -> str:
    """``TD/2026-27`` for a receipt, ``TD/CN/2026-27`` for a credit note, and for an
    issued document the series code its service declared: ``TD/LIC/2026-27``."""
    if kind == ReceiptKind.DOCUMENT:
        if not code:
            raise ValueError("an issued document's series needs its code")
        middle = f"{code}/"
    else:
        middle = "CN/" if kind == ReceiptKind.CREDIT_NOTE else ""
    return f"{department}/{middle}{fiscal_year(moment)}"


def printed_number(series: str, sequence: int) -> str:
    return f"{series}/{sequence:06d}"


def insert_unless_present(model: Any, unique_column: str, **values: Any) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite); True if inserted.

    A racing insert of the same key waits for the other transaction and then does nothing,
    with no error to recover from (no savepoint needed). ``RETURNING`` tells whether a row
    was written (the driver's rowcount is not reliable for this on every backend).
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    key = getattr(model, unique_column)
    written = db.session.execute(
        insert(model).values(**values).on_conflict_do_nothing(index_elements=[unique_column])
        .returning(key)
    ).first()
    return written is not None


def _ensure_counter(series: str) -> None:
    """Create the series' counter if missing; a racing creator is simply ignored."""
    insert_unless_present(ReceiptCounter, "series", series=series, last_sequence=0)


def take_number(receipt_id: int, series: str) -> str | None:
    """Give a pending receipt the next number of ``series`` and commit; None if it was
    not pending any more (then nothing is taken: the counter's raise is rolled back).

    Must start a fresh transaction: the caller commits or rolls back first, so on SQLite
    the first statement here is a write (no stale read snapshot to upgrade).
    """
    try:
        _ensure_counter(series)
        sequence = db.session.execute(
            update(ReceiptCounter).where(ReceiptCounter.series == series)
            .values(last_sequence=ReceiptCounter.last_sequence + 1)
            .returning(ReceiptCounter.last_sequence)
        ).scalar_one()
        number = printed_number(series, sequence)
        numbered = db.session.execute(
            update(Receipt)
            .where(Receipt.id == receipt_id, Receipt.status == ReceiptStatus.PENDING.value)
            .values(series=series, sequence=sequence, number=number,
                    status=ReceiptStatus.NUMBERED.value)
            .execution_options(synchronize_session=False)
        ).rowcount
        if numbered != 1:
            db.session.rollback()  # gives the number back
            return None
        db.session.commit()
        return number
    except BaseException:
        db.session.rollback()
        raise

"""Receipt numbers: gapless per department, kind and Hong Kong fiscal year (April-March)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.database import utcnow
from portal.extensions import db
from portal.payments.models import Refund
from portal.receipts import numbering
from portal.receipts.issue import request_credit_note
from portal.receipts.models import ReceiptCounter
from tests.receipts.conftest import fresh_receipt

HKT = ZoneInfo("Asia/Hong_Kong")


@pytest.mark.parametrize(("moment", "year"), [
    (datetime(2027, 3, 31, 23, 59, 59, tzinfo=HKT), "2026-27"),
    (datetime(2027, 4, 1, 0, 0, 0, tzinfo=HKT), "2027-28"),
    # 1 April 00:30 in Hong Kong is still 31 March in UTC: Hong Kong's date counts.
    (datetime(2027, 3, 31, 16, 30, tzinfo=UTC), "2027-28"),
    (datetime(2027, 3, 31, 15, 59, tzinfo=UTC), "2026-27"),
    (datetime(2026, 12, 31, 23, 0, tzinfo=HKT), "2026-27"),
    (datetime(2099, 6, 1, tzinfo=HKT), "2099-00"),
])
def test_the_fiscal_year_runs_from_april_to_march_in_hong_kong_time(moment, year):
    assert numbering.fiscal_year(moment) == year


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        numbering.fiscal_year(datetime(2027, 4, 1))  # noqa: DTZ001 - the point of the test


def test_series_and_printed_numbers():
    moment = datetime(2026, 11, 25, tzinfo=HKT)
    assert numbering.series_for("TD", "receipt", moment) == "TD/2026-27"
    assert numbering.series_for("TD", "credit_note", moment) == "TD/CN/2026-27"
    assert numbering.printed_number("TD/2026-27", 123) == "TD/2026-27/000123"


def test_receipts_of_one_department_and_year_are_numbered_one_after_another(
        make_payment, issue_for):
    numbers = [issue_for(make_payment()).number for _ in range(3)]
    year = numbering.fiscal_year(utcnow())
    assert numbers == [f"TD/{year}/000001", f"TD/{year}/000002", f"TD/{year}/000003"]


def test_each_department_has_its_own_series(make_payment, issue_for, create_user):
    citizen = create_user()
    first_td = issue_for(make_payment(user=citizen))
    first_immd = issue_for(make_payment(user=citizen, service="birth_record"))
    second_td = issue_for(make_payment(user=citizen))
    assert first_td.number.endswith("/000001")
    assert first_td.number.startswith("TD/")
    assert first_immd.number.startswith("IMMD/")
    assert first_immd.number.endswith("/000001")
    assert second_td.number.endswith("/000002")


def test_the_year_of_the_payment_decides_the_series_at_the_boundary(
        make_payment, issue_for, create_user):
    citizen = create_user()
    last_of_march = datetime(2027, 3, 31, 23, 59, 30, tzinfo=HKT)
    first_of_april = datetime(2027, 4, 1, 0, 0, 5, tzinfo=HKT)
    march = issue_for(make_payment(user=citizen, succeeded_at=last_of_march))
    april = issue_for(make_payment(user=citizen, succeeded_at=first_of_april))
    march_again = issue_for(make_payment(user=citizen, succeeded_at=last_of_march))
    assert march.number == "TD/2026-27/000001"
    assert april.number == "TD/2027-28/000001"
    assert march_again.number == "TD/2026-27/000002"


def _refund(payment, amount, completed_at):
    refund = Refund(public_id=secrets.token_hex(16), payment_id=payment.id, amount=amount,
                    reason="Duplicate payment", state="succeeded", created_at=completed_at,
                    updated_at=completed_at, completed_at=completed_at)
    db.session.add(refund)
    db.session.flush()
    return refund


def test_credit_notes_have_their_own_series_dated_by_the_refund(
        make_payment, issue_for, create_user):
    paid_in_march = datetime(2027, 3, 30, 10, tzinfo=HKT)
    payment = make_payment(succeeded_at=paid_in_march)
    receipt = issue_for(payment)
    refund = _refund(payment, 30_000, paid_in_march + timedelta(days=3))  # 2 April
    note_id = request_credit_note(refund).id
    db.session.commit()
    note = fresh_receipt(note_id)
    assert (note.status, note.kind, note.amount) == ("issued", "credit_note", 30_000)
    assert receipt.number == "TD/2026-27/000001"
    assert note.number == "TD/CN/2027-28/000001"
    # ... and the receipts' series is not touched by it.
    assert issue_for(make_payment(user=create_user("other@example.com"),
                                  succeeded_at=paid_in_march)).number == "TD/2026-27/000002"


def test_a_number_taken_for_a_receipt_that_is_no_longer_pending_is_given_back(
        make_payment, issue_for):
    receipt = issue_for(make_payment())
    assert numbering.take_number(receipt.id, receipt.series) is None
    counter = db.session.get(ReceiptCounter, receipt.series)
    db.session.refresh(counter)
    assert counter.last_sequence == 1

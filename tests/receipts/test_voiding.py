"""Voiding an issued receipt: once, with a reason, and the verify page then says so."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from portal.extensions import db
from portal.receipts import issue
from portal.receipts.models import Receipt
from portal.receipts.voiding import REASON_MAX_LENGTH, VoidRefused, void_receipt
from tests.receipts.conftest import fresh_receipt
from tests.receipts.test_verify_page import check_code


def void(app, *args: str):
    return app.test_cli_runner().invoke(args=["receipts", "void", *args])


@pytest.fixture
def issued(make_payment, issue_for) -> Receipt:
    receipt = issue_for(make_payment())
    assert receipt.status == "issued"
    return receipt


def test_voiding_an_issued_receipt_keeps_everything_but_marks_it(app, issued):
    result = void(app, issued.number, "--reason", "  Paid twice by mistake  ")

    assert result.exit_code == 0, result.output
    assert f"Receipt {issued.number} voided." in result.output
    after = fresh_receipt(issued.id)
    assert after.voided_at is not None
    assert after.void_reason == "Paid twice by mistake"
    assert (after.status, after.number, after.storage_key, after.signed_payload) == (
        "issued", issued.number, issued.storage_key, issued.signed_payload)


def test_voiding_twice_is_refused_and_keeps_the_first(app, issued):
    assert void(app, issued.number, "--reason", "first").exit_code == 0
    first = fresh_receipt(issued.id).voided_at

    again = void(app, issued.number, "--reason", "second")

    assert again.exit_code == 1
    assert "not voided" in again.output
    assert "already voided" in again.output
    after = fresh_receipt(issued.id)
    assert (after.voided_at, after.void_reason) == (first, "first")


def test_an_unknown_number_is_refused(app, issued):
    result = void(app, "TD/2026-27/999999", "--reason", "typo")

    assert result.exit_code == 1
    assert "no receipt numbered 'TD/2026-27/999999'" in result.output
    assert fresh_receipt(issued.id).voided_at is None


@pytest.mark.parametrize("reason", ["", "   ", "x" * (REASON_MAX_LENGTH + 1)])
def test_an_empty_or_too_long_reason_is_refused(app, issued, reason):
    result = void(app, issued.number, "--reason", reason)

    assert result.exit_code == 1
    assert "not voided" in result.output
    assert "reason" in result.output
    assert fresh_receipt(issued.id).voided_at is None


def test_the_reason_is_required(app, issued):
    result = void(app, issued.number)
    assert result.exit_code == 2
    assert fresh_receipt(issued.id).voided_at is None


def test_a_reason_of_the_longest_length_is_kept(issued):
    void_receipt(fresh_receipt(issued.id), "x" * REASON_MAX_LENGTH, actor="staff@example.gov.hk")
    assert fresh_receipt(issued.id).void_reason == "x" * REASON_MAX_LENGTH


def test_a_receipt_not_yet_issued_cannot_be_voided(make_payment, monkeypatch):
    monkeypatch.setattr("portal.jobs.enqueue", lambda *args: None)
    receipt_id = issue.request_receipt(make_payment()).id
    db.session.commit()

    with pytest.raises(VoidRefused, match="not issued yet"):
        void_receipt(fresh_receipt(receipt_id), "a mistake", actor="cli:test")
    assert fresh_receipt(receipt_id).voided_at is None


def test_who_voids_must_be_known(issued):
    with pytest.raises(VoidRefused):
        void_receipt(fresh_receipt(issued.id), "a mistake", actor=" ")
    assert fresh_receipt(issued.id).voided_at is None


def test_a_void_that_lost_the_race_is_refused(issued):
    """Another process voided it after this one read the row."""
    stale = fresh_receipt(issued.id)
    with db.engine.begin() as other:
        other.execute(update(Receipt).where(Receipt.id == issued.id)
                      .values(voided_at=stale.issued_at, void_reason="other"))

    with pytest.raises(VoidRefused, match="already voided"):
        void_receipt(stale, "mine", actor="cli:test")
    assert fresh_receipt(issued.id).void_reason == "other"


def test_the_verify_page_then_shows_it_voided(app, client, issued):
    before = check_code(client, issued.short_code).get_data(as_text=True)
    assert "now voided" not in before

    assert void(app, issued.number, "--reason", "Issued in error").exit_code == 0

    after = check_code(client, issued.short_code).get_data(as_text=True)
    assert "Genuine receipt, now voided" in after

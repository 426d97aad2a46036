"""Downloading a receipt: the citizen who paid and the department's staff, nobody else."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import pytest

from portal.extensions import db
from portal.payments.models import Refund
from portal.receipts import storage
from tests.receipts.conftest import fresh_receipt


def _url(receipt) -> str:
    return (f"/applications/{receipt.payment.application.reference}/receipts/"
            f"{receipt.public_id}.pdf")


@pytest.fixture
def issued(make_payment, issue_for):
    receipt = issue_for(make_payment())
    receipt.url = _url(receipt)
    return receipt


def test_the_citizen_who_paid_downloads_the_stored_bytes(client, sign_in, issued):
    sign_in(client)
    first = client.get(issued.url)
    assert first.status_code == 200
    assert first.mimetype == "application/pdf"
    assert first.data == storage.read(issued.storage_key)
    assert hashlib.sha256(first.data).hexdigest() == issued.sha256
    assert first.headers["Content-Disposition"] == (
        f'attachment; filename="receipt-{issued.number.replace("/", "-")}.pdf"')
    assert first.headers["Cache-Control"] == "no-store"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(issued.url).data == first.data  # the same bytes every time


def test_another_citizen_gets_404(client, sign_in, create_user, issued):
    create_user("other@example.com")
    sign_in(client, "other@example.com")
    assert client.get(issued.url).status_code == 404


def test_an_unknown_receipt_of_ones_own_application_is_404(client, sign_in, issued):
    sign_in(client)
    reference = issued.payment.application.reference
    assert client.get(f"/applications/{reference}/receipts/{'0' * 32}.pdf").status_code == 404


def test_a_receipt_asked_through_another_application_is_404(
        client, sign_in, issued, make_payment, issue_for):
    other = issue_for(make_payment())  # the same citizen's other application
    sign_in(client)
    wrong = f"/applications/{other.payment.application.reference}/receipts/{issued.public_id}.pdf"
    assert client.get(wrong).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, issued):
    response = client.get(issued.url)
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_staff_of_the_department_download_it(client, create_staff, sign_in_staff, issued):
    officer = create_staff(department_code="TD")
    sign_in_staff(client, officer)
    response = client.get(issued.url)
    assert response.status_code == 200
    assert response.data == storage.read(issued.storage_key)


def test_staff_of_another_department_get_404(client, create_staff, sign_in_staff, issued):
    officer = create_staff("immd@example.com", department_code="IMMD")
    sign_in_staff(client, officer)
    assert client.get(issued.url).status_code == 404


def test_a_changed_stored_file_is_never_served(client, sign_in, issued, caplog):
    path = storage.path_for(issued.storage_key)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    path.write_bytes(bytes(data))
    sign_in(client)
    response = client.get(issued.url)
    assert response.status_code == 500
    assert b"%PDF" not in response.data
    assert "does not match its SHA-256" in caplog.text


def test_a_missing_stored_file_is_a_logged_error(client, sign_in, issued, caplog):
    storage.path_for(issued.storage_key).unlink()
    sign_in(client)
    assert client.get(issued.url).status_code == 500
    assert "stored file missing" in caplog.text


def test_a_receipt_being_prepared_is_not_downloadable_yet(
        client, sign_in, make_payment, monkeypatch):
    from portal.receipts.issue import request_receipt

    monkeypatch.setattr("portal.jobs.enqueue", lambda *args: None)
    receipt = request_receipt(make_payment())
    db.session.commit()
    receipt = fresh_receipt(receipt.id)
    sign_in(client)
    assert client.get(_url(receipt)).status_code == 404
    page = client.get(f"/applications/{receipt.payment.application.reference}")
    assert "Receipt for HK$900.00: being prepared" in page.get_data(as_text=True)


def test_storage_keys_that_are_not_ours_are_refused(app):
    for key in ("../secret_key", "/etc/passwd", "abc.pdf", "0" * 32 + ".pdf/.."):
        with pytest.raises(ValueError, match="not a receipt storage key"):
            storage.path_for(key)


def test_the_application_page_lists_receipts_credit_notes_and_refunds(
        client, sign_in, issued):
    from portal.receipts.issue import request_credit_note

    payment = issued.payment
    refund = Refund(public_id=secrets.token_hex(16), payment_id=payment.id, amount=20_000,
                    reason="Paid twice <script>", state="succeeded",
                    completed_at=datetime(2026, 12, 2, 3, tzinfo=UTC))
    db.session.add(refund)
    db.session.flush()
    note_id = request_credit_note(refund).id
    db.session.commit()
    note = fresh_receipt(note_id)
    sign_in(client)
    page = client.get(f"/applications/{payment.application.reference}").get_data(as_text=True)
    assert f"Receipt {issued.number} (PDF)" in page
    assert f'href="{issued.url}"' in page
    assert f"Credit note {note.number} (PDF)" in page
    assert _url(note) in page
    assert "HK$200.00" in page
    assert "Refunded" in page
    assert "2 December 2026" in page
    assert "Paid twice &lt;script&gt;" in page
    assert client.get(_url(note)).headers["Content-Disposition"].startswith(
        'attachment; filename="credit-note-TD-CN-')


def test_the_application_page_lists_only_its_own_refunds_newest_first(
        client, sign_in, make_payment, issued):
    def refund(payment, amount: int, reason: str, day: int) -> None:
        moment = datetime(2026, 12, day, 3, tzinfo=UTC)
        db.session.add(Refund(public_id=secrets.token_hex(16), payment_id=payment.id,
                              amount=amount, reason=reason, state="succeeded",
                              created_at=moment, updated_at=moment, completed_at=moment))

    other = make_payment()  # the same citizen's other application
    refund(issued.payment, 10_000, "Older refund", 1)
    refund(issued.payment, 20_000, "Newer refund", 3)
    refund(other, 30_000, "Another application's refund", 2)
    db.session.commit()
    sign_in(client)

    page = client.get(f"/applications/{issued.payment.application.reference}").get_data(
        as_text=True)

    assert "Another application" not in page
    assert "HK$300.00" not in page
    assert page.index("Newer refund") < page.index("Older refund")

"""The receipt's PDF: one A4 page, English and Chinese, and nothing fetched from outside."""

from __future__ import annotations

import io
import secrets
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo

import pypdf
import pytest

from portal.extensions import db
from portal.payments.models import Refund
from portal.receipts import render, signing, storage
from portal.receipts.issue import request_credit_note
from tests.receipts.conftest import fresh_receipt

HKT = ZoneInfo("Asia/Hong_Kong")


def pdf_text(data: bytes) -> str:
    """The text as a reader sees it (poppler's pdftotext, as a citizen's viewer would)."""
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data,  # noqa: S607
                          capture_output=True, check=True)
    return done.stdout.decode()


def test_a_receipt_is_one_a4_page_in_english_and_chinese(make_payment, issue_for):
    paid = datetime(2026, 11, 25, 16, 5, tzinfo=HKT)
    receipt = issue_for(make_payment(succeeded_at=paid, amount=123_400))
    data = storage.read(receipt.storage_key)
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    text = pdf_text(data)
    for expected in ("Transport Department", "運輸署",  # the department, in both languages
                     "Renew a driving licence", "駕駛執照續期",  # the service, in both
                     "Receipt", "HK$1,234.00", "2026-11-25 16:05 HKT", receipt.number,
                     receipt.payment.application.reference, receipt.payment.provider_reference,
                     receipt.short_code, "/verify"):
        assert expected in text, expected
    assert signing.masked_name(receipt.payment.application.user) in text
    assert "陳大文" not in text
    assert "CHAN Tai Man" not in text


def test_the_signed_payload_travels_inside_the_pdf(make_payment, issue_for):
    receipt = issue_for(make_payment())
    reader = pypdf.PdfReader(io.BytesIO(storage.read(receipt.storage_key)))
    assert reader.attachments[signing.PAYLOAD_ATTACHMENT_NAME] == [
        receipt.signed_payload.encode()]


def test_the_pdf_is_tagged_and_names_its_font(make_payment, issue_for):
    receipt = issue_for(make_payment())
    reader = pypdf.PdfReader(io.BytesIO(storage.read(receipt.storage_key)))
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    assert reader.metadata.title.startswith("Receipt")
    fonts = subprocess.run(["pdffonts", "-"], input=storage.read(receipt.storage_key),  # noqa: S607
                           capture_output=True, check=True).stdout.decode()
    assert "Noto-Sans-CJK-TC" in fonts


def test_payment_by_fps_is_printed_as_fps(make_payment, issue_for):
    receipt = issue_for(make_payment(method="fps"))
    assert "FPS" in pdf_text(storage.read(receipt.storage_key))


def test_a_credit_note_names_the_refund_and_the_original_receipt(make_payment, issue_for):
    payment = make_payment()
    receipt = issue_for(payment)
    refund = Refund(public_id=secrets.token_hex(16), payment_id=payment.id, amount=25_050,
                    reason="Licence issued for <b>fewer</b> years", state="succeeded",
                    completed_at=datetime(2026, 12, 1, 9, 30, tzinfo=HKT))
    db.session.add(refund)
    db.session.flush()
    note = fresh_receipt(request_credit_note(refund).id)
    db.session.commit()
    note = fresh_receipt(note.id)
    assert note.status == "issued"
    text = pdf_text(storage.read(note.storage_key))
    for expected in ("Credit note", "HK$250.50", receipt.number, note.number,
                     "Licence issued for <b>fewer</b> years", "2026-12-01 09:30 HKT", "運輸署"):
        assert expected in text, expected


# --- nothing is fetched ------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "FILE:///etc/hostname",
    "http://127.0.0.1:9/x.css",
    "https://example.com/logo.png",
    "ftp://example.com/x",
    "data:image/png;base64,iVBORw0KGgo=",  # a data URI this render did not create
])
def test_the_url_fetcher_refuses_everything_it_was_not_given(url):
    with pytest.raises(ValueError, match="refused"):
        render.RefusingURLFetcher(["data:text/plain,ours"]).fetch(url)


def test_the_url_fetcher_gives_back_its_own_data_uris():
    fetcher = render.RefusingURLFetcher(["data:text/plain,ours", "data:image/png;base64,AAEC"])
    assert fetcher.fetch("data:text/plain,ours").read() == b"ours"
    response = fetcher.fetch("data:image/png;base64,AAEC")
    assert (response.content_type, response.read()) == ("image/png", b"\x00\x01\x02")


def test_a_page_asking_for_local_files_and_hosts_renders_without_them(app, monkeypatch):
    asked: list[str] = []
    refuse = render.RefusingURLFetcher.fetch

    def spy(self, url, headers=None):
        asked.append(url)
        return refuse(self, url, headers)

    monkeypatch.setattr(render.RefusingURLFetcher, "fetch", spy)
    secret_file = "file:///etc/hostname"
    html = (f'<link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
            f'<img src="{secret_file}"><p style="background: url(https://example.com/a.png)">'
            f"Hello 你好</p>")
    pdf = render.html_to_pdf(html)
    assert pdf.startswith(b"%PDF")
    assert secret_file in asked
    assert "http://127.0.0.1:9/x.css" in asked
    assert "Hello" in pdf_text(pdf)

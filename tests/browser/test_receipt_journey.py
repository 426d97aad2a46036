"""A citizen pays by card and by FPS in a real browser, in each language, and downloads
the receipts; the PDFs carry both languages and their short codes verify on /verify.

Applications are built quickly over HTTP with the test client; the browser signs in as
the same citizen and does the paying, downloading and verifying.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.receipts import storage
from portal.receipts.models import Receipt
from services.pay_bill.demo import WATER_BILL, add_demo_bills
from tests.browser.support import sign_in_citizen
from tests.browser.test_payments_journey import (
    FEE,
    GOOD_CARD,
    LANGUAGES,
    _application_awaiting_payment,
    _pay_by_card,
    _press_pay,
    _words,
)
from tests.services.test_journeys import answer, reference_of, start, submit

pytestmark = pytest.mark.browser

BILL_AMOUNT = "HK$356.40"


def _bill_awaiting_payment(client) -> str:
    """The signed-in citizen sends the demo water bill for payment; its reference."""
    url = start(client, "pay_bill")
    url = answer(client, url, {"bill_number": WATER_BILL})
    url = answer(client, url, {"confirm_payment": "y"})
    _html, url = submit(client, url)
    return reference_of(url)


def _pdf_text(path: str) -> str:
    return subprocess.run(["pdftotext", "-layout", path, "-"], check=True,
                          capture_output=True, text=True).stdout


def _download_receipt(page: Any, tmp_path, name: str) -> str:
    """The application page's receipt link, downloaded; the PDF's text.

    The file is exactly the stored receipt, named after its number.
    """
    link = page.locator("main a[href$='.pdf']", has_text=re.compile(r"/\d{4}-\d{2}/\d{6}"))
    expect(link).to_have_count(1)
    with page.expect_download() as download:
        link.click()
    target = tmp_path / f"{name}.pdf"
    download.value.save_as(target)
    db.session.rollback()
    public_id = link.get_attribute("href").rsplit("/", 1)[1].removesuffix(".pdf")
    receipt = db.session.scalar(select(Receipt).where(Receipt.public_id == public_id))
    assert download.value.suggested_filename == (
        "receipt-" + receipt.number.replace("/", "-") + ".pdf")
    assert target.read_bytes() == storage.read(receipt.storage_key)
    return _pdf_text(str(target))


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_citizen_pays_by_card_and_by_fps_and_gets_verifiable_receipts(
    language, client, new_context, create_user, create_department, sign_in, tmp_path
):
    browser_locale, portal_locale, html_lang = LANGUAGES[language]
    t = _words(language)
    email = f"receipts.{language.lower()}@example.com"
    licence = _application_awaiting_payment(
        client, create_user, create_department, sign_in, email=email,
        preferred_language=portal_locale)
    create_department("TRY", "Treasury", "庫務署")
    add_demo_bills()
    db.session.commit()
    bill_reference = _bill_awaiting_payment(client)
    page = new_context(locale=browser_locale).new_page()

    # By card: the licence renewal.
    sign_in_citizen(page, email, next_path=f"/applications/{licence.reference}")
    expect(page.locator("html")).to_have_attribute("lang", html_lang)
    _press_pay(page, t)
    _pay_by_card(page, GOOD_CARD)
    expect(page).to_have_url(re.compile(rf"/applications/{licence.reference}$"))
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        t("Payment received. Thank you."))
    card_text = _download_receipt(page, tmp_path, "card")

    # By FPS: the bill.
    page.goto(f"/applications/{bill_reference}")
    button = page.locator("main form[action$='/pay']").get_by_role(
        "button", name=t("Pay %(amount)s") % {"amount": BILL_AMOUNT}, exact=True)
    with page.expect_navigation():
        button.click()
    with page.expect_navigation():
        page.locator('[data-test="sandbox-choose-fps"]').click()
    expect(page.locator('[data-test="sandbox-fps-qr"] svg')).to_be_visible()
    with page.expect_navigation():
        page.locator('[data-test="sandbox-fps-paid"]').click()
    expect(page).to_have_url(re.compile(rf"/applications/{bill_reference}$"))
    fps_text = _download_receipt(page, tmp_path, "fps")

    # Both PDFs in both languages, with what the citizen paid and how.
    db.session.rollback()
    receipts = {r.payment.application.reference: r for r in db.session.scalars(select(Receipt))}
    assert set(receipts) == {licence.reference, bill_reference}
    for text, reference, amount, department in (
        (card_text, licence.reference, FEE, ("Transport Department", "運輸署")),
        (fps_text, bill_reference, BILL_AMOUNT, ("Treasury", "庫務署")),
    ):
        receipt = receipts[reference]
        assert receipt.number in text
        assert reference in text
        assert amount in text
        for words in department:
            assert words in text
        assert "Receipt" in text
        assert "收據" in text
        assert receipt.short_code in text
    assert "FPS" in fps_text
    assert "轉數快" in fps_text

    # The short code typed in on the verify page, in the page's language.
    page.goto("/verify")
    page.fill("input[name=code]", receipts[licence.reference].short_code.lower())
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    expect(page.locator("main")).to_contain_text(receipts[licence.reference].number)
    expect(page.locator("main")).to_contain_text(FEE)

"""The back office's whole journey in a real browser, in each language.

A citizen applies for a licence renewal (over HTTP, quickly) and pays by card in the
browser; an officer signs in with a TOTP code, finds the case in the work queue, claims
it and asks for more information; the citizen sees the task on the dashboard and answers
in Chinese with a document; the officer sees the reply and approves; the citizen
downloads the renewed licence and the receipt, and both PDFs carry what they should.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.applications.models import Application, CaseMessage, MessageKind
from portal.extensions import db
from portal.notifications.models import OutboxEmail
from portal.receipts.models import Receipt
from tests.browser.support import sign_in_citizen, sign_in_staff, submit_form, zh
from tests.browser.test_payments_journey import (
    GOOD_CARD,
    LANGUAGES,
    _application_awaiting_payment,
    _pay_by_card,
    _press_pay,
    _words,
)
from tests.services.test_journeys import PNG

pytestmark = pytest.mark.browser

QUESTION = {
    "en": "Your photo is blurred. Please send a clear photo taken in the last six months.",
    "zh-HK": "你的相片模糊不清。請提交一張近六個月內拍攝的清晰相片。",
}
#: The citizen answers in Chinese in both runs: the text must arrive exactly as typed.
ANSWER = "已附上新的相片（2026年11月拍攝），請查收。謝謝！"


def _pdf_text(path: str) -> str:
    return subprocess.run(["pdftotext", "-layout", path, "-"], check=True,
                          capture_output=True, text=True).stdout


def _state(reference: str) -> str:
    db.session.rollback()
    return db.session.scalar(select(Application.state).where(Application.reference == reference))


def _download(page: Any, link: Any, target) -> str:
    with page.expect_download() as download:
        link.click()
    download.value.save_as(target)
    return _pdf_text(str(target))


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_an_officer_asks_for_more_and_approves_and_the_citizen_gets_the_licence(
    language, client, new_context, create_user, create_department, create_staff, sign_in,
    tmp_path,
):
    browser_locale, portal_locale, html_lang = LANGUAGES[language]
    t = _words(language)
    email = f"casework.{language.lower()}@example.com"
    application = _application_awaiting_payment(
        client, create_user, create_department, sign_in, email=email,
        preferred_language=portal_locale)
    reference = application.reference
    officer = create_staff(f"officer.{language.lower()}@example.com", role="officer",
                           name_en="LEE Ka Yan", name_zh="李嘉欣",
                           preferred_language=portal_locale)

    # The citizen pays by card.
    citizen = new_context(locale=browser_locale).new_page()
    sign_in_citizen(citizen, email, next_path=f"/applications/{reference}")
    expect(citizen.locator("html")).to_have_attribute("lang", html_lang)
    _press_pay(citizen, t)
    _pay_by_card(citizen, GOOD_CARD)
    expect(citizen).to_have_url(re.compile(rf"/applications/{reference}$"))
    assert _state(reference) == "received"

    # The officer signs in with a code, finds the case in the queue and claims it.
    staff = new_context(locale=browser_locale).new_page()
    sign_in_staff(staff, officer, next_path="/staff/queue")
    expect(staff.locator("html")).to_have_attribute("lang", html_lang)
    case_link = staff.locator("main a", has_text=reference)
    expect(case_link).to_have_count(1)
    with staff.expect_navigation():
        case_link.click()
    expect(staff).to_have_url(re.compile(rf"/staff/cases/{reference}$"))
    with staff.expect_navigation():
        staff.locator('[data-test="claim"]').click()
    expect(staff.locator('[data-test="action-request_information"]')).to_be_visible()

    # ... and asks for more information.
    with staff.expect_navigation():
        staff.locator('[data-test="action-request_information"]').click()
    staff.fill("#message", QUESTION[language])
    with staff.expect_navigation():
        staff.locator('[data-test="confirm"]').click()
    expect(staff).to_have_url(re.compile(rf"/staff/cases/{reference}$"))
    assert _state(reference) == "awaiting_information"
    asked = db.session.scalar(select(OutboxEmail).where(
        OutboxEmail.application_id == application.id,
        OutboxEmail.kind == "applications/information_requested"))
    assert asked is not None
    assert asked.locale == portal_locale
    assert QUESTION[language] in asked.body_text

    # The citizen sees the task on the dashboard and answers, in Chinese, with a photo.
    citizen.goto("/dashboard")
    attention = citizen.locator('[data-test="attention"]')
    expect(attention).to_contain_text(reference)
    with citizen.expect_navigation():
        attention.locator("a", has_text=reference).click()
    expect(citizen).to_have_url(re.compile(rf"/applications/{reference}/reply$"))
    expect(citizen.locator('[data-test="request-text"]')).to_have_text(QUESTION[language])
    citizen.fill("#message", ANSWER)
    photo = tmp_path / "new-photo.png"
    photo.write_bytes(PNG)
    # GOV.UK Frontend's enhanced file upload puts a button over the input itself.
    citizen.set_input_files("main input[type=file][name=documents]", str(photo))
    submit_form(citizen)
    assert _state(reference) == "received"
    reply = db.session.scalar(select(CaseMessage).where(CaseMessage.kind == MessageKind.REPLY))
    assert reply.body == ANSWER

    # The officer sees the reply and approves.
    staff.reload()
    expect(staff.locator("main")).to_contain_text(ANSWER)
    expect(staff.locator("main")).to_contain_text("new-photo.png")
    with staff.expect_navigation():
        staff.locator('[data-test="action-approve"]').click()
    with staff.expect_navigation():
        staff.locator('[data-test="confirm"]').click()
    assert _state(reference) == "approved"

    # The citizen downloads the renewed licence and the receipt.
    licence_name = t("Licence %(number)s (PDF)").split("%(number)s")[0].strip()
    citizen.goto(f"/applications/{reference}")
    licence_link = citizen.locator("main a[href$='.pdf']", has_text=licence_name)
    for _attempt in range(10):  # issued by a job just after the approval's response
        if licence_link.count():
            break
        citizen.wait_for_timeout(300)
        citizen.reload()
    expect(licence_link).to_have_count(1)
    db.session.rollback()
    licence = db.session.scalar(select(Receipt).where(Receipt.kind == "document"))
    receipt = db.session.scalar(select(Receipt).where(Receipt.kind == "receipt"))
    licence_text = _download(citizen, licence_link, tmp_path / "licence.pdf")
    assert licence.number in licence_text
    assert reference in licence_text
    driving_licence = "Driving licence" if language == "en" else zh(
        "Driving licence", service="licence_renewal")
    assert driving_licence in licence_text
    assert "運輸署" in licence_text
    assert "Transport Department" in licence_text
    assert licence.short_code in licence_text
    receipt_link = citizen.locator("main a[href$='.pdf']", has_text=receipt.number)
    receipt_text = _download(citizen, receipt_link, tmp_path / "receipt.pdf")
    assert receipt.number in receipt_text
    assert "收據" in receipt_text
    assert "Receipt" in receipt_text

    # The licence's code verifies like a receipt's.
    citizen.goto("/verify")
    citizen.fill("input[name=code]", licence.short_code)
    with citizen.expect_navigation():
        citizen.locator("main form button[type=submit]").click()
    expect(citizen.locator("main")).to_contain_text(licence.number)

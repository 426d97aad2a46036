"""A citizen pays an application's fee in a real browser, through the sandbox's hosted page.

The application is built quickly over HTTP with the test client; the browser then signs
in as the same citizen through the real form and does the paying: a declined card first,
then a card that goes through (and, in a second test, a card the bank checks first).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from portal.applications.models import Application, ApplicationEvent
from portal.extensions import db
from portal.i18n import CHINESE, ENGLISH, format_day
from portal.payments.models import Payment
from tests.browser.support import sign_in_citizen, zh
from tests.services.test_journeys import PNG, answer, reference_of, start, submit

pytestmark = pytest.mark.browser

#: Set ``PORTAL_BROWSER_SHOTS`` to a folder to keep a screenshot of each stage there.
SHOTS = os.environ.get("PORTAL_BROWSER_SHOTS")
FEE = "HK$900.00"
DECLINED_CARD = "4000 0000 0000 0002"
GOOD_CARD = "4242 4242 4242 4242"
CHALLENGE_CARD = "4000 0000 0000 3220"

#: Each language: the browser's locale, the portal's, and the words as the page shows them.
LANGUAGES = {
    "en": ("en-GB", ENGLISH, "en"),
    "zh-HK": ("zh-HK", CHINESE, "zh-HK"),
}


def _words(language: str):
    """``t(msgid)``: the core's message as the page in ``language`` shows it."""
    if language == "en":
        return lambda msgid: msgid
    return zh


def _application_awaiting_payment(client, create_user, create_department, sign_in,
                                  *, email: str, preferred_language: str) -> Application:
    """A licence renewal (full, 10 years: HK$900) sent over HTTP by a fresh citizen."""
    create_department("TD", "Transport Department", "運輸署")
    create_user(email, preferred_language=preferred_language,
                address_flat="Flat A, 12/F", address_street="18 Nathan Road",
                district="yau_tsim_mong", mobile="+85291234567")
    sign_in(client, email)
    url = start(client, "licence_renewal")
    url = answer(client, url, {"licence_number": "A123456(3)"})
    url = answer(client, url, {"licence_type": "full"})
    url = answer(client, url, {"validity_period": "10_years"})
    url = answer(client, url, {"photo": (io.BytesIO(PNG), "me.png")},
                 content_type="multipart/form-data")
    url = answer(client, url, {"address_flat": "Flat A, 12/F", "address_building": "",
                               "address_street": "18 Nathan Road",
                               "district": "yau_tsim_mong"})
    url = answer(client, url, {"medical_condition": "no", "health_declaration": "y"})
    _html, url = submit(client, url)
    application = db.session.scalar(
        select(Application).where(Application.reference == reference_of(url)))
    assert (application.state, application.fee_amount) == ("awaiting_payment", 90_000)
    return application


def _summary_row(page: Any, key: str) -> Any:
    """The row of the application's first summary list whose key is ``key``."""
    rows = page.locator("main .govuk-summary-list").first.locator(".govuk-summary-list__row")
    return rows.filter(has=page.locator("dt", has_text=key))


def _press_pay(page: Any, t) -> None:
    """The application page's pay button, to the sandbox's card page."""
    button = page.locator("main form[action$='/pay']").get_by_role(
        "button", name=t("Pay %(amount)s") % {"amount": FEE}, exact=True)
    with page.expect_navigation():
        button.click()
    expect(page).to_have_url(re.compile(r"/sandbox-pay/[^/]+$"))
    expect(page.locator('[data-test="sandbox-banner"]')).to_contain_text(t("Sandbox Pay"))
    expect(page.locator('[data-test="sandbox-amount"]')).to_have_text(FEE)
    expect(page.locator("#card_number")).to_be_visible()


def _pay_by_card(page: Any, number: str) -> None:
    """Fill in the card form and press its own submit button.

    Found through ``#card_number``, so another way to pay on the page (FPS, say) is left be.
    """
    card_form = page.locator("form").filter(has=page.locator("#card_number"))
    expect(card_form).to_have_count(1)
    page.fill("#card_number", number)
    page.fill("#expiry", "04/39")
    page.fill("#cvc", "123")
    page.fill("#cardholder_name", "CHAN TAI MAN")
    with page.expect_navigation():
        card_form.locator("button[type=submit]").click()


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_citizen_pays_after_a_declined_card(
    language, client, new_context, create_user, create_department, sign_in
):
    """Declined first, back to the portal, then paid: two payments, one move to received."""
    browser_locale, portal_locale, html_lang = LANGUAGES[language]
    t = _words(language)
    email = f"pay.{language.lower()}@example.com"
    application = _application_awaiting_payment(
        client, create_user, create_department, sign_in,
        email=email, preferred_language=portal_locale)
    reference = application.reference
    page = new_context(locale=browser_locale).new_page()

    # Signed in through the real form, straight to the application page.
    sign_in_citizen(page, email, next_path=f"/applications/{reference}")
    expect(page.locator("html")).to_have_attribute("lang", html_lang)
    expect(_summary_row(page, t("Status")).locator(".govuk-tag")).to_have_text(
        t("Awaiting payment"))

    # A declined card: the sandbox says so, and sends the citizen back.
    _press_pay(page, t)
    _shot(page, f"{language}-0-sandbox")
    _pay_by_card(page, DECLINED_CARD)
    expect(page.locator('[data-test="sandbox-outcome"]')).to_have_text(
        t("Your card was declined"))
    _shot(page, f"{language}-1-declined")
    back = page.locator('[data-test="sandbox-back"]')
    expect(back).to_have_text(t("Go back to the service"))
    with page.expect_navigation():
        back.click()
    expect(page).to_have_url(re.compile(rf"/applications/{reference}$"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        t("The payment was not made. You can try again."))
    expect(_summary_row(page, t("Status")).locator(".govuk-tag")).to_have_text(
        t("Awaiting payment"))
    payments = page.locator("main h2", has_text=t("Payments")).locator(
        "xpath=following-sibling::dl[1]").locator(".govuk-summary-list__row")
    expect(payments).to_have_count(1)
    expect(payments.locator(".govuk-tag")).to_have_text(t("Not paid: declined"))
    _shot(page, f"{language}-2-not-paid")

    # Again, with a card that goes through: straight back to the application, received.
    _press_pay(page, t)
    _pay_by_card(page, GOOD_CARD)
    expect(page).to_have_url(re.compile(rf"/applications/{reference}$"))
    expect(page.locator("html")).to_have_attribute("lang", html_lang)
    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_contain_text(t("Payment received. Thank you."))
    expect(_summary_row(page, t("Status")).locator(".govuk-tag")).to_have_text(t("Received"))
    expect(page.locator("main form[action$='/pay']")).to_have_count(0)
    expect(payments).to_have_count(2)
    expect(payments.locator(".govuk-tag")).to_have_text(
        [t("Paid"), t("Not paid: declined")])  # newest first
    expect(payments.first).to_contain_text(FEE)

    db.session.rollback()
    application = db.session.scalar(select(Application).where(Application.id == application.id))
    assert application.decision_due is not None
    day = format_day(application.decision_due, locale=portal_locale)
    due = t("We expect to decide by %(date)s") % {"date": day}
    expect(_summary_row(page, t("Expected decision")).locator("dd")).to_have_text(due)
    _shot(page, f"{language}-3-paid")

    # The ledger: one failed payment, one that succeeded; the application moved once.
    states = db.session.scalars(
        select(Payment.state).where(Payment.application_id == application.id)
        .order_by(Payment.id)).all()
    assert states == ["failed", "succeeded"]
    assert application.state == "received"
    paid_events = db.session.scalar(
        select(func.count()).select_from(ApplicationEvent).where(
            ApplicationEvent.application_id == application.id,
            ApplicationEvent.action == "payment_received"))
    assert paid_events == 1


def test_citizen_approves_the_bank_check_and_pays(
    client, new_context, create_user, create_department, sign_in
):
    """A card the bank checks first: approve on its page, and the fee is paid."""
    t = _words("en")
    email = "pay.check@example.com"
    application = _application_awaiting_payment(
        client, create_user, create_department, sign_in,
        email=email, preferred_language=ENGLISH)
    reference = application.reference
    page = new_context().new_page()
    sign_in_citizen(page, email, next_path=f"/applications/{reference}")

    _press_pay(page, t)
    _pay_by_card(page, CHALLENGE_CARD)
    expect(page).to_have_url(re.compile(r"/sandbox-pay/.+/challenge$"))
    expect(page.locator("h1")).to_have_text("Confirm the payment with your bank")
    expect(page.locator("main")).to_contain_text("card ending 3220")
    _shot(page, "en-4-bank-check")
    with page.expect_navigation():
        page.locator('[data-test="sandbox-approve"]').click()

    expect(page).to_have_url(re.compile(rf"/applications/{reference}$"))
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Payment received. Thank you.")
    expect(_summary_row(page, "Status").locator(".govuk-tag")).to_have_text("Received")
    payments = page.locator("main h2", has_text="Payments").locator(
        "xpath=following-sibling::dl[1]").locator(".govuk-summary-list__row")
    expect(payments.locator(".govuk-tag")).to_have_text(["Paid"])

    db.session.rollback()
    payment = db.session.scalar(select(Payment).where(Payment.application_id == application.id))
    assert (payment.state, payment.method) == ("succeeded", "card")
    assert db.session.scalar(
        select(Application.state).where(Application.id == application.id)) == "received"

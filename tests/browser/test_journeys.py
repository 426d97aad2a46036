"""Whole journeys through the portal in a real browser."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect

from portal.testing.helpers import links_in, path_of
from portal.testing.plugin import DEFAULT_PASSWORD, current_totp
from tests.browser.support import sign_in, submit_form, zh

pytestmark = pytest.mark.browser

CITIZEN = {
    "email": "wong.ka-ming@example.com",
    "name_en": "WONG Ka Ming",
    "name_zh": "黃家明",
    "password": "Lantau-Ferry-Morning-77",
}


def test_citizen_registers_confirms_signs_in_switches_language_and_signs_out(
    page, live_server, smtp_sink
):
    page.goto("/register")
    expect(page.locator("h1")).to_have_text("Create an account")
    page.fill("#email", CITIZEN["email"])
    page.fill("#name_en", CITIZEN["name_en"])
    page.fill("#name_zh", CITIZEN["name_zh"])
    page.fill("#password", CITIZEN["password"])
    page.get_by_role("radio", name="English", exact=True).check()
    submit_form(page)

    expect(page).to_have_url(re.compile(r"/register/check-your-email$"))
    expect(page.locator("h1")).to_have_text("Check your email")
    expect(page.locator("main")).to_contain_text(CITIZEN["email"])

    [message] = smtp_sink.wait_for(CITIZEN["email"])
    [link] = [url for url in links_in(message) if "/confirm/" in url]
    page.goto(path_of(link))

    expect(page).to_have_url(re.compile(r"/sign-in$"))
    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_contain_text("Your email address is confirmed")

    page.fill("#email", CITIZEN["email"])
    page.fill("#password", CITIZEN["password"])
    submit_form(page)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("h1")).to_have_text("Your applications")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    with page.expect_navigation():
        page.locator("header").get_by_role("link", name="繁體中文").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-HK")
    expect(page.locator("h1")).to_have_text(zh("Your applications"))
    # The way back is offered in English, marked up as English.
    expect(page.locator('header a[lang="en"]')).to_have_text("English")

    with page.expect_navigation():
        page.locator('[data-test="sign-out"]').click()
    expect(page).to_have_url(live_server + "/")
    expect(page.locator('[data-test="sign-out"]')).to_have_count(0)
    expect(page.locator(".govuk-notification-banner--success")).to_be_visible()


def test_staff_signs_in_with_password_and_security_code(page, create_staff):
    officer = create_staff()
    sign_in(page, officer.email)
    expect(page).to_have_url(re.compile(r"/sign-in/security-code$"))
    expect(page.locator("h1")).to_have_text("Enter your security code")

    page.fill("#code", current_totp(officer.test_totp_secret))
    submit_form(page)
    expect(page).to_have_url(re.compile(r"/staff/$"))
    expect(page.locator("h1")).to_have_text("Staff home")
    expect(page.locator("main")).to_contain_text("Transport Department")


def test_staff_without_security_code_sets_one_up_at_first_sign_in(
    page, create_user, create_department
):
    officer = create_user(
        "new.officer@example.com", role="officer", department=create_department("TD")
    )
    sign_in(page, officer.email)
    expect(page).to_have_url(re.compile(r"/sign-in/set-up-security-code$"))
    expect(page.locator("h1")).to_have_text("Set up your security code")
    expect(page.locator("main svg").first).to_be_visible()

    secret_text = page.locator('[data-test="totp-secret"]').inner_text()
    secret = re.sub(r"\s", "", secret_text)
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret_text

    page.fill("#code", pyotp.TOTP(secret).now())
    submit_form(page)
    expect(page).to_have_url(re.compile(r"/staff/$"))
    expect(page.locator("h1")).to_have_text("Staff home")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Your authenticator app is set up"
    )


def test_an_empty_sign_in_form_shows_an_error_summary_linked_to_the_fields(page):
    page.goto("/sign-in")
    submit_form(page)

    assert page.title().startswith("Error:"), page.title()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("There is a problem")
    # It comes before the form, and GOV.UK Frontend moves focus to it.
    assert summary.evaluate(
        "el => !!(el.compareDocumentPosition(document.querySelector('main form')) "
        "& Node.DOCUMENT_POSITION_FOLLOWING)"
    )
    expect(summary).to_be_focused()

    email_link = summary.locator('a[href="#email"]')
    expect(email_link).to_have_text("Enter your email address")
    expect(summary.locator('a[href="#password"]')).to_have_text("Enter your password")
    # Each field repeats its own message, and the link takes you to it.
    expect(page.locator("#email-error")).to_contain_text("Enter your email address")
    expect(page.locator("#password-error")).to_contain_text("Enter your password")
    email_link.click()
    expect(page.locator("#email")).to_be_focused()


def test_staff_keep_the_language_they_chose_before_signing_in(page, create_staff):
    # The officer's profile says English, but they switch to Chinese on the sign-in page:
    # the choice made with the switch comes first, as it does for citizens.
    officer = create_staff(preferred_language="en")
    page.goto("/language/zh-hk?next=/sign-in")
    expect(page.locator("html")).to_have_attribute("lang", "zh-HK")
    page.fill("#email", officer.email)
    page.fill("#password", DEFAULT_PASSWORD)
    submit_form(page)

    expect(page).to_have_url(re.compile(r"/sign-in/security-code$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-HK")
    expect(page.locator("h1")).to_have_text(zh("Enter your security code"))
    page.fill("#code", current_totp(officer.test_totp_secret))
    submit_form(page)
    expect(page).to_have_url(re.compile(r"/staff/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-HK")
    expect(page.locator("h1")).to_have_text(zh("Staff home"))


@pytest.mark.parametrize("language", ["en", "zh-hk"])
def test_home_page_does_not_scroll_sideways_on_a_phone(new_context, language):
    page = new_context(
        viewport={"width": 375, "height": 800}, is_mobile=True, has_touch=True
    ).new_page()
    page.goto(f"/language/{language}?next=/")
    expect(page.locator("html")).to_have_attribute("lang", "en" if language == "en" else "zh-HK")
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["inner"], widths


_SCROLL_WIDTHS = """() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    // The innermost blocks whose content sticks out of them.
    wider: [...document.querySelectorAll("main *")]
        .filter(el => el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0
                      && getComputedStyle(el).display !== "inline"
                      && getComputedStyle(el).overflowX === "visible")
        .slice(-2)
        .map(el => `<${el.tagName.toLowerCase()} class="${el.className}">`
                   + el.textContent.trim().slice(0, 160)),
})"""


@pytest.mark.parametrize("language", ["en", "zh-hk"])
@pytest.mark.parametrize(
    "path", ["/", "/sign-in", "/register", "/help", "/accessibility", "/privacy"]
)
def test_text_pages_reflow_at_320_css_pixels(new_context, path, language):
    """WCAG 1.4.10 Reflow: no sideways scrolling at 320 px (400% zoom of 1280 px)."""
    page = new_context(viewport={"width": 320, "height": 800}).new_page()
    page.goto(f"/language/{language}?next={path}")
    widths = page.evaluate(_SCROLL_WIDTHS)
    assert widths["scroll"] <= widths["inner"], widths

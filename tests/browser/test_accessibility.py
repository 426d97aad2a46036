"""axe-core checks (WCAG 2.1 A and AA) of every page, in English and in Chinese.

Each case sets up the page the way a person would reach it (signing in through the real
forms, submitting a form to show its errors), switches the language with the header's
``/language/<code>`` link, and runs axe on what the browser shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.support import sign_in, sign_in_citizen, sign_in_staff, submit_form, zh

pytestmark = pytest.mark.browser

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
#: URL code of the language switch -> (browser locale, expected ``<html lang>``).
LANGUAGES = {"en": ("en-GB", "en"), "zh-hk": ("zh-HK", "zh-HK")}

_axe = Axe()


class Setup:
    """What a case may use to build its page: the page, the language and user factories."""

    def __init__(self, page: Any, language: str, request: pytest.FixtureRequest) -> None:
        self.page = page
        self.language = language
        self.request = request

    def fixture(self, name: str) -> Any:
        return self.request.getfixturevalue(name)

    def open(self, path: str) -> None:
        """Go to ``path`` through the language switch, so the session has the language."""
        self.page.goto(f"/language/{self.language}?next={quote(path)}")
        assert self.page.url.endswith(path), self.page.url


def _shows_errors(s: Setup) -> None:
    assert s.page.locator(".govuk-error-summary").count() == 1, "no error summary"
    prefix = "Error:" if s.language == "en" else zh("Error:")
    assert s.page.title().startswith(prefix), s.page.title()


def _public(path: str) -> Callable[[Setup], None]:
    def setup(s: Setup) -> None:
        s.open(path)

    return setup


def _submitted_empty(path: str) -> Callable[[Setup], None]:
    def setup(s: Setup) -> None:
        s.open(path)
        submit_form(s.page)
        _shows_errors(s)

    return setup


def _citizen(path: str) -> Callable[[Setup], None]:
    def setup(s: Setup) -> None:
        user = s.fixture("create_user")("citizen@example.com")
        sign_in_citizen(s.page, user.email, next_path=path)
        s.open(path)

    return setup


def _details_with_error(s: Setup) -> None:
    _citizen("/account/details")(s)
    s.page.fill("#mobile", "123")
    submit_form(s.page)
    _shows_errors(s)


def _staff(path: str, *, admin: bool = False) -> Callable[[Setup], None]:
    def setup(s: Setup) -> None:
        create_staff = s.fixture("create_staff")
        if admin:
            user = create_staff(
                email="admin@example.com", role="portal_admin", department_code=None
            )
        else:
            user = create_staff()
        sign_in_staff(s.page, user, next_path=path)
        s.open(path)

    return setup


def _security_code(s: Setup) -> None:
    user = s.fixture("create_staff")()
    sign_in(s.page, user.email)
    s.page.wait_for_url(re.compile(r"/sign-in/security-code$"))
    s.open("/sign-in/security-code")


def _security_code_with_error(s: Setup) -> None:
    _security_code(s)
    submit_form(s.page)
    _shows_errors(s)


def _enrolment(s: Setup) -> None:
    department = s.fixture("create_department")("TD")
    user = s.fixture("create_user")(
        "new.officer@example.com", role="officer", department=department
    )
    sign_in(s.page, user.email)
    s.page.wait_for_url(re.compile(r"/sign-in/set-up-security-code$"))
    s.open("/sign-in/set-up-security-code")


#: id -> (how to reach the page, the HTTP status it answers with)
PAGES: dict[str, tuple[Callable[[Setup], None], int]] = {
    "home": (_public("/"), 200),
    "sign-in": (_public("/sign-in"), 200),
    "sign-in-errors": (_submitted_empty("/sign-in"), 200),
    "register": (_public("/register"), 200),
    "register-errors": (_submitted_empty("/register"), 200),
    "register-check-email": (_public("/register/check-your-email"), 200),
    "resend-confirmation": (_public("/confirm-email/resend"), 200),
    "password-forgotten": (_public("/password/forgotten"), 200),
    "password-check-email": (_public("/password/check-your-email"), 200),
    "help": (_public("/help"), 200),
    "accessibility": (_public("/accessibility"), 200),
    "privacy": (_public("/privacy"), 200),
    "cookies": (_public("/cookies"), 200),
    "not-found": (_public("/no-such-page"), 404),
    "dashboard": (_citizen("/dashboard"), 200),
    "account": (_citizen("/account"), 200),
    "account-details": (_citizen("/account/details"), 200),
    "account-details-errors": (_details_with_error, 200),
    "account-password": (_citizen("/account/password"), 200),
    "security-code": (_security_code, 200),
    "security-code-errors": (_security_code_with_error, 200),
    "enrol-security-code": (_enrolment, 200),
    "staff-home": (_staff("/staff/"), 200),
    "staff-list": (_staff("/staff/admin/staff", admin=True), 200),
    "staff-new": (_staff("/staff/admin/staff/new", admin=True), 200),
    "services": (_staff("/staff/admin/services", admin=True), 200),
}


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_wcag_21_aa_violations(name, language, new_context, request):
    locale, html_lang = LANGUAGES[language]
    page = new_context(locale=locale).new_page()
    documents: list[tuple[str, int]] = []
    page.on(
        "response",
        lambda r: (
            documents.append((r.url, r.status))
            if r.request.resource_type == "document" and r.request.frame == page.main_frame
            else None
        ),
    )
    setup, status = PAGES[name]
    setup(Setup(page, language, request))

    assert documents, "no page was loaded"
    assert documents[-1][1] == status, f"{documents[-1][0]} answered {documents[-1][1]}"
    assert page.locator("html").get_attribute("lang") == html_lang
    page.wait_for_load_state("load")

    results = _axe.run(page, options=AXE_OPTIONS)
    assert results.violations_count == 0, (
        f"{name} ({language}) {page.url}\n{results.generate_report()}"
    )

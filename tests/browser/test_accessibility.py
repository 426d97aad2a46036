"""axe-core checks (WCAG 2.1 A and AA) of every page, in English and in Chinese.

Each case sets up the page the way a person would reach it (signing in through the real
forms, submitting a form to show its errors), switches the language with the header's
``/language/<code>`` link, and runs axe on what the browser shows.

The pages of applying for a service need a draft or an application to show, so one test
per language walks a whole application in one signed-in browser and checks each page on
the way (``test_application_pages_have_no_wcag_21_aa_violations``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from axe_playwright_python.sync_playwright import Axe

from portal.testing.samples import PNG
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


#: The departments of the built-in services, so their pages show the departments' names.
SERVICE_DEPARTMENTS = [
    ("TD", "Transport Department", "運輸署"),
    ("IMMD", "Immigration Department", "入境事務處"),
    ("TRY", "Treasury", "庫務署"),
]


def _catalogue(path: str, *, services: int | None = None) -> Callable[[Setup], None]:
    """A catalogue page; with ``services``, a search that finds that many."""

    def setup(s: Setup) -> None:
        create_department = s.fixture("create_department")
        for code, name_en, name_zh in SERVICE_DEPARTMENTS:
            create_department(code, name_en, name_zh)
        s.open(path)
        if services is not None:
            found = s.page.locator("main .portal-service-list > li").count()
            assert found == services, f"{path} lists {found} services"

    return setup


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


def _sandbox_payment(s: Setup) -> str:
    from portal.payments.providers import PaymentRequest
    from portal.payments.sandbox.provider import SandboxProvider

    app = s.fixture("app")
    with app.test_request_context():
        session = SandboxProvider().create_payment(PaymentRequest(
            payment_id="a" * 32, amount=90_000, currency="HKD",
            description="Renew a driving licence, application K7MX-4P9Q-R",
            return_url="http://127.0.0.1/payments/x/return?token=t", locale=s.language))
    return f"/sandbox-pay/{session.reference}"


def _sandbox_card_page(s: Setup) -> None:
    s.open(_sandbox_payment(s))


def _send_card(s: Setup, number: str | None = None) -> None:
    """Fill the sandbox's card form (or leave it empty) and send it."""
    if number is not None:
        s.page.fill("#card_number", number)
        s.page.fill("#expiry", "04/39")
        s.page.fill("#cvc", "123")
        s.page.fill("#cardholder_name", "CHAN TAI MAN")
    with s.page.expect_navigation():
        s.page.locator("form:has(#card_number) button[type=submit]").first.click()


def _sandbox_card_errors(s: Setup) -> None:
    s.open(_sandbox_payment(s))
    _send_card(s)
    _shows_errors(s)


def _sandbox_fps(s: Setup) -> None:
    s.open(_sandbox_payment(s) + "/fps")


def _sandbox_challenge(s: Setup) -> None:
    s.open(_sandbox_payment(s))
    _send_card(s, "4000 0000 0000 3220")
    s.page.wait_for_url(re.compile(r"/challenge$"))


def _sandbox_declined(s: Setup) -> None:
    s.open(_sandbox_payment(s))
    _send_card(s, "4000 0000 0000 0002")
    declined = "Your card was declined"
    assert (declined if s.language == "en" else zh(declined)) in s.page.content()


def _services_with_one_switched_off(s: Setup) -> None:
    s.fixture("app").extensions["portal_services"].switch_off(
        "pay_bill", "raised KeyError on 3 requests (last error id 0123abcd)")
    _staff("/staff/admin/services", admin=True)(s)


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
    "services-switched-off": (_services_with_one_switched_off, 200),
    "sandbox-card": (_sandbox_card_page, 200),
    "sandbox-card-errors": (_sandbox_card_errors, 200),
    "sandbox-fps": (_sandbox_fps, 200),
    "sandbox-challenge": (_sandbox_challenge, 200),
    "sandbox-declined": (_sandbox_declined, 200),
    "catalogue": (_catalogue("/services"), 200),
    "catalogue-search": (_catalogue("/services?q=licence", services=1), 200),
    "catalogue-no-results": (_catalogue("/services?q=submarine", services=0), 200),
    "start-licence-renewal": (_catalogue("/services/licence_renewal"), 200),
    "start-birth-record": (_catalogue("/services/birth_record"), 200),
    "start-pay-bill": (_catalogue("/services/pay_bill"), 200),
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


def _press(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_application_pages_have_no_wcag_21_aa_violations(
    language, new_context, request, create_user, create_department, tmp_path
):
    """Every page of applying, in one signed-in browser: a driving licence renewal from its
    first step (some steps with errors too) to the application page and its withdrawal,
    then a second renewal left saved, for the dashboard and deleting a draft.

    Violations are collected page by page and reported together at the end.
    """
    locale, html_lang = LANGUAGES[language]
    page = new_context(locale=locale).new_page()
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: (
            statuses.append(r.status)
            if r.request.resource_type == "document" and r.request.frame == page.main_frame
            else None
        ),
    )
    for code, name_en, name_zh in SERVICE_DEPARTMENTS:
        create_department(code, name_en, name_zh)
    user = create_user(
        "citizen@example.com",
        address_street="18 Nathan Road",
        district="yau_tsim_mong",
        mobile="+85291234567",
    )
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    violations: list[str] = []

    def check(name: str, path: str) -> None:
        page.wait_for_load_state("load")
        assert page.url.endswith(path), f"{name}: expected {path}, got {page.url}"
        assert statuses[-1] == 200, f"{name}: {page.url} answered {statuses[-1]}"
        assert page.locator("html").get_attribute("lang") == html_lang, name
        results = _axe.run(page, options=AXE_OPTIONS)
        if results.violations_count:
            violations.append(f"{name} ({language}) {page.url}\n{results.generate_report()}")

    def check_with_errors(name: str, path: str) -> None:
        submit_form(page)  # nothing (new) entered: the same step again, with its errors
        check(name, path)
        _shows_errors(Setup(page, language, request))

    start = "/services/licence_renewal"
    sign_in_citizen(page, user.email)
    Setup(page, language, request).open(start)
    _press(page, 'main form[action$="/apply"] button')
    assert re.search(r"/drafts/[^/]+/licence_details$", page.url), page.url
    draft = "/drafts/" + page.url.rsplit("/", 2)[-2]

    check("step-licence-details", f"{draft}/licence_details")
    check_with_errors("step-licence-details-errors", f"{draft}/licence_details")
    page.fill("#licence_number", "A123456(3)")
    submit_form(page)
    check("step-licence-type", f"{draft}/licence_type")
    page.locator("input[name=licence_type][value=full]").check()
    submit_form(page)
    check("step-validity", f"{draft}/validity")
    page.locator("input[name=validity_period][value='10_years']").check()
    submit_form(page)
    check("step-photo", f"{draft}/photo")
    check_with_errors("step-photo-errors", f"{draft}/photo")
    page.set_input_files("input[type=file][name=photo]", str(photo))
    _press(page, 'main form button[name="save"]')
    check("saved", f"{draft}/saved")

    _press(page, f'main a[href$="{draft}"]')
    check("step-photo-uploaded", f"{draft}/photo")
    submit_form(page)
    check("step-address", f"{draft}/address")
    submit_form(page)
    check("step-health", f"{draft}/health")
    check_with_errors("step-health-errors", f"{draft}/health")
    page.locator("input[name=medical_condition][value=no]").check()
    page.locator("input[name=health_declaration]").check()
    submit_form(page)
    check("check-answers", f"{draft}/check")
    submit_form(page)

    reference = page.locator(".portal-reference").inner_text().strip()
    application = f"/applications/{reference}"
    check("confirmation", f"{application}/confirmation")
    _press(page, f'main a[href$="{application}"]')
    check("application", application)
    _press(page, f'main a[href$="{application}/withdraw"]')
    check("withdraw", f"{application}/withdraw")

    # A second renewal, started and left: the dashboard shows a draft and an application.
    page.goto(start)
    _press(page, 'main form[action$="/apply"] button')
    second = "/drafts/" + page.url.rsplit("/", 2)[-2]
    page.goto("/dashboard")
    check("dashboard-draft-and-application", "/dashboard")
    assert page.locator("main table").count() == 2, "expected the saved and the sent tables"
    _press(page, f'main a[href$="{second}/delete"]')
    check("delete-draft", f"{second}/delete")

    assert not violations, "\n\n".join(violations)

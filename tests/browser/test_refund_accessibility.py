"""axe-core checks (WCAG 2.1 A and AA) of the staff pages of payments and refunds, in
English and in Chinese: finding an application, its payments, the refund form with its
errors, and the confirmation. Each case signs an officer of the department in through the
real forms and reaches the page as a person would."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.browser.support import sign_in_staff
from tests.browser.test_accessibility import (
    AXE_OPTIONS,
    LANGUAGES,
    SERVICE_DEPARTMENTS,
    Setup,
    _axe,
    _shows_errors,
)

pytestmark = pytest.mark.browser


def _paid_application(s: Setup) -> tuple[str, str]:
    """A renewal paid HK$900 by card, HK$100 of it refunded; (reference, payment id)."""
    from portal.applications.models import Application
    from portal.applications.util import new_reference
    from portal.database import utcnow
    from portal.extensions import db
    from portal.payments.models import Payment, Refund

    for code, name_en, name_zh in SERVICE_DEPARTMENTS:
        s.fixture("create_department")(code, name_en, name_zh)
    citizen = s.fixture("create_user")("citizen@example.com")
    officer = s.fixture("create_staff")("officer@example.com", role="officer")
    now = utcnow()
    application = Application(
        reference=new_reference(), user_id=citizen.id, service="licence_renewal",
        department="TD", state="received", answers={}, fee_amount=90_000, locale="en",
        submitted_at=now - timedelta(hours=1), updated_at=now)
    db.session.add(application)
    db.session.flush()
    payment = Payment(
        public_id=secrets.token_hex(16), application_id=application.id, nonce="n",
        amount=90_000, state="succeeded", provider="sandbox", provider_reference="sbx-1",
        method="card", return_token_digest="d" * 64, expires_at=now, succeeded_at=now,
        refunded_amount=10_000)
    db.session.add(payment)
    db.session.flush()
    db.session.add(Refund(public_id=secrets.token_hex(16), payment_id=payment.id,
                          amount=10_000, reason="Charged for a copy not sent",
                          state="succeeded", requested_by_id=officer.id, completed_at=now))
    db.session.commit()
    s.officer = officer  # type: ignore[attr-defined]
    return application.reference, payment.public_id


def _signed_in(s: Setup, path: str) -> None:
    sign_in_staff(s.page, s.officer, next_path=path)  # type: ignore[attr-defined]
    s.open(path)


def _find(s: Setup) -> None:
    _paid_application(s)
    _signed_in(s, "/staff/applications/find")


def _find_with_errors(s: Setup) -> None:
    _find(s)
    s.page.fill("#reference", "not a reference")
    with s.page.expect_navigation():
        s.page.locator("main form[method=get] button[type=submit]").click()
    _shows_errors(s)


def _payments(s: Setup) -> None:
    reference, _payment = _paid_application(s)
    _signed_in(s, f"/staff/applications/{reference}/payments")
    assert s.page.locator("main table").count() == 2, "expected payments and refunds"


def _refund_form(s: Setup) -> str:
    reference, payment = _paid_application(s)
    path = f"/staff/applications/{reference}/payments/{payment}/refund"
    _signed_in(s, path)
    assert s.page.input_value("#amount") == "800.00"
    return path


def _send(s: Setup) -> None:
    with s.page.expect_navigation():
        s.page.locator("main form[method=post] button[type=submit]").first.click()


def _refund_form_with_errors(s: Setup) -> None:
    _refund_form(s)
    s.page.fill("#amount", "12.345")
    _send(s)
    _shows_errors(s)
    assert s.page.locator(".govuk-error-message").count() == 2  # the amount and the reason


def _confirmation(s: Setup) -> None:
    _refund_form(s)
    s.page.fill("#amount", "50")
    s.page.fill("#reason", "Charged for two copies, sent one")
    _send(s)
    assert s.page.locator("[data-test=confirm-refund]").count() == 1
    name = "CHAN Tai Man" if s.language == "en" else "陳大文"
    assert name in s.page.locator("h1").inner_text()


PAGES: dict[str, Callable[[Setup], Any]] = {
    "find-application": _find,
    "find-application-errors": _find_with_errors,
    "application-payments": _payments,
    "refund-form-errors": _refund_form_with_errors,
    "refund-confirmation": _confirmation,
}


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("name", list(PAGES))
def test_refund_page_has_no_wcag_21_aa_violations(name, language, new_context, request):
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
    PAGES[name](Setup(page, language, request))

    assert statuses, "no page was loaded"
    assert statuses[-1] == 200, f"{page.url} answered {statuses[-1]}"
    assert page.locator("html").get_attribute("lang") == html_lang
    page.wait_for_load_state("load")
    results = _axe.run(page, options=AXE_OPTIONS)
    assert results.violations_count == 0, (
        f"{name} ({language}) {page.url}\n{results.generate_report()}"
    )

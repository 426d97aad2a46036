"""axe-core checks (WCAG 2.1 A and AA) of the verify page, in English and in Chinese.

Each case reaches the page as a person would: typing a code into the form (or scanning a
QR code, which opens the page with the payload), after switching the language with the
header's link. See tests/browser/test_accessibility.py for the rest of the portal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask_babel import gettext

from portal.database import utcnow
from portal.extensions import db
from portal.i18n import CHINESE, ENGLISH, force_locale
from tests.browser.support import submit_form
from tests.browser.test_accessibility import AXE_OPTIONS, LANGUAGES, Setup, _axe, _shows_errors
from tests.receipts.test_signing import make_receipt
from tests.receipts.test_verify_page import add_refund

pytestmark = pytest.mark.browser

LOCALE_OF = {"en": ENGLISH, "zh-hk": CHINESE}


def _words(s: Setup, message: str) -> str:
    with force_locale(LOCALE_OF[s.language]):
        return gettext(message)


def _receipt(s: Setup) -> Any:
    return make_receipt(s.fixture("create_user"), s.fixture("create_department"))


def _type_code(s: Setup, code: str) -> None:
    s.open("/verify")
    s.page.fill("#code", code)
    submit_form(s.page)


def _verdict(s: Setup, message: str) -> None:
    verdict = s.page.locator("[data-test=verdict]").inner_text()
    assert verdict == _words(s, message), verdict


def _form(s: Setup) -> None:
    s.open("/verify")


def _errors(typed: str) -> Callable[[Setup], None]:
    def setup(s: Setup) -> None:
        _type_code(s, typed)
        _shows_errors(s)

    return setup


def _genuine(s: Setup) -> None:
    receipt = _receipt(s)
    _type_code(s, receipt.short_code.lower())
    _verdict(s, "Genuine receipt")


def _scanned(s: Setup) -> None:
    receipt = _receipt(s)
    s.open("/verify")
    s.page.goto(f"/verify?p={receipt.signed_payload}")
    _verdict(s, "Genuine receipt")


def _not_genuine(s: Setup) -> None:
    _receipt(s)
    _type_code(s, "2345-6789-ABCD")
    _verdict(s, "Not a genuine receipt")


def _refunded_in_part(s: Setup) -> None:
    receipt = _receipt(s)
    add_refund(receipt, 3_000, "succeeded")
    _type_code(s, receipt.short_code)
    _verdict(s, "Genuine receipt")
    assert s.page.locator(".govuk-warning-text").count() == 1


def _refunded_in_full(s: Setup) -> None:
    receipt = _receipt(s)
    add_refund(receipt, 10_000, "succeeded")
    _type_code(s, receipt.short_code)
    assert s.page.locator("[data-test=status]").inner_text() == _words(s, "Refunded in full")


def _voided(s: Setup) -> None:
    receipt = _receipt(s)
    receipt.voided_at = utcnow()
    db.session.commit()
    _type_code(s, receipt.short_code)
    _verdict(s, "Genuine receipt, now voided")


PAGES: dict[str, Callable[[Setup], None]] = {
    "verify-form": _form,
    "verify-empty": _errors(""),
    "verify-bad-characters": _errors("7KQM-X3PD-9RT0"),
    "verify-genuine": _genuine,
    "verify-scanned": _scanned,
    "verify-not-genuine": _not_genuine,
    "verify-refunded-in-part": _refunded_in_part,
    "verify-refunded-in-full": _refunded_in_full,
    "verify-voided": _voided,
}


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("name", list(PAGES))
def test_verify_page_has_no_wcag_21_aa_violations(name, language, new_context, request):
    locale, html_lang = LANGUAGES[language]
    page = new_context(locale=locale).new_page()
    PAGES[name](Setup(page, language, request))

    assert page.locator("html").get_attribute("lang") == html_lang
    page.wait_for_load_state("load")
    results = _axe.run(page, options=AXE_OPTIONS)
    assert results.violations_count == 0, (
        f"{name} ({language}) {page.url}\n{results.generate_report()}"
    )

"""Helpers shared by the browser tests: signing in, submitting forms, the Chinese catalogue."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from portal.testing.plugin import DEFAULT_PASSWORD, current_totp

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "portal" / "translations"


@cache
def zh_catalogue(service: str | None = None) -> dict[str, str]:
    """The Traditional Chinese messages (msgid -> msgstr) from the .po file, as written.

    The core's catalogue, or with ``service`` that built-in service's own domain.
    """
    from babel.messages.pofile import read_po

    path = _po_file(service)
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string
    }


def _po_file(service: str | None) -> Path:
    if service is None:
        return TRANSLATIONS / "zh_Hant_HK" / "LC_MESSAGES" / "messages.po"
    folder = ROOT / "services" / service / "translations"
    return folder / "zh_Hant_HK" / "LC_MESSAGES" / f"{service}.po"


def zh(msgid: str, *, service: str | None = None) -> str:
    """The Chinese text of ``msgid`` (of the core, or of ``service``'s domain).

    Fails the test when it has not been translated.
    """
    text = zh_catalogue(service).get(msgid)
    if not text:
        pytest.fail(
            f"no Traditional Chinese translation of {msgid!r} in "
            f"{_po_file(service).relative_to(ROOT)}",
            pytrace=False,
        )
    return text


def submit_form(page: Any) -> None:
    """Press the main form's submit button and wait for the next page."""
    with page.expect_navigation():
        page.locator("main form[method=post] button[type=submit]").first.click()


def _ends_at(path: str) -> re.Pattern[str]:
    return re.compile(re.escape(path) + "$")


def sign_in(
    page: Any, email: str, password: str = DEFAULT_PASSWORD, *, next_path: str | None = None
) -> None:
    """Sign in through the real form; the page ends wherever the portal sends the person."""
    page.goto("/sign-in" + (f"?next={quote(next_path)}" if next_path else ""))
    page.fill("#email", email)
    page.fill("#password", password)
    submit_form(page)


def sign_in_citizen(
    page: Any, email: str, password: str = DEFAULT_PASSWORD, *, next_path: str = "/dashboard"
) -> None:
    """Sign a citizen in; the page ends at ``next_path`` (by default the dashboard)."""
    sign_in(page, email, password, next_path=next_path)
    page.wait_for_url(_ends_at(next_path))


def sign_in_staff(
    page: Any, user: Any, password: str = DEFAULT_PASSWORD, *, next_path: str = "/staff/"
) -> None:
    """Password, then the current code of ``user.test_totp_secret``; ends at ``next_path``."""
    sign_in(page, user.email, password, next_path=next_path)
    page.wait_for_url(_ends_at("/sign-in/security-code"))
    page.fill("#code", current_totp(user.test_totp_secret))
    submit_form(page)
    page.wait_for_url(_ends_at(next_path))

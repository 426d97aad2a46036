"""Helpers shared by the browser tests: signing in, submitting forms, the Chinese catalogue."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from portal.testing.plugin import DEFAULT_PASSWORD, current_totp

TRANSLATIONS = Path(__file__).resolve().parents[2] / "portal" / "translations"


@cache
def zh_catalogue() -> dict[str, str]:
    """The Traditional Chinese messages (msgid -> msgstr) from the .po file, as written."""
    from babel.messages.pofile import read_po

    path = TRANSLATIONS / "zh_Hant_HK" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string
    }


def zh(msgid: str) -> str:
    """The Chinese text of ``msgid``; fails the test when it has not been translated."""
    text = zh_catalogue().get(msgid)
    if not text:
        pytest.fail(
            f"no Traditional Chinese translation of {msgid!r} in "
            "portal/translations/zh_Hant_HK/LC_MESSAGES/messages.po",
            pytrace=False,
        )
    return text


def submit_form(page: Any) -> None:
    """Press the main form's submit button and wait for the next page."""
    with page.expect_navigation():
        page.locator("main form[method=post] button[type=submit]").first.click()


def sign_in(page: Any, email: str, password: str = DEFAULT_PASSWORD) -> None:
    """Sign in through the real form; the page ends wherever the portal sends the person."""
    page.goto("/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    submit_form(page)


def sign_in_citizen(page: Any, email: str, password: str = DEFAULT_PASSWORD) -> None:
    sign_in(page, email, password)
    page.wait_for_url(re.compile(r"/dashboard$"))


def sign_in_staff(page: Any, user: Any, password: str = DEFAULT_PASSWORD) -> None:
    """Password, then the current TOTP code of ``user.test_totp_secret``: ends at staff home."""
    sign_in(page, user.email, password)
    page.wait_for_url(re.compile(r"/sign-in/security-code$"))
    page.fill("#code", current_totp(user.test_totp_secret))
    submit_form(page)
    page.wait_for_url(re.compile(r"/staff/$"))

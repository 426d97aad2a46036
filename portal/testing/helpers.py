"""Small helpers for tests: reading CSRF tokens and links out of pages and emails."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_LINK = re.compile(r"https?://[^\s<>\"]+")


def csrf_token_from(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise AssertionError("no csrf_token in the page")
    return match.group(1) or match.group(2)


def get_csrf(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, f"GET {url} answered {response.status_code}"
    return csrf_token_from(response.get_data(as_text=True))


def post_form(client: Any, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """GET the form for its CSRF token, then POST ``data`` with it."""
    token = get_csrf(client, kwargs.pop("form_url", url))
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


def email_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def links_in(message: EmailMessage) -> list[str]:
    return _LINK.findall(email_text(message))


def path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")

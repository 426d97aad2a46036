"""The portal's public address, for what leaves it: emails, receipts, payment returns.

A client chooses its request's Host header, so an address built from it could point
anywhere (a password-reset link to an attacker's site; a QR code on a permanent, signed
receipt; and the embedded default issues receipts inside whichever request committed,
even another citizen's). So addresses come from ``PUBLIC_BASE_URL``. Only in development
and tests is there a fallback; anywhere else an unset ``PUBLIC_BASE_URL`` is an error
(``PublicBaseURLMissing``): a job fails, is logged and retried (a receipt stays pending
with the reason in ``last_error``), and the app logs it at start.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

#: Environments that may print a local address when PUBLIC_BASE_URL is unset.
LOCAL_ENVIRONMENTS = frozenset({"development", "testing"})


class PublicBaseURLMissing(RuntimeError):
    """PUBLIC_BASE_URL is unset outside development: no address can be printed."""


def public_base_url() -> str:
    """``PUBLIC_BASE_URL`` without its trailing slash, or the local default (development
    and tests only: ``PREFERRED_URL_SCHEME``://``SERVER_NAME`` or 127.0.0.1:5000)."""
    config = current_app.config
    base = str(config.get("PUBLIC_BASE_URL") or "").strip()
    if base:
        return base.rstrip("/")
    if config.get("ENVIRONMENT") in LOCAL_ENVIRONMENTS:
        scheme = config.get("PREFERRED_URL_SCHEME") or "http"
        return f"{scheme}://{config.get('SERVER_NAME') or '127.0.0.1:5000'}"
    raise PublicBaseURLMissing(
        "PORTAL_PUBLIC_BASE_URL is not set: the portal cannot give its own address"
    )


def document_url(endpoint: str, **values: Any) -> str:
    """The absolute address of ``endpoint`` under the public base URL.

    The path is built from the app's URL map alone (not ``url_for``, which inside a
    request would use that request's host and script root).
    """
    adapter = current_app.url_map.bind("portal.invalid", script_name="/", url_scheme="https")
    path = adapter.build(endpoint, values, force_external=False)
    return public_base_url() + path

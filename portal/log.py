"""Logging with a request id on every line and personal data kept out.

Every request gets an id (a valid incoming ``X-Request-ID`` is kept, so a load balancer's
id joins the logs); it is returned in the ``X-Request-ID`` header and shown on the error
page. A filter masks anything that looks like an HKID, a password field or a token before
a record is written, whatever the code that logged it did.
"""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_REDACTIONS = [
    # HKID: one or two letters, six digits, check character, with or without brackets
    (re.compile(r"\b[A-Za-z]{1,2}\s?\d{6}\s?\(?[0-9Aa]\)?"), "[HKID]"),
    (re.compile(r"(?i)(password|passwd|token|secret|totp|otp|code)=([^&\s]+)"), r"\1=[REDACTED]"),
    # A receipt's signed payload (/verify?p=...) carries the payer's masked name.
    (re.compile(r"([?&]p=)[A-Za-z0-9_.-]+"), r"\1[PAYLOAD]"),
    (re.compile(r"(/(?:confirm|reset|invitation)/)[A-Za-z0-9._-]+"), r"\1[TOKEN]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingFormatter(logging.Formatter):
    """Tracebacks are redacted too: an exception's message may quote what was typed."""

    def formatException(self, ei):  # type: ignore[no-untyped-def]  # noqa: N802
        return redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return redact(super().formatStack(stack_info))


def current_request_id() -> str:
    return g.get("request_id", "-") if has_request_context() else "-"


def init_app(app: Flask) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    handler.addFilter(RequestContextFilter())
    # app.logger is the "portal" logger, the parent of every portal.* module's logger:
    # one handler there, replaced (not added to) when another app is built in-process.
    app.logger.handlers[:] = [handler]
    app.logger.setLevel(logging.INFO)
    app.logger.propagate = False
    # Werkzeug logs full request lines, which may carry tokens in paths.
    werkzeug_logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RequestContextFilter) for f in werkzeug_logger.filters):
        werkzeug_logger.addFilter(RequestContextFilter())

    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def _return_request_id(response):  # type: ignore[no-untyped-def]
        response.headers["X-Request-ID"] = current_request_id()
        return response

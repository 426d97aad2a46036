"""Logs carry a request id and never a password, token or HKID."""

from __future__ import annotations

import logging

import pytest

from portal.log import RequestContextFilter, redact


class Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)


@pytest.fixture
def portal_log():
    """What the portal's logger would write, after its filters."""
    collector = Collector()
    logger = logging.getLogger("portal")
    logger.addHandler(collector)
    yield collector
    logger.removeHandler(collector)


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('"GET /reset/Zk3Jp_abc-123 HTTP/1.1" 200', "Zk3Jp_abc-123"),
        ('"GET /invitation/Q1w2E3r4T5y6 HTTP/1.1" 200', "Q1w2E3r4T5y6"),
        ('"GET /confirm/eyJ1aWQiOjF9.aw.sig HTTP/1.1" 302', "eyJ1aWQiOjF9"),
        ("profile saved for A123456(3)", "A123456"),
        ("hkid ca 182361 1 given", "182361"),
        ("login password=hunter22&email=x", "hunter22"),
        ("?token=abcdef123456", "abcdef123456"),
        ('"GET /verify?p=eyJ2IjoxfQ.c2lnbmF0dXJl HTTP/1.1" 200', "eyJ2IjoxfQ"),
    ],
)
def test_secrets_are_masked(line, secret):
    assert secret not in redact(line)


def test_a_request_logs_with_its_id_and_no_personal_data(app, client, portal_log, create_user):
    create_user()
    response = client.post("/sign-in", data={"email": "citizen@example.com",
                                             "password": "wrong-password-123"},
                           headers={"X-Request-ID": "req-0123456789"})
    # Without a CSRF token nothing is checked; with one, the refusal is logged.
    assert response.status_code == 400
    from portal.testing.helpers import post_form

    post_form(client, "/sign-in", {"email": "citizen@example.com", "password": "wrong-password-123"})
    refused = [r for r in portal_log.records if "sign-in refused" in r.getMessage()]
    assert refused
    assert all(len(r.request_id) >= 8 for r in refused)
    assert "wrong-password-123" not in portal_log.text


def test_a_traceback_quoting_an_hkid_is_redacted(app):
    handler = logging.getLogger("portal").handlers[0]
    try:
        raise ValueError("not a licence: A123456(3)")
    except ValueError:
        record = logging.LogRecord("portal", logging.ERROR, __file__, 1, "failed", None,
                                   exc_info=__import__("sys").exc_info())
    record.request_id = "-"
    text = handler.format(record)
    assert "ValueError" in text
    assert "A123456(3)" not in text
    assert "[HKID]" in text

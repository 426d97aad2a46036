"""The sandbox's webhooks: signed notifications of final outcomes, sent over real HTTP.

When a sandbox payment becomes final, ``store`` writes a delivery row in the same
transaction (``record_delivery``): the sandbox's outbox. A background job then POSTs it to
the portal's ``/payments/webhooks/sandbox`` (``deliver``); a non-2xx answer or a network
error is retried with exponential back-off by the sweep (``deliver_due``, run by Celery
beat, ``portal payments deliver-webhooks``, and in the embedded default alongside new
deliveries), until ``SANDBOX_PAYMENTS_WEBHOOK_MAX_ATTEMPTS`` attempts were made.

The body is JSON, fixed when the event happens::

    {"created": 1795000000, "data": {"reference": "sbx_..."}, "id": "evt_...",
     "type": "payment.succeeded"}

and every attempt signs it afresh, as Stripe does::

    Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, b"<t>." + body)>

The secret is ``SANDBOX_PAYMENTS_WEBHOOK_SECRET`` or, when that is empty, derived from
SECRET_KEY with HKDF (never stored). The receiver takes from an event only which payment
to ask about; the outcome is always fetched again (``fetch_status``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, has_request_context
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from portal.database import utcnow
from portal.extensions import db
from portal.jobs import Sweep
from portal.payments.providers import InvalidWebhook, WebhookEvent
from portal.payments.sandbox.models import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    FINAL_STATUSES,
    SandboxWebhookDelivery,
)

log = logging.getLogger("portal.payments.sandbox")

_TABLE = SandboxWebhookDelivery.__table__
SIGNATURE_HEADER = "Sandbox-Signature"
#: A signature older (or further in the future) than this is refused: a replay.
TOLERANCE_SECONDS = 300
EVENT_TYPES = frozenset(f"payment.{status}" for status in FINAL_STATUSES)
#: How long one worker holds a delivery while it sends it (its claim).
CLAIM_SECONDS = 120
#: The longest wait between two attempts.
MAX_BACKOFF_SECONDS = 6 * 3600
#: In the embedded default (no beat) the sweep rides along at most this often.
EAGER_SWEEP_LIMIT = 10
#: In the embedded default, failed deliveries are retried at most once a minute.
SWEEP = Sweep(60.0)
_SENDER = "portal-sandbox-webhooks/1"
#: A v1 signature as sent (anything else, e.g. non-ASCII, is not even compared).
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
#: The longest address a delivery can keep (its column's size).
MAX_URL_LENGTH = 500


def _setting(name: str) -> Any:
    from portal.payments.sandbox.provider import setting

    return setting(name)


def _rate(name: str) -> float:
    from portal.payments.sandbox.provider import _rate

    return _rate(name)


def enabled() -> bool:
    return bool(_setting("SANDBOX_PAYMENTS_WEBHOOKS"))


def signing_secret() -> bytes:
    """The configured secret, or one derived from SECRET_KEY (the same in every process)."""
    configured = _setting("SANDBOX_PAYMENTS_WEBHOOK_SECRET")
    if configured:
        return str(configured).encode()
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"portal-sandbox-payments",
        info=b"webhook-signing",
    ).derive(current_app.config["SECRET_KEY"].encode())


def signature(body: bytes, timestamp: int, secret: bytes | None = None) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + body``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret or signing_secret(), message, hashlib.sha256).hexdigest()


def signature_header(body: bytes, timestamp: int | None = None,
                     secret: bytes | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(body, timestamp, secret)}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict from a caller: look regardless of case
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def verify(headers: Mapping[str, str], body: bytes, now: float | None = None) -> WebhookEvent:
    """Check the signature and its time, then read the event.

    :raises InvalidWebhook: no or malformed header, a signature that does not match, a
        timestamp outside ``TOLERANCE_SECONDS``, or a body that is not a sandbox event.
    """
    header = _header(headers, SIGNATURE_HEADER)
    if not header or len(header) > 1000:
        raise InvalidWebhook("no signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and _HEX_DIGEST.fullmatch(value):
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidWebhook("malformed signature header")
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidWebhook("signature timestamp outside the tolerance (a replay?)")
    expected = signature(body, timestamp)
    # Every candidate is compared (in constant time each): several v1 values allow a
    # secret to be rotated.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    if not any(matches):
        raise InvalidWebhook("signature does not match")
    return _read_event(body)


def _read_event(body: bytes) -> WebhookEvent:
    try:
        data = json.loads(body)
    except ValueError as exc:  # includes bad UTF-8
        raise InvalidWebhook("body is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        raise InvalidWebhook("body is not an event")
    event_id, kind = data.get("id"), data.get("type")
    reference = data["data"].get("reference")
    if not (isinstance(event_id, str) and event_id.startswith("evt_") and len(event_id) <= 40):
        raise InvalidWebhook("bad event id")
    if kind not in EVENT_TYPES:
        raise InvalidWebhook("unknown event type")
    if not (isinstance(reference, str) and 0 < len(reference) <= 40):
        raise InvalidWebhook("bad payment reference")
    return WebhookEvent(event_id=event_id, reference=reference, type=kind)


#: Host names the request's own host may be when it chooses where webhooks go (besides
#: loopback addresses, 127.0.0.0/8 and ::1).
_LOOPBACK_NAMES = frozenset({"localhost"})
#: Why webhooks were not sent, each logged once per process (not once per payment).
_logged: set[str] = set()


def _log_once(reason: str) -> None:
    if reason not in _logged:
        _logged.add(reason)
        log.warning("sandbox webhooks not sent: %s", reason)


def is_loopback(url: str) -> bool:
    """Whether ``url`` is http(s) to this machine only (no user part, a loopback host)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or host is None or "@" in parts.netloc:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_url() -> str | None:
    """The portal's address for the sandbox's webhooks, or None: send none.

    ``SANDBOX_PAYMENTS_WEBHOOK_URL`` when set, else from ``PUBLIC_BASE_URL``: settings,
    chosen by whoever runs the portal. The request's host is used only in development and
    only when it is a loopback address (``127.0.0.1``, ``::1``, ``localhost``): the Host
    header is the citizen's to write (it comes with their own POST on the sandbox's
    page), and the server would otherwise POST, again and again, to any host and port it
    names (a server-side request forgery into the portal's network). Without an address
    no webhook is recorded; reconciliation settles the payment instead.
    """
    from portal.notifications.outbox import external_url

    url = str(_setting("SANDBOX_PAYMENTS_WEBHOOK_URL") or "")
    if not url:
        if current_app.config.get("PUBLIC_BASE_URL"):
            url = external_url("payments.webhook", provider="sandbox")
        elif current_app.config.get("ENVIRONMENT") != "development":
            _log_once("set PUBLIC_BASE_URL or SANDBOX_PAYMENTS_WEBHOOK_URL")
            return None
        else:
            url = external_url("payments.webhook", provider="sandbox")
            if not is_loopback(url):
                _log_once("in development the request's host is used only when it is "
                          "127.0.0.1, ::1 or localhost; set PUBLIC_BASE_URL or "
                          "SANDBOX_PAYMENTS_WEBHOOK_URL")
                return None
    if len(url) > MAX_URL_LENGTH or not url.startswith(("http://", "https://")):
        # Never let a bad address stop a payment from being finished.
        log.warning("sandbox webhooks not sent: the webhook URL is not an http(s) URL of "
                    "at most %s characters", MAX_URL_LENGTH)
        return None
    return url


def record_delivery(conn: Connection, reference: str, status: str) -> int | None:
    """Write the event announcing ``reference``'s final ``status`` on ``conn`` (the
    transaction that made it final). None when webhooks are switched off."""
    url = webhook_url() if enabled() else None
    if url is None:
        return None
    now = utcnow()
    event_id = "evt_" + secrets.token_hex(16)
    kind = f"payment.{status}"
    body = json.dumps({"id": event_id, "type": kind, "created": int(now.timestamp()),
                       "data": {"reference": reference}}, sort_keys=True,
                      separators=(",", ":"))
    result = conn.execute(_TABLE.insert().values(
        event_id=event_id, type=kind, payment_reference=reference, body=body,
        url=url, status=DELIVERY_PENDING, attempts=0, duplicates_sent=0,
        next_attempt_at=now, created_at=now,
    ))
    return int(result.inserted_primary_key[0])


def send_soon(delivery_id: int) -> None:
    """Start the delivery job; in eager mode only after the current response is sent.

    An eager job run inside the request would POST back to this very server while the
    citizen waits (and, with one worker, wait for itself). After the response it holds
    only this worker, at most for the short HTTP timeout; a failed attempt is retried
    by the sweep.
    """
    from portal.jobs import after_response, enqueue, is_eager

    if not (is_eager() and has_request_context()):
        try:
            enqueue("portal.payments.sandbox.tasks.deliver_webhook", delivery_id)
        except Exception:  # noqa: BLE001 - the payment is final already; the sweep sends it
            log.exception("sandbox webhook %s could not be started", delivery_id)
        return
    after_response(_deliver, delivery_id)


def _deliver(delivery_id: int) -> None:
    from portal.jobs import enqueue

    enqueue("portal.payments.sandbox.tasks.deliver_webhook", delivery_id)
    if SWEEP.take():  # no beat in the embedded default
        # A few only: this holds a server thread (each attempt at most the timeout).
        enqueue("portal.payments.sandbox.tasks.deliver_due_webhooks", EAGER_SWEEP_LIMIT)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: doubling from the base."""
    base = float(_setting("SANDBOX_PAYMENTS_WEBHOOK_RETRY_SECONDS"))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


@dataclass(frozen=True)
class _Behaviour:
    """The settings an attempt follows, read (and checked) before anything changes."""

    delay_ms: int
    fail_rate: float
    duplicate_rate: float
    timeout: float
    max_attempts: int

    @classmethod
    def now(cls) -> _Behaviour:
        return cls(delay_ms=int(_setting("SANDBOX_PAYMENTS_WEBHOOK_DELAY_MS") or 0),
                   fail_rate=_rate("SANDBOX_PAYMENTS_WEBHOOK_FAIL_RATE"),
                   duplicate_rate=_rate("SANDBOX_PAYMENTS_WEBHOOK_DUPLICATE_RATE"),
                   timeout=float(_setting("SANDBOX_PAYMENTS_WEBHOOK_TIMEOUT_SECONDS")),
                   max_attempts=int(_setting("SANDBOX_PAYMENTS_WEBHOOK_MAX_ATTEMPTS")))


def _send(url: str, body: bytes, behaviour: _Behaviour) -> str | None:
    """One attempt; None when the portal answered 2xx, else why not."""
    if behaviour.delay_ms > 0:
        time.sleep(behaviour.delay_ms / 1000)
    # Not security: a simulated network failure for tests.
    if random.random() < behaviour.fail_rate:  # noqa: S311
        return "simulated network failure"
    headers = {"Content-Type": "application/json", "User-Agent": _SENDER,
               SIGNATURE_HEADER: signature_header(body)}
    timeout = httpx.Timeout(behaviour.timeout, connect=min(behaviour.timeout, 2.0))
    try:
        response = httpx.post(url, content=body, headers=headers, follow_redirects=False,
                              timeout=timeout)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def _claim(delivery_id: int) -> Any:
    """Take the delivery if it is due and nobody else holds it (a compare-and-set)."""
    now = utcnow()
    with db.engine.begin() as conn:
        taken = conn.execute(
            update(_TABLE)
            .where(_TABLE.c.id == delivery_id, _TABLE.c.status == DELIVERY_PENDING,
                   _TABLE.c.next_attempt_at <= now)
            .values(attempts=_TABLE.c.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
        ).rowcount == 1
        if not taken:
            return None
        return conn.execute(select(_TABLE).where(_TABLE.c.id == delivery_id)).mappings().one()


def deliver(delivery_id: int) -> str | None:
    """Make one attempt at a due delivery (with perhaps a duplicate after success).

    Returns its status afterwards, or None when it was not due or is held elsewhere.
    """
    behaviour = _Behaviour.now()
    signing_secret()  # a missing SECRET_KEY fails here, before the delivery is taken
    row = _claim(delivery_id)
    if row is None:
        return None
    body = row["body"].encode()
    error = _send(row["url"], body, behaviour)
    now = utcnow()
    if error is None:
        copies = 0
        if random.random() < behaviour.duplicate_rate:  # noqa: S311
            # As real providers sometimes do: the same event again.
            _send(row["url"], body, behaviour)
            copies = 1
        values: dict[str, Any] = {"status": DELIVERY_DELIVERED, "delivered_at": now,
                                  "last_error": None,
                                  "duplicates_sent": _TABLE.c.duplicates_sent + copies}
        status = DELIVERY_DELIVERED
    elif row["attempts"] >= behaviour.max_attempts:
        values = {"status": DELIVERY_FAILED, "last_error": error[:200]}
        status = DELIVERY_FAILED
        log.warning("sandbox webhook %s given up after %s attempts: %s", row["event_id"],
                    row["attempts"], error)
    else:
        values = {"next_attempt_at": now + backoff(row["attempts"]), "last_error": error[:200]}
        status = DELIVERY_PENDING
        log.info("sandbox webhook %s attempt %s failed: %s", row["event_id"],
                 row["attempts"], error)
    with db.engine.begin() as conn:
        conn.execute(update(_TABLE).where(_TABLE.c.id == delivery_id,
                                          _TABLE.c.status == DELIVERY_PENDING).values(**values))
    return status


@dataclass
class Swept:
    delivered: int = 0
    retrying: int = 0
    given_up: int = 0


def deliver_due(limit: int = 200) -> Swept:
    """Attempt every delivery that is due (safe to run from several workers at once)."""
    with db.engine.connect() as conn:
        due = conn.execute(
            select(_TABLE.c.id)
            .where(_TABLE.c.status == DELIVERY_PENDING, _TABLE.c.next_attempt_at <= utcnow())
            .order_by(_TABLE.c.next_attempt_at, _TABLE.c.id).limit(limit)
        ).scalars().all()
    result = Swept()
    for delivery_id in due:
        status = deliver(delivery_id)
        if status == DELIVERY_DELIVERED:
            result.delivered += 1
        elif status == DELIVERY_PENDING:
            result.retrying += 1
        elif status == DELIVERY_FAILED:
            result.given_up += 1
    return result

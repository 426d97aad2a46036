"""``SandboxProvider``: the provider interface over the sandbox's own records.

Settings (read on each call, so a test can change them on a running app):

- ``SANDBOX_PAYMENTS_LATENCY_MS``: wait this long in ``create_payment`` and
  ``fetch_status``, like a provider across the network (default 0).
- ``SANDBOX_PAYMENTS_FAIL_RATE``: from 0 to 1, the share of ``create_payment`` calls
  that raise ``SandboxUnavailable`` before anything is created (default 0).
- ``SANDBOX_PAYMENTS_STATUS_FAIL_RATE``: the same for ``fetch_status`` (default 0).
- ``SANDBOX_PAYMENTS_EXPIRY_MINUTES``: a payment not finished by then is ``expired``
  (default 60; keep it below ``PAYMENT_EXPIRY_MINUTES``).
- ``SANDBOX_PAYMENTS_REFUND_FAIL_RATE``: the share of refunds the sandbox refuses
  (answered ``failed``, and the same again for a retry with the same refund id; default 0).

Webhooks (see ``webhooks``):

- ``SANDBOX_PAYMENTS_WEBHOOKS``: send a signed webhook when a payment becomes final
  (default on; off: no delivery is even recorded).
- ``SANDBOX_PAYMENTS_WEBHOOK_SECRET``: the signing secret (default: derived from
  SECRET_KEY with HKDF, so every process of one portal agrees without storing it).
- ``SANDBOX_PAYMENTS_WEBHOOK_URL``: where they go (default: ``/payments/webhooks/sandbox``
  under ``PUBLIC_BASE_URL``, or, outside production, under the host of the request that
  finished the payment; in production with neither, none is sent).
- ``SANDBOX_PAYMENTS_WEBHOOK_DUPLICATE_RATE``: the share of deliveries sent twice, as real
  providers sometimes do (default 0).
- ``SANDBOX_PAYMENTS_WEBHOOK_FAIL_RATE``: the share of attempts that pretend the network
  failed (retried later; default 0).
- ``SANDBOX_PAYMENTS_WEBHOOK_DELAY_MS``: wait this long before each attempt (default 0).
- ``SANDBOX_PAYMENTS_WEBHOOK_RETRY_SECONDS``: the wait after the first failed attempt,
  doubled after each further one (default 10).
- ``SANDBOX_PAYMENTS_WEBHOOK_MAX_ATTEMPTS``: attempts before a delivery is given up and
  recorded ``failed`` (default 8; reconciliation still settles the payment).
- ``SANDBOX_PAYMENTS_WEBHOOK_TIMEOUT_SECONDS``: HTTP timeout of an attempt (default 5;
  the connection itself gets at most 2).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import current_app

from portal.payments.providers import (
    PaymentRequest,
    ProviderRefund,
    ProviderSession,
    ProviderStatus,
    WebhookEvent,
)
from portal.payments.sandbox import refunds, store, webhooks

NAME = "sandbox"
CURRENCIES = frozenset({"HKD"})

DEFAULTS: dict[str, Any] = {
    "SANDBOX_PAYMENTS_LATENCY_MS": 0,
    "SANDBOX_PAYMENTS_FAIL_RATE": 0.0,
    "SANDBOX_PAYMENTS_STATUS_FAIL_RATE": 0.0,
    "SANDBOX_PAYMENTS_EXPIRY_MINUTES": 60,
    "SANDBOX_PAYMENTS_IN_PRODUCTION": False,
    "SANDBOX_PAYMENTS_REFUND_FAIL_RATE": 0.0,
    "SANDBOX_PAYMENTS_WEBHOOKS": True,
    "SANDBOX_PAYMENTS_WEBHOOK_SECRET": "",
    "SANDBOX_PAYMENTS_WEBHOOK_URL": "",
    "SANDBOX_PAYMENTS_WEBHOOK_DUPLICATE_RATE": 0.0,
    "SANDBOX_PAYMENTS_WEBHOOK_FAIL_RATE": 0.0,
    "SANDBOX_PAYMENTS_WEBHOOK_DELAY_MS": 0,
    "SANDBOX_PAYMENTS_WEBHOOK_RETRY_SECONDS": 10,
    "SANDBOX_PAYMENTS_WEBHOOK_MAX_ATTEMPTS": 8,
    "SANDBOX_PAYMENTS_WEBHOOK_TIMEOUT_SECONDS": 5,
}


class SandboxUnavailable(RuntimeError):  # noqa: N818 - named like the outage it stands for
    """The sandbox pretends to be down (``SANDBOX_PAYMENTS_FAIL_RATE``); nothing changed."""


def setting(name: str) -> Any:
    return current_app.config.get(name, DEFAULTS[name])


def _rate(name: str) -> float:
    value = float(setting(name) or 0)
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be between 0 and 1, not {value}")
    return value


def _behave_like_a_remote_provider(fail_rate_setting: str, what: str) -> None:
    latency = int(setting("SANDBOX_PAYMENTS_LATENCY_MS") or 0)
    if latency > 0:
        time.sleep(latency / 1000)
    rate = _rate(fail_rate_setting)
    # Not security: a simulated outage for tests.
    if rate and random.random() < rate:  # noqa: S311
        raise SandboxUnavailable(f"sandbox provider unavailable ({what}; {fail_rate_setting})")


def _check(request: PaymentRequest) -> None:
    if not isinstance(request.amount, int) or isinstance(request.amount, bool):
        raise TypeError("money is handled in integer minor units")
    if request.amount <= 0:
        raise ValueError("the amount must be positive")
    if request.currency not in CURRENCIES:
        raise ValueError(f"the sandbox takes only {', '.join(sorted(CURRENCIES))}")
    if not request.return_url.startswith(("https://", "http://")) or len(request.return_url) > 2000:
        raise ValueError("return_url must be an absolute http(s) URL of at most 2000 characters")
    if not request.description or len(request.description) > 500:
        raise ValueError("the description must have 1 to 500 characters")
    if not request.payment_id or len(request.payment_id) > 64:
        raise ValueError("payment_id must have 1 to 64 characters")
    if len(request.locale or "") > 20:
        raise ValueError("locale is too long")


class SandboxProvider:
    """A pretend hosted payment page (card or FPS), for development and tests."""

    name = NAME

    def create_payment(self, request: PaymentRequest) -> ProviderSession:
        """Keep a pending payment and give the page where the citizen pays.

        Committed at once in its own transaction, as a remote provider would have it.
        :raises SandboxUnavailable: as ``SANDBOX_PAYMENTS_FAIL_RATE`` says.
        """
        _check(request)
        _behave_like_a_remote_provider("SANDBOX_PAYMENTS_FAIL_RATE", "create_payment")
        minutes = int(setting("SANDBOX_PAYMENTS_EXPIRY_MINUTES"))
        reference = store.create(
            merchant_reference=request.payment_id, amount=request.amount,
            currency=request.currency, description=request.description,
            return_url=request.return_url, locale=request.locale or "",
            lifetime=timedelta(minutes=minutes),
        )
        return ProviderSession(reference=reference, url=page_url(reference))

    def fetch_status(self, reference: str) -> ProviderStatus:
        """How the payment stands at the sandbox (a pending one past its time: expired).

        :raises LookupError: no payment has this reference.
        :raises SandboxUnavailable: as ``SANDBOX_PAYMENTS_STATUS_FAIL_RATE`` says.
        """
        _behave_like_a_remote_provider("SANDBOX_PAYMENTS_STATUS_FAIL_RATE", "fetch_status")
        payment = store.get(reference)
        if payment is None:
            raise LookupError(f"no sandbox payment {reference!r}")
        return ProviderStatus(status=payment.status, method=payment.method)

    def refund(self, reference: str, amount: int, refund_id: str) -> ProviderRefund:
        """Give back ``amount`` cents of a succeeded sandbox payment, once per ``refund_id``.

        ``failed`` (nothing refunded) for an unknown or unpaid payment, an amount above
        what remains at the sandbox, or a refusal (``SANDBOX_PAYMENTS_REFUND_FAIL_RATE``).
        :raises SandboxUnavailable: as ``SANDBOX_PAYMENTS_STATUS_FAIL_RATE`` says.
        :raises RefundIdReused: ``refund_id`` was used for another payment or amount.
        """
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError("money is handled in integer minor units")
        if amount <= 0:
            raise ValueError("the amount must be positive")
        if not refund_id or len(refund_id) > 64:
            raise ValueError("refund_id must have 1 to 64 characters")
        _behave_like_a_remote_provider("SANDBOX_PAYMENTS_STATUS_FAIL_RATE", "refund")
        # Not security: a simulated refusal for tests.
        declined = random.random() < _rate("SANDBOX_PAYMENTS_REFUND_FAIL_RATE")  # noqa: S311
        return refunds.refund(reference, amount, refund_id, declined=declined)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Check ``Sandbox-Signature`` (HMAC-SHA256, 300 s tolerance) and read the event.

        :raises InvalidWebhook: see ``webhooks.verify``.
        """
        return webhooks.verify(headers, body)

    def __repr__(self) -> str:
        return "<SandboxProvider>"


def page_url(reference: str) -> str:
    """The absolute address of the payment's page (``PUBLIC_BASE_URL`` when set)."""
    from portal.notifications.outbox import external_url

    return external_url("sandbox.pay", reference=reference)

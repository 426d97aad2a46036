"""``SandboxProvider``: the provider interface over the sandbox's own records.

Settings (read on each call, so a test can change them on a running app):

- ``SANDBOX_PAYMENTS_LATENCY_MS``: wait this long in ``create_payment`` and
  ``fetch_status``, like a provider across the network (default 0).
- ``SANDBOX_PAYMENTS_FAIL_RATE``: from 0 to 1, the share of ``create_payment`` calls
  that raise ``SandboxUnavailable`` before anything is created (default 0).
- ``SANDBOX_PAYMENTS_STATUS_FAIL_RATE``: the same for ``fetch_status`` (default 0).
- ``SANDBOX_PAYMENTS_EXPIRY_MINUTES``: a payment not finished by then is ``expired``
  (default 60; keep it below ``PAYMENT_EXPIRY_MINUTES``).
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from flask import current_app

from portal.payments.providers import PaymentRequest, ProviderSession, ProviderStatus
from portal.payments.sandbox import store

NAME = "sandbox"
CURRENCIES = frozenset({"HKD"})

DEFAULTS: dict[str, Any] = {
    "SANDBOX_PAYMENTS_LATENCY_MS": 0,
    "SANDBOX_PAYMENTS_FAIL_RATE": 0.0,
    "SANDBOX_PAYMENTS_STATUS_FAIL_RATE": 0.0,
    "SANDBOX_PAYMENTS_EXPIRY_MINUTES": 60,
    "SANDBOX_PAYMENTS_IN_PRODUCTION": False,
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

    def __repr__(self) -> str:
        return "<SandboxProvider>"


def page_url(reference: str) -> str:
    """The absolute address of the payment's page (``PUBLIC_BASE_URL`` when set)."""
    from portal.notifications.outbox import external_url

    return external_url("sandbox.pay", reference=reference)

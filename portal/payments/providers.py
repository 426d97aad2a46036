"""What the portal asks of a payment provider, and the providers it knows.

A provider is contributed by a plugin through the hook ``register_payment_providers``
(the built-in sandbox is one). The portal never trusts the browser about an outcome: the
return URL carries only a secret token, and the portal then asks the provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

#: What a provider says about a payment. ``pending`` means "not finished yet".
PROVIDER_STATUSES = frozenset({"pending", "succeeded", "failed", "cancelled", "expired"})


@dataclass(frozen=True)
class PaymentRequest:
    """What the portal asks a provider to collect."""

    #: The portal's own id of the payment (public, random).
    payment_id: str
    amount: int  # integer cents
    currency: str
    #: Shown on the provider's page, in the citizen's language.
    description: str
    #: Where the provider sends the citizen back; carries a secret token, not the outcome.
    return_url: str
    locale: str


@dataclass(frozen=True)
class ProviderSession:
    """A payment opened at the provider."""

    #: The provider's reference for it (unique per provider).
    reference: str
    #: The provider's page where the citizen pays.
    url: str


@dataclass(frozen=True)
class ProviderStatus:
    """The provider's answer about one payment."""

    status: str  # one of PROVIDER_STATUSES
    #: How it was paid ("card", "fps"), once known.
    method: str | None = None

    def __post_init__(self) -> None:
        if self.status not in PROVIDER_STATUSES:
            raise ValueError(f"unknown provider status {self.status!r}")


@dataclass(frozen=True)
class ProviderRefund:
    """The provider's answer to a refund."""

    #: "succeeded" (the money is on its way back) or "failed" (nothing was refunded).
    status: str
    #: The provider's reference of the refund, when it made one.
    reference: str | None = None

    def __post_init__(self) -> None:
        if self.status not in {"succeeded", "failed"}:
            raise ValueError(f"unknown refund status {self.status!r}")


@dataclass(frozen=True)
class WebhookEvent:
    """A notification from the provider, once its signature has been checked.

    The portal takes from it only *which* payment to look at; the outcome is always asked
    of the provider again (``fetch_status``), so a repeated, late or out-of-order event
    can change nothing that the provider does not confirm.
    """

    #: The provider's unique id of this event: a repeated delivery has the same id.
    event_id: str
    #: The provider's reference of the payment the event is about.
    reference: str
    #: What happened, in the provider's words ("payment.succeeded", ...). Informative.
    type: str


#: Exceptions from ``PaymentProvider.refund`` that mean "refused for good": the request was
#: wrong (``ValueError``, ``TypeError``: a bad amount or id, a refund id reused for another
#: refund) or names nothing the provider knows (``LookupError``: an unknown payment). The
#: portal fails the refund and releases its amount. Any other exception means "try again".
PERMANENT_REFUND_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError, LookupError)


class InvalidWebhook(Exception):  # noqa: N818 - reads as the outcome
    """A webhook whose signature, timestamp or body does not check out."""


class PaymentProvider(Protocol):
    """The contract of a payment provider."""

    #: A short code, stored with each payment ("sandbox").
    name: str

    def create_payment(self, request: PaymentRequest) -> ProviderSession:
        """Open a payment at the provider; the citizen is sent to ``session.url``."""

    def fetch_status(self, reference: str) -> ProviderStatus:
        """Ask the provider how the payment ``reference`` stands."""

    def refund(self, reference: str, amount: int, refund_id: str) -> ProviderRefund:
        """Give back ``amount`` cents of the succeeded payment ``reference``.

        ``refund_id`` is the portal's own id of the refund: the provider must treat a
        second call with the same id as the same refund (an idempotency key).

        How the provider answers decides what happens to the refund:

        - ``ProviderRefund("succeeded")``: the money is on its way back (final).
        - ``ProviderRefund("failed")``: refused (declined, more than remains at the
          provider); the portal fails the refund and releases its amount (final).
        - an exception in ``PERMANENT_REFUND_ERRORS`` (``ValueError``, ``TypeError``,
          ``LookupError``): refused for good, the same as ``failed``; the portal also logs
          an error, since it points at a bug or a mismatch between portal and provider.
        - any other exception (a network error, an outage, a timeout): the outcome is not
          known; the refund stays processing with its amount reserved and is asked again,
          with the same ``refund_id``, by reconciliation (an error is logged on every run
          once it has been processing for a day).

        So a provider must not let a ``ValueError`` (or ``LookupError``) escape for a
        transient fault: an unreadable answer from its server (``json.JSONDecodeError``,
        ``UnicodeDecodeError`` are ``ValueError`` s) should be raised as, say,
        ``ConnectionError``, or the refund would be failed while the money may have moved.
        """

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Check a webhook's signature and read it.

        :raises InvalidWebhook: the signature, its time or the body is not right.
        """


def providers(app: Any) -> dict[str, PaymentProvider]:
    return app.extensions.setdefault("payment_providers", {})


def current_provider(app: Any) -> PaymentProvider:
    """The provider payments are made with (``PAYMENT_PROVIDER``)."""
    name = app.config["PAYMENT_PROVIDER"]
    found = providers(app).get(name)
    if found is None:
        raise LookupError(f"payment provider {name!r} is not installed")
    return found

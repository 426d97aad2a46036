"""Receiving providers' webhooks: verified, recorded once, then settled by asking.

A webhook only tells the portal *which* payment to look at. Its signature is checked by
the provider's ``verify_webhook``; anything wrong (signature, time, body, an unknown
provider, a body too large) is refused with a 4xx before a single row is written. A
valid event is recorded once per (provider, event id), and the payment it names is
settled with ``ledger.settle``, which asks the provider for the outcome: so repeated,
late or out-of-order events change nothing the provider does not confirm, and a payment
can never be settled, receipted or announced twice.

An event is marked processed only once the payment it names is final (or unknown). When
the provider still says ``pending`` (its webhook overtook its own status, say), the event
is left unprocessed and answered 503: providers retry only on a non-2xx answer, so the
redelivery, processed in full, settles the payment as soon as the provider knows the
outcome. (A 200 without marking it processed would be simpler, but the provider would
never deliver it again, and only reconciliation, minutes later, would settle the payment.)
A provider that keeps answering ``pending`` costs its retries and nothing else:
reconciliation settles or expires the payment anyway.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal.database import utcnow
from portal.extensions import db
from portal.payments import ledger
from portal.payments.models import Payment, ReceivedWebhook
from portal.payments.providers import InvalidWebhook, WebhookEvent, providers

log = logging.getLogger("portal.payments.webhooks")

#: Webhooks are small; anything larger is refused unread (413).
MAX_BODY_BYTES = 64 * 1024
_PROVIDER_NAME = re.compile(r"[a-z0-9_\-]{1,32}")


@dataclass(frozen=True)
class Answer:
    """What to tell the provider: an HTTP status and a word for its logs."""

    status: int
    result: str


def receive(provider_name: str, headers: Mapping[str, str], body: bytes) -> Answer:
    """Check, record and act on one webhook delivery (the body already size-checked)."""
    provider = providers(current_app).get(provider_name) if _PROVIDER_NAME.fullmatch(
        provider_name) else None
    if provider is None:
        log.warning("webhook for an unknown payment provider refused")
        return Answer(404, "unknown provider")
    try:
        event = provider.verify_webhook(headers, body)
    except InvalidWebhook as exc:
        log.warning("webhook from %s refused: %s", provider_name, exc)
        return Answer(400, "invalid")
    if not _well_formed(event):
        log.warning("webhook from %s refused: the provider gave a malformed event",
                    provider_name)
        return Answer(400, "invalid")
    received = _record(provider_name, event)
    if received.processed_at is not None:
        log.info("webhook %s from %s already processed", event.event_id, provider_name)
        return Answer(200, "duplicate")
    return _process(provider_name, event, received.id)


def _well_formed(event: object) -> bool:
    return (isinstance(event, WebhookEvent)
            and isinstance(event.event_id, str) and 0 < len(event.event_id) <= 64
            and isinstance(event.reference, str) and 0 < len(event.reference) <= 64
            and isinstance(event.type, str) and len(event.type) <= 40)


def _record(provider_name: str, event: WebhookEvent) -> ReceivedWebhook:
    """The event's row, written now (committed) or found from an earlier delivery."""
    try:
        with db.session.begin_nested():
            received = ReceivedWebhook(provider=provider_name, event_id=event.event_id,
                                       reference=event.reference, type=event.type)
            db.session.add(received)
        db.session.commit()  # before the provider is asked: no write lock held meanwhile
        return received
    except IntegrityError:
        db.session.rollback()
    return db.session.scalars(select(ReceivedWebhook).where(
        ReceivedWebhook.provider == provider_name,
        ReceivedWebhook.event_id == event.event_id)).one()


def _process(provider_name: str, event: WebhookEvent, received_id: int) -> Answer:
    payment = db.session.scalar(select(Payment).where(
        Payment.provider == provider_name, Payment.provider_reference == event.reference))
    if payment is None:
        # Not ours (or not any more): answered 200 so that the provider stops retrying.
        log.warning("webhook %s from %s names no known payment", event.event_id,
                    provider_name)
        _processed(received_id, "unknown_payment")
        return Answer(200, "unknown payment")
    try:
        payment = ledger.settle(payment)  # asks the provider; the event's type is not used
    except Exception as exc:  # noqa: BLE001 - the provider will deliver it again
        db.session.rollback()
        log.warning("webhook %s from %s: payment %s could not be settled now: %s",
                    event.event_id, provider_name, payment.public_id, type(exc).__name__)
        return Answer(503, "try again")
    if not payment.is_final:
        log.info("webhook %s (%s) from %s: payment %s is still pending there; left "
                 "for the redelivery", event.event_id, event.type, provider_name,
                 payment.public_id)
        return Answer(503, "pending")
    _processed(received_id, "settled")
    log.info("webhook %s (%s) from %s: payment %s is %s", event.event_id, event.type,
             provider_name, payment.public_id, payment.state)
    return Answer(200, "processed")


def _processed(received_id: int, outcome: str) -> None:
    db.session.execute(
        update(ReceivedWebhook)
        .where(ReceivedWebhook.id == received_id, ReceivedWebhook.processed_at.is_(None))
        .values(processed_at=utcnow(), outcome=outcome)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()

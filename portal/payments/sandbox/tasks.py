"""Celery tasks of the sandbox: sending its webhooks, and the sweep that retries them."""

from __future__ import annotations

from celery import shared_task

from portal.payments.sandbox import webhooks


@shared_task(name="portal.payments.sandbox.tasks.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str | None:
    return webhooks.deliver(delivery_id)


@shared_task(name="portal.payments.sandbox.tasks.deliver_due_webhooks")
def deliver_due_webhooks(limit: int = 200) -> dict[str, int]:
    return vars(webhooks.deliver_due(limit))

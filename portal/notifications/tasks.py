"""Celery tasks of the outbox."""

from __future__ import annotations

from celery import shared_task

from portal.notifications import delivery


@shared_task(name="portal.notifications.tasks.deliver_email")
def deliver_email(email_id: int) -> str | None:
    return delivery.deliver(email_id)


@shared_task(name="portal.notifications.tasks.deliver_due_emails")
def deliver_due_emails() -> int:
    return delivery.deliver_due()

"""Celery tasks of receipts: issue one (after its cause commits), sweep for lost ones."""

from __future__ import annotations

from celery import shared_task

from portal.receipts import issue


@shared_task(name="portal.receipts.tasks.issue_receipt")
def issue_receipt(receipt_id: int) -> str | None:
    return issue.issue_receipt(receipt_id)


@shared_task(name="portal.receipts.tasks.issue_due_receipts")
def issue_due_receipts(limit: int = issue.SWEEP_LIMIT) -> int:
    return issue.issue_due(limit=limit)

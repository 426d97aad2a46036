"""Background jobs with Celery.

With no broker configured (the embedded default) jobs run in-process, eagerly, right
after the transaction that asked for them commits. With ``PORTAL_CELERY_BROKER_URL``
(Redis in production) they run in ``celery -A portal.worker worker`` processes, and
``celery -A portal.worker beat`` runs the periodic jobs.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask, current_app

#: Periodic jobs: name -> (task, seconds between runs).
BEAT_SCHEDULE = {
    "deliver-due-emails": {
        "task": "portal.notifications.tasks.deliver_due_emails",
        "schedule": 60.0,
    },
    "reconcile-payments": {
        "task": "portal.payments.tasks.reconcile_payments_and_refunds",
        "schedule": 300.0,
    },
    "lapse-unpaid-applications": {
        "task": "portal.applications.tasks.lapse_unpaid",
        "schedule": 3600.0,
    },
    "issue-due-receipts": {
        "task": "portal.receipts.tasks.issue_due_receipts",
        "schedule": 120.0,
    },
    "deliver-sandbox-webhooks": {
        "task": "portal.payments.sandbox.tasks.deliver_due_webhooks",
        "schedule": 30.0,
    },
    "remind-and-expire-drafts": {
        "task": "portal.applications.tasks.expire_drafts",
        "schedule": 3600.0,
    },
}


def init_app(app: Flask) -> Celery:
    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config.get("CELERY_BROKER_URL") or ""
    celery_app = Celery(app.import_name, task_cls=FlaskTask, broker=broker or None)
    celery_app.conf.update(
        result_backend=app.config.get("CELERY_RESULT_BACKEND") or None,
        task_ignore_result=True,
        task_always_eager=not broker,
        # An eager job's failure must not break the request that queued it: the outbox
        # row keeps the failure and a later sweep (beat, or see ``portal.notifications``
        # for the embedded default) retries it.
        task_eager_propagates=False,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        timezone="Asia/Hong_Kong",
        beat_schedule=BEAT_SCHEDULE,
        broker_connection_retry_on_startup=True,
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    # Import the task modules so the worker knows them.
    import portal.applications.tasks  # noqa: F401
    import portal.notifications.tasks  # noqa: F401
    import portal.payments.sandbox.tasks  # noqa: F401
    import portal.payments.tasks  # noqa: F401
    import portal.receipts.tasks  # noqa: F401

    return celery_app


def is_eager() -> bool:
    return bool(current_app.extensions["celery"].conf.task_always_eager)


def enqueue(task_name: str, *args: Any) -> None:
    """Start a job on this Flask app's Celery (eager in the embedded default).

    Going through the app's own Celery, rather than the process-wide default one, keeps
    each job bound to the app that asked for it, even when one process builds several
    apps (tests, a multi-tenant host).
    """
    celery_app: Celery = current_app.extensions["celery"]
    celery_app.tasks[task_name].delay(*args)

"""Background jobs with Celery.

With no broker configured (the embedded default) jobs run in-process, eagerly, right
after the transaction that asked for them commits. With ``PORTAL_CELERY_BROKER_URL``
(Redis in production) they run in ``celery -A portal.worker worker`` processes, and
``celery -A portal.worker beat`` runs the periodic jobs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from flask import Flask, after_this_request, current_app, has_request_context

log = logging.getLogger("portal.jobs")

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


class Sweep:
    """"At most once every ``every`` seconds": how the embedded default (no beat) retries
    what is due, riding along with the requests that commit. Per process."""

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self.last = 0.0

    def take(self) -> bool:
        """True, and the clock starts again, if the last run is ``every`` seconds old."""
        now = time.monotonic()
        if now - self.last <= self.every:
            return False
        self.last = now
        return True


def after_response(function: Callable[..., Any], *args: Any) -> bool:
    """Call ``function(*args)`` once the current response has been sent (Werkzeug's
    ``call_on_close``), in an app context of its own, so no one waits for it; outside a
    request, at once. Its failure is logged (nobody is left to see it).

    Returns False when it is too late in the request to defer (nothing is then run).
    """
    if not has_request_context():
        _run_logged(function, *args)
        return True
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run_in_app() -> None:
        from portal.extensions import db

        with app.app_context():
            try:
                _run_logged(function, *args)
            finally:
                db.session.remove()

    try:
        @after_this_request
        def _after_the_response(response: Any) -> Any:
            response.call_on_close(run_in_app)
            return response
    except (AssertionError, RuntimeError):  # the response is already being made
        return False
    return True


def _run_logged(function: Callable[..., Any], *args: Any) -> None:
    try:
        function(*args)
    except Exception:  # noqa: BLE001 - after the response nobody else would see it
        log.exception("%s could not run", getattr(function, "__qualname__", function))

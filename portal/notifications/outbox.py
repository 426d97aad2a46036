"""Queue emails in the outbox and hand them to the background job after commit.

``queue_email`` renders the message in the recipient's language and adds an outbox row
to the current transaction. Only when that transaction commits is the delivery job
started, so a rolled-back action sends nothing and a committed one cannot lose its email.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, has_request_context, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.i18n import force_locale
from portal.jobs import Sweep
from portal.notifications.models import OutboxEmail

_PENDING_KEY = "portal_outbox_pending"
#: In the embedded default, failed emails are retried at most once a minute.
SWEEP = Sweep(60.0)
_URL = re.compile(r"https?://[^\s<>\"]+")


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL for emails and payment returns, under ``PUBLIC_BASE_URL``.

    Only in development and tests, where it may be unset, does the host come from the
    request (so ``make run`` on any port works); elsewhere an unset ``PUBLIC_BASE_URL``
    raises ``PublicBaseURLMissing`` rather than trust a Host header the client chose (a
    password-reset link pointing at someone else's site). See ``portal.public_urls``.
    """
    from portal.public_urls import LOCAL_ENVIRONMENTS, PublicBaseURLMissing

    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        if current_app.config.get("ENVIRONMENT") not in LOCAL_ENVIRONMENTS:
            raise PublicBaseURLMissing(
                "PORTAL_PUBLIC_BASE_URL is not set: the portal cannot give its own address")
        base = request.host_url if has_request_context() else "http://127.0.0.1:5000/"
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        with current_app.test_request_context("/"):
            path = url_for(endpoint, **values)
    return base.rstrip("/") + path


def text_to_html(text: str) -> Markup:
    """The HTML alternative: the same words, paragraphs kept, links made clickable."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        escaped = str(escape(block))
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>") + "</p>")
    # Every block was escaped above; only our own <p>, <br> and <a> are added.
    return Markup("\n".join(paragraphs))  # noqa: S704


def render_email(kind: str, locale: str, **context: Any) -> tuple[str, str, str]:
    """Render ``templates/emails/<kind>.txt`` in ``locale``: (subject, text, html)."""
    with force_locale(locale):
        template = current_app.jinja_env.get_template(f"emails/{kind}.txt")
        module = template.make_module(
            {**context, "portal_name": _portal_name(), "current_locale": locale}
        )
        subject = " ".join(str(getattr(module, "subject", "")).split())
        text = str(module).strip() + "\n"
        html = render_template(
            "emails/layout.html", subject=subject, body=text_to_html(text), locale=locale
        )
    return subject, text, html


def _portal_name() -> str:
    from flask_babel import gettext

    return gettext("HK Digital Services Portal")


def queue_email(
    *, recipient: str, kind: str, locale: str, user_id: int | None = None,
    application_id: int | None = None, **context: Any
) -> OutboxEmail:
    """Render and add one email to the current transaction. ``application_id`` links it
    to the application it is about: the case view shows its delivery state."""
    subject, text, html = render_email(kind, locale, **context)
    email = OutboxEmail(
        recipient=recipient,
        locale=locale,
        kind=kind,
        subject=subject[:200],
        body_text=text,
        body_html=html,
        user_id=user_id,
        application_id=application_id,
    )
    db.session.add(email)
    db.session.flush()
    db.session.info.setdefault(_PENDING_KEY, []).append(email.id)
    return email


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    from portal.jobs import enqueue, is_eager

    for email_id in pending:
        enqueue("portal.notifications.tasks.deliver_email", email_id)
    # With no Celery beat (the embedded default), retries ride along with new mail: at
    # most once a minute, whatever is due is tried again. `portal outbox deliver` and
    # beat do the same on their own schedule.
    if is_eager() and SWEEP.take():
        enqueue("portal.notifications.tasks.deliver_due_emails")


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)

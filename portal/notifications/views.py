"""The development mailbox: mail 'sent' by ``make run`` is read here."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, render_template
from sqlalchemy import select

from portal.extensions import db
from portal.notifications.models import EMAIL_STATUS_LABELS, OutboxEmail
from portal.notifications.outbox import text_to_html


def _mailbox_enabled() -> bool:
    cfg = current_app.config
    return cfg["ENVIRONMENT"] == "development" and cfg["MAIL_BACKEND"] == "mailbox"


def mailbox() -> Any:
    if not _mailbox_enabled():
        abort(404)
    emails = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(100))
    return render_template(
        "notifications/mailbox.html", emails=list(emails), status_labels=EMAIL_STATUS_LABELS
    )


def mailbox_message(email_id: int) -> Any:
    if not _mailbox_enabled():
        abort(404)
    email = db.session.get(OutboxEmail, email_id) or abort(404)
    return render_template(
        "notifications/mailbox_message.html", email=email, body=text_to_html(email.body_text)
    )

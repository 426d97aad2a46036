"""Carrying out outbox rows: claim, send over SMTP, record the outcome."""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate

from flask import current_app
from sqlalchemy import or_, select, update

from portal.database import utcnow
from portal.extensions import db
from portal.notifications.models import EmailStatus, OutboxEmail

log = logging.getLogger("portal.notifications")

#: How long a worker may hold a row before another may take it over.
CLAIM_SECONDS = 300


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes between attempts, at most six hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def claim(email_id: int) -> OutboxEmail | None:
    """Take a due row for this worker (compare-and-set), or None if it is not ours."""
    now = utcnow()
    result = db.session.execute(
        update(OutboxEmail)
        .where(
            OutboxEmail.id == email_id,
            OutboxEmail.status == EmailStatus.QUEUED,
            OutboxEmail.next_attempt_at <= now,
            or_(OutboxEmail.claimed_until.is_(None), OutboxEmail.claimed_until < now),
        )
        .values(
            claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
            attempts=OutboxEmail.attempts + 1,
        )
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    return db.session.get(OutboxEmail, email_id)


def build_message(email: OutboxEmail) -> EmailMessage:
    cfg = current_app.config
    message = EmailMessage()
    message["From"] = cfg["MAIL_DEFAULT_SENDER"]
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    sender_domain = cfg["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].strip(">") or "portal.local"
    # A stable Message-ID: if a send is repeated after a crash, mail clients see one message.
    message["Message-ID"] = f"<outbox-{email.id}@{sender_domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.body_text)
    if email.body_html:
        message.add_alternative(email.body_html, subtype="html")
    if email.receipt_id is not None:
        _attach_receipt(message, email.receipt_id)
    # After the body: set_content() drops Content-* headers set before it.
    message["Content-Language"] = "zh-HK" if email.locale.startswith("zh") else "en"
    return message


def _attach_receipt(message: EmailMessage, receipt_id: int) -> None:
    """The issued PDF, checked against its SHA-256 (a mismatch fails the send: retried)."""
    from portal.receipts.downloads import download_filename, stored_pdf
    from portal.receipts.models import Receipt

    receipt = db.session.get(Receipt, receipt_id)
    if receipt is None:
        raise LookupError(f"receipt {receipt_id} of an email is missing")
    message.add_attachment(stored_pdf(receipt), maintype="application", subtype="pdf",
                           filename=download_filename(receipt))


def send_over_smtp(message: EmailMessage) -> None:
    cfg = current_app.config
    security = (cfg.get("MAIL_SECURITY") or "").lower()
    timeout = cfg.get("MAIL_TIMEOUT", 10)
    if security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=timeout)
    with smtp:
        if security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
        smtp.send_message(message)


def deliver(email_id: int) -> str | None:
    """Try to send one outbox email; returns its status, or None if not due or taken."""
    email = claim(email_id)
    if email is None:
        return None
    try:
        if current_app.config["MAIL_BACKEND"] == "mailbox":
            if current_app.config["ENVIRONMENT"] != "development":
                raise RuntimeError("the development mailbox is not for production")
        else:
            send_over_smtp(build_message(email))
    except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
        failed = email.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]
        email.status = EmailStatus.FAILED if failed else EmailStatus.QUEUED
        email.last_error = f"{type(exc).__name__}: {exc}"[:500]
        email.next_attempt_at = utcnow() + backoff(email.attempts)
        email.claimed_until = None
        db.session.commit()
        log.warning("email %s attempt %s failed: %s", email.id, email.attempts, email.last_error)
        return str(email.status)
    email.status = EmailStatus.SENT
    email.sent_at = utcnow()
    email.claimed_until = None
    email.last_error = None
    db.session.commit()
    log.info("email %s (%s) sent", email.id, email.kind)
    return str(email.status)


def deliver_due(limit: int = 100) -> int:
    """Send every due email (retries and anything a crashed worker left); returns a count."""
    now = utcnow()
    ids = db.session.scalars(
        select(OutboxEmail.id)
        .where(
            OutboxEmail.status == EmailStatus.QUEUED,
            OutboxEmail.next_attempt_at <= now,
            or_(OutboxEmail.claimed_until.is_(None), OutboxEmail.claimed_until < now),
        )
        .order_by(OutboxEmail.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    return sum(1 for email_id in ids if deliver(email_id) is not None)

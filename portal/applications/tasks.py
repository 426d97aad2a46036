"""Periodic work: drafts (a reminder a week before one expires, then deletion) and
applications left unpaid (closed after ``UNPAID_APPLICATION_DAYS``)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import select, update

from portal.applications.models import Application, Draft, DraftStatus, Upload
from portal.applications.uploads import discard_files
from portal.database import utcnow
from portal.extensions import db


def remind_and_expire_drafts() -> tuple[int, int]:
    """Email owners of drafts about to expire (once), delete expired ones with their
    uploads. Returns (reminded, deleted). Safe to run from several workers at once: the
    reminder is claimed with a compare-and-set."""
    from portal.i18n import force_locale, format_day
    from portal.identity.util import email_user
    from portal.notifications.outbox import external_url
    from portal.plugins.manager import services

    config = current_app.config
    registry = services(current_app)
    registry.refresh(every=0)  # a worker runs long: read the switches as they are now
    now = utcnow()
    expiry = timedelta(days=config["DRAFT_EXPIRY_DAYS"])
    remind_after = expiry - timedelta(days=config["DRAFT_REMINDER_DAYS_BEFORE"])
    reminded = 0
    due = db.session.scalars(
        select(Draft).where(Draft.status == DraftStatus.OPEN, Draft.reminder_sent_at.is_(None),
                            Draft.updated_at <= now - remind_after,
                            Draft.updated_at > now - expiry)
    ).all()
    catalogue = registry.active
    for draft in due:
        definition = catalogue.get(draft.service)
        if definition is None:
            continue  # the service is not offered now: the draft cannot be continued
        claimed = db.session.execute(
            update(Draft).where(Draft.id == draft.id, Draft.reminder_sent_at.is_(None),
                                Draft.updated_at == draft.updated_at)
            .values(reminder_sent_at=now)
        ).rowcount
        if claimed != 1:
            continue
        locale = draft.user.preferred_language
        with force_locale(locale):
            title = str(definition.title)
            expires_on = format_day(draft.updated_at + expiry, locale=locale)
        email_user(draft.user, "applications/draft_expiring", service_title=title,
                   expires_on=expires_on,
                   link=external_url("applications.resume", draft_id=draft.public_id))
        db.session.commit()
        reminded += 1
    expired = db.session.scalars(
        select(Draft).where(Draft.status == DraftStatus.OPEN, Draft.updated_at <= now - expiry)
    ).all()
    deleted = 0
    for draft in expired:
        uploads = db.session.scalars(select(Upload).where(Upload.draft_id == draft.id)).all()
        for upload in uploads:
            db.session.delete(upload)
        db.session.delete(draft)
        db.session.commit()
        discard_files(list(uploads))
        deleted += 1
    return reminded, deleted


@shared_task(name="portal.applications.tasks.expire_drafts")
def expire_drafts() -> tuple[int, int]:
    return remind_and_expire_drafts()


def lapse_unpaid_applications() -> int:
    """Close applications awaiting payment for ``UNPAID_APPLICATION_DAYS``; returns how many.

    Only where the service's workflow has the move (``lapse``). A payment still open is
    first settled with its provider: one paid after all moves the application on instead,
    and one still being paid is left for the next run. The citizen is told by email. Safe
    with several workers: the move is a compare-and-set.
    """
    from portal.applications import engine
    from portal.i18n import force_locale
    from portal.identity.util import email_user
    from portal.notifications.outbox import external_url
    from portal.payments.ledger import open_payment, settle
    from portal.plugins.manager import services
    from portal.plugins.service import AWAITING_PAYMENT, LAPSE, IllegalTransition

    registry = services(current_app)
    registry.refresh(every=0)
    cutoff = utcnow() - timedelta(days=current_app.config["UNPAID_APPLICATION_DAYS"])
    catalogue = registry.active
    due = db.session.scalars(
        select(Application).where(Application.state == AWAITING_PAYMENT,
                                  Application.submitted_at <= cutoff)
        .order_by(Application.id)
    ).all()
    lapsed = 0
    for application in due:
        definition = catalogue.get(application.service)
        if definition is None or LAPSE not in definition.workflow.actions(AWAITING_PAYMENT,
                                                                          "system"):
            continue
        payment = open_payment(application)
        if payment is not None:
            try:
                payment = settle(payment)
            except Exception:  # the provider cannot say now: try again next run
                current_app.logger.warning("could not settle payment %s before lapsing",
                                           payment.public_id, exc_info=True)
                db.session.rollback()
                continue
            db.session.refresh(application)
            if not payment.is_final or application.state != AWAITING_PAYMENT:
                continue
        try:
            event = engine.transition(application, LAPSE, actor_role="system",
                                      definition=definition)
        except IllegalTransition:  # moved meanwhile (paid, withdrawn)
            db.session.rollback()
            continue
        with force_locale(application.user.preferred_language):
            title = str(definition.title)
        email_user(application.user, "applications/lapsed", service_title=title,
                   reference=application.reference, application_id=application.id,
                   days=current_app.config["UNPAID_APPLICATION_DAYS"],
                   link=external_url("applications.detail", reference=application.reference))
        db.session.commit()
        engine.announce_transition(application, event)
        lapsed += 1
    return lapsed


@shared_task(name="portal.applications.tasks.lapse_unpaid")
def lapse_unpaid() -> int:
    return lapse_unpaid_applications()

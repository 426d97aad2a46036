"""The citizen's side of casework: the department's messages, its requests for more
information, the citizen's replies, and what needs the citizen's attention.

Staff ask for more information with an ``INFORMATION_REQUEST`` message and move the case
to a waiting state (the pledge's clock stops). ``answer_information_request`` is the one
way a citizen answers: the request is marked answered by a compare-and-set, so a double
click or a second tab makes exactly one reply, and the case moves back to the department
with ``information_provided`` in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from portal.applications import engine
from portal.applications.models import Application, CaseMessage, MessageKind, Upload
from portal.database import utcnow
from portal.extensions import db
from portal.plugins.manager import services
from portal.plugins.service import AWAITING_PAYMENT, INFORMATION_PROVIDED, IllegalTransition

#: The longest reply a citizen can send (characters).
MAX_REPLY_LENGTH = 4000
#: Uploads kept with a reply are marked with this field name.
REPLY_FIELD = "reply"


class ReplyRefused(Exception):
    """The reply cannot be taken; nothing was changed."""

    def __init__(self, application: Application, message: str) -> None:
        super().__init__(message)
        self.application = application


class NoOpenRequest(ReplyRefused):
    """The department has no unanswered request for more information on this case."""


class AlreadyAnswered(NoOpenRequest):
    """The request was answered meanwhile (a double click, another tab)."""


class CaseMovedOn(ReplyRefused):
    """The case left the waiting state (decided, withdrawn) before the reply came."""


def messages_of(application: Application) -> list[CaseMessage]:
    """Every message between the department and the citizen, oldest first."""
    return list(db.session.scalars(
        select(CaseMessage).where(CaseMessage.application_id == application.id)
        .order_by(CaseMessage.created_at, CaseMessage.id)
    ))


def unanswered_request(application: Application) -> CaseMessage | None:
    """The latest request for more information that the citizen has not answered."""
    return db.session.scalar(
        select(CaseMessage)
        .where(CaseMessage.application_id == application.id,
               CaseMessage.kind == MessageKind.INFORMATION_REQUEST,
               CaseMessage.answered_at.is_(None))
        .order_by(CaseMessage.created_at.desc(), CaseMessage.id.desc())
        .limit(1)
    )


def _definition(application: Application) -> Any:
    return services(current_app).active.get(application.service)


def can_answer(application: Application, definition: Any = None) -> bool:
    """Whether the case waits for the citizen, who may answer now."""
    definition = definition or _definition(application)
    if definition is None:
        return False
    workflow = definition.workflow
    return (application.state in workflow.waiting
            and INFORMATION_PROVIDED in workflow.actions(application.state, "citizen"))


def open_request(application: Application, definition: Any = None) -> CaseMessage | None:
    """The request the citizen should answer now (None when the case is not waiting)."""
    if not can_answer(application, definition):
        return None
    return unanswered_request(application)


@dataclass
class ThreadEntry:
    """One message as the citizen sees it, with the documents sent with a reply."""

    message: CaseMessage
    documents: list[Upload] = field(default_factory=list)


def thread_of(application: Application) -> list[ThreadEntry]:
    """The messages, each reply with the documents that came with it.

    A reply and its documents are stored in one transaction with the same timestamp,
    so each reply's documents are those sent after the reply before it.
    """
    entries = [ThreadEntry(message) for message in messages_of(application)]
    replies = [entry for entry in entries if entry.message.kind == MessageKind.REPLY]
    documents = sorted(
        (upload for upload in application.uploads if upload.field == REPLY_FIELD),
        key=lambda upload: (upload.created_at, upload.id),
    )
    for upload in documents:
        owner = next((entry for entry in replies
                      if entry.message.created_at >= upload.created_at), None)
        if owner is not None:
            owner.documents.append(upload)
    return entries


def answer_information_request(application: Application, user: Any, text: str,
                               uploads: Sequence[Upload] = ()) -> CaseMessage:
    """Answer the open request with ``text`` and ``uploads``; commits, then tells plugins.

    ``uploads`` are rows stored with ``store_upload`` in this transaction (not yet
    committed). Raises ``NoOpenRequest`` (``AlreadyAnswered`` when answered meanwhile) or
    ``CaseMovedOn`` after rolling back; the caller then discards the uploads' files.
    Checks only what a form cannot: the text is expected to be validated already.
    """
    text = text.strip()
    if not text or len(text) > MAX_REPLY_LENGTH:
        raise ValueError("a reply needs 1 to 4000 characters")
    try:
        return _answer(application, user, text, uploads)
    except ReplyRefused:
        db.session.rollback()
        db.session.refresh(application)
        raise


def _answer(application: Application, user: Any, text: str,
            uploads: Sequence[Upload]) -> CaseMessage:
    request = unanswered_request(application)
    if request is None:
        raise _no_request(application)
    if not can_answer(application):
        raise CaseMovedOn(application, "the case no longer waits for the citizen")
    now = utcnow()
    # The request first: a second submission waits here for the first to commit, then
    # finds the request answered (and is told so), instead of a changed state.
    answered = db.session.execute(
        update(CaseMessage)
        .where(CaseMessage.id == request.id, CaseMessage.answered_at.is_(None))
        .values(answered_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if answered != 1:
        raise AlreadyAnswered(application, "the request was answered meanwhile")
    request.answered_at = now
    reply = CaseMessage(
        public_id=secrets.token_hex(16), application_id=application.id,
        kind=MessageKind.REPLY, sender="citizen", author_id=user.id, body=text,
        in_reply_to_id=request.id, created_at=now,
    )
    db.session.add(reply)
    for upload in uploads:
        upload.application_id = application.id
        upload.draft_id = None
        upload.field = REPLY_FIELD
        upload.created_at = now
    try:
        event = engine.transition(application, INFORMATION_PROVIDED, actor_role="citizen",
                                  actor_id=user.id)
    except IllegalTransition as exc:  # StaleState too: withdrawn or decided meanwhile
        raise CaseMovedOn(application, "the case moved on before the reply") from exc
    _tell_the_officer(application)
    db.session.commit()
    engine.announce_transition(application, event)
    return reply


def answered_before(application: Application) -> bool:
    """Whether the department asked for more information and every request is answered."""
    asked = db.session.scalar(
        select(CaseMessage.id).where(CaseMessage.application_id == application.id,
                                     CaseMessage.kind == MessageKind.INFORMATION_REQUEST)
        .limit(1)
    )
    return asked is not None and unanswered_request(application) is None


def _no_request(application: Application) -> NoOpenRequest:
    if answered_before(application):
        return AlreadyAnswered(application, "every request has been answered")
    return NoOpenRequest(application, "no request for more information")


def _tell_the_officer(application: Application) -> None:
    """A short notice to the officer handling the case, in their language: the reference
    and a link, nothing the citizen wrote."""
    from portal.identity.util import email_user
    from portal.notifications.outbox import external_url

    officer = application.assigned_to
    if officer is None or not officer.is_active:
        return
    email_user(officer, "applications/reply_received", application_id=application.id,
               reference=application.reference,
               link=external_url("backoffice.case", reference=application.reference))


# --- what needs the citizen's attention ----------------------------------------------


@dataclass
class AttentionItem:
    """Something the citizen must do on one application."""

    application: Application
    #: ``information`` (answer a request) or ``payment`` (pay the fee).
    kind: str
    #: The request to answer, for ``information``.
    request: CaseMessage | None = None
    since: datetime | None = None


def needing_attention(applications: Sequence[Application],
                      catalogue: dict[str, Any]) -> list[AttentionItem]:
    """Requests to answer, then fees to pay, among ``applications``."""
    waiting = [a for a in applications
               if a.service in catalogue and can_answer(a, catalogue[a.service])]
    requests: dict[int, CaseMessage] = {}
    if waiting:
        for message in db.session.scalars(
            select(CaseMessage)
            .where(CaseMessage.application_id.in_([a.id for a in waiting]),
                   CaseMessage.kind == MessageKind.INFORMATION_REQUEST,
                   CaseMessage.answered_at.is_(None))
            .order_by(CaseMessage.created_at, CaseMessage.id)
        ):
            requests[message.application_id] = message  # the latest wins
    items = [AttentionItem(a, "information", requests[a.id], requests[a.id].created_at)
             for a in waiting if a.id in requests]
    items.sort(key=lambda item: item.since or item.application.submitted_at)
    payments = [AttentionItem(a, "payment", since=a.submitted_at) for a in applications
                if a.state == AWAITING_PAYMENT and a.fee_amount > 0]
    payments.sort(key=lambda item: item.application.submitted_at)
    return items + payments

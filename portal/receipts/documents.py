"""Documents a service issues on approval (a renewed licence), through the receipts pipeline.

A service declares them (``ServiceDefinition.documents``, a ``DocumentSpec`` each). The
staff action that approves an application calls ``request_documents`` in its own
transaction: each document becomes a pending ``Receipt`` row of kind ``document`` whose
cause, ``document:<application id>:<name>``, is unique, so it is issued exactly once
however often or concurrently it is asked for. After the commit the receipts job numbers
it in the series its service declared (``TD/LIC/2026-27/000001``, gapless per department
and fiscal year), signs it, renders it in English and Chinese, stores it and emails it to
the citizen: everything a receipt gets, and the verify page checks it the same way.

What it says is worked out from the application whenever it is needed (``document_facts``):
valid from the day it was asked for (the day of approval, Hong Kong time) until what the
service's ``validity`` makes of the answers. The signed payload carries those days, so the
verify page tells a valid document from an expired one without another column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.applications.models import Application
from portal.database import utcnow
from portal.extensions import db
from portal.i18n import ENGLISH, force_locale, hong_kong_day, hong_kong_today
from portal.plugins.service import DocumentSpec, ServiceDefinition
from portal.receipts.models import Receipt, ReceiptKind, ReceiptStatus

__all__ = [
    "DocumentFacts",
    "DocumentUnavailable",
    "IssuedDocument",
    "document_facts",
    "documents_for",
    "request_documents",
    "years_after",
]

CAUSE_PREFIX = "document"

#: The labels only issued documents print (each in both languages).
LABELS: dict[str, Any] = {
    "number": _l("Document number"),
    "holder": _l("Holder"),
    "valid_from": _l("Valid from"),
    "valid_until": _l("Valid until"),
    "no_end": _l("No end date"),
}


class DocumentUnavailable(LookupError):
    """The service of a document, or the document in it, is not active (any more)."""


def years_after(day: date, years: int) -> date:
    """The last day of a validity of ``years`` whole years starting on ``day``: 25 Nov 2026
    for 10 years runs to 24 Nov 2036 (a start on 29 February counts from 28 February)."""
    try:
        same_day = day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year that has none
        same_day = day.replace(year=day.year + years, day=28) + timedelta(days=1)
    return same_day - timedelta(days=1)


def cause_for(application: Application, name: str) -> str:
    return f"{CAUSE_PREFIX}:{application.id}:{name}"


def document_name(receipt: Receipt) -> str:
    """``licence`` of the cause ``document:17:licence``."""
    return receipt.cause.rsplit(":", 1)[-1]


def _definition(name: str) -> ServiceDefinition | None:
    from portal.plugins.manager import services

    return services(current_app).active.get(name)


def spec_of(receipt: Receipt) -> tuple[ServiceDefinition, DocumentSpec]:
    """The service and the ``DocumentSpec`` a document row was asked for by."""
    application = receipt.owning_application()
    definition = _definition(application.service)
    name = document_name(receipt)
    spec = next((d for d in definition.documents if d.name == name), None) \
        if definition is not None else None
    if definition is None or spec is None:
        raise DocumentUnavailable(f"service {application.service!r} issues no {name!r} now")
    return definition, spec


# --- asking ------------------------------------------------------------------------------


def request_documents(application: Application,
                      definition: ServiceDefinition | None = None) -> list[Receipt]:
    """Ask for every document the service issues on approval, in the caller's transaction.

    Call it in the transaction that approves ``application``, before the commit; the
    documents are issued after the commit (a rollback asks for nothing). Asking again, or
    from two requests at once, gives the same rows: one document each, ever.

    :param application: the application just approved.
    :param definition: its service (default: the active one of that name).
    :return: the document rows, pending or already issued; empty when the service
        issues none.
    """
    from portal.receipts import issue, numbering

    definition = definition or _definition(application.service)
    if definition is None or not definition.documents:
        return []
    now = utcnow()
    locale = issue.citizen_locale(application)
    return [
        issue._request(  # the one way a pending row is made
            cause=cause_for(application, spec.name), kind=ReceiptKind.DOCUMENT,
            payment=None, refund=None, amount=0, department=application.department,
            locale=locale, application=application, created_at=now,
            series=numbering.series_for(application.department, ReceiptKind.DOCUMENT, now,
                                        spec.series),
        )
        for spec in definition.documents
    ]


# --- what a document says --------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentFacts:
    """What an issued document says, worked out from its application and service."""

    name: str
    #: The spec's title (lazy: shown in either language).
    title: Any
    #: The holder's masked name, as for a receipt's payer.
    holder: str
    valid_from: date
    valid_until: date | None
    #: The service's own lines: (label, value) pairs, labels lazy.
    lines: tuple[tuple[Any, Any], ...]


def answers_of(application: Application, definition: ServiceDefinition) -> dict[str, Any]:
    """The submitted answers as the forms read them (field name -> value)."""
    from portal.applications.engine import submitted_values

    return submitted_values(application, definition)


def document_facts(receipt: Receipt) -> DocumentFacts:
    """What ``receipt`` (an issued document) says; the same every time it is asked."""
    from portal.receipts.signing import masked_name

    application = receipt.owning_application()
    definition, spec = spec_of(receipt)
    answers: Mapping[str, Any] = answers_of(application, definition)
    valid_from = hong_kong_day(receipt.created_at)
    valid_until = spec.validity(answers, valid_from) if spec.validity is not None else None
    if valid_until is not None and (not isinstance(valid_until, date)
                                    or isinstance(valid_until, datetime)
                                    or valid_until < valid_from):
        raise ValueError(f"document {spec.name!r}: validity gave {valid_until!r}, not a day "
                         f"on or after {valid_from}")
    lines = tuple(spec.facts(answers)) if spec.facts is not None else ()
    return DocumentFacts(name=spec.name, title=spec.title, holder=masked_name(application.user),
                         valid_from=valid_from, valid_until=valid_until, lines=lines)


# --- the page ---------------------------------------------------------------------------


def prepare_document(receipt: Receipt) -> Any:
    """The page of a numbered, signed document, its ``data:`` URIs and attached payload
    (reads the database; the render that follows does not)."""
    from portal.receipts import qr, render, signing

    application = receipt.owning_application()
    definition, spec = spec_of(receipt)
    facts = document_facts(receipt)
    qr_uri = qr.qr_data_uri(receipt)
    labels = {key: render.bilingual(label) for key, label in render.LABELS.items()
              if key != "verify_at"}
    labels.update({key: render.bilingual(label) for key, label in LABELS.items()})
    context = {
        "receipt": receipt,
        "labels": labels,
        "verify_line": render.bilingual(render.LABELS["verify_at"], url=render.verify_url()),
        "department": render.department_names(receipt.department),
        "service": render.service_title(application.service),
        "title": render.bilingual(facts.title),
        "holder": facts.holder,
        "lines": [(render.bilingual(label), value if isinstance(value, str)
                   else render.bilingual(value)) for label, value in facts.lines],
        "valid_from": facts.valid_from.isoformat(),
        "valid_until": facts.valid_until.isoformat() if facts.valid_until else None,
        "issued_at": render.hong_kong_time(receipt.issued_at),
        "reference": application.reference,
        "qr_uri": qr_uri,
    }
    with force_locale(ENGLISH):
        if spec.template is None:
            html = render_template("receipts/issued_document.html", **context)
        else:
            from portal.plugins.templates import render_service_template

            html = render_service_template(definition.name, spec.template, **context)
            if html is None:
                raise DocumentUnavailable(
                    f"service {definition.name!r} has no template {spec.template!r}")
    payload = (receipt.signed_payload or "").encode()
    return render.PreparedDocument(str(html), (qr_uri,),
                                   {signing.PAYLOAD_ATTACHMENT_NAME: payload})


# --- the citizen's email ------------------------------------------------------------------


def queue_document_email(receipt: Receipt) -> Any:
    """The citizen's email with the document attached, in their language (the caller's
    transaction: one email per document)."""
    from portal.i18n import format_day
    from portal.notifications.outbox import queue_email
    from portal.public_urls import document_url

    application = receipt.owning_application()
    user = application.user
    definition, _spec = spec_of(receipt)
    facts = document_facts(receipt)
    with force_locale(receipt.locale):
        title = str(facts.title)
        service_title = str(definition.title)
        valid_until = format_day(facts.valid_until, locale=receipt.locale) \
            if facts.valid_until else None
    email = queue_email(
        recipient=user.email, kind="receipts/document", locale=receipt.locale,
        user_id=user.id, application_id=application.id,
        name=user.display_name(receipt.locale), number=receipt.number, title=title,
        service_title=service_title, reference=application.reference,
        valid_until=valid_until, verify_link=document_url("receipts.verify"),
        link=document_url("applications.detail", reference=application.reference),
    )
    email.receipt_id = receipt.id
    return email


# --- listing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedDocument:
    """A document of an application, for its pages: the row, its title in the current
    language and (once issued) the days it is valid, as signed."""

    receipt: Receipt
    title: str
    valid_from: date | None
    valid_until: date | None

    @property
    def name(self) -> str:
        """The document's name in its service (``licence``)."""
        return document_name(self.receipt)

    #: The same: which kind of document it is (``licence``).
    kind = name

    @property
    def public_id(self) -> str:
        return self.receipt.public_id

    @property
    def number(self) -> str | None:
        return self.receipt.number

    @property
    def status(self) -> str:
        return self.receipt.status

    @property
    def issued(self) -> bool:
        return self.receipt.status == ReceiptStatus.ISSUED

    @property
    def issued_at(self) -> datetime | None:
        return self.receipt.issued_at

    @property
    def voided(self) -> bool:
        return self.receipt.voided_at is not None

    @property
    def expired(self) -> bool:
        return self.valid_until is not None and self.valid_until < hong_kong_today()


def _signed_days(payload: str | None) -> tuple[date | None, date | None]:
    """The validity our own stored payload states (read, not verified: it is ours)."""
    from portal.receipts.signing import b64url_decode

    try:
        document = json.loads(b64url_decode((payload or "").split(".")[0]))
        valid_until = document.get("to")
        return (date.fromisoformat(document["from"]),
                date.fromisoformat(valid_until) if valid_until else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None


def _title(application: Application, name: str) -> str:
    definition = _definition(application.service)
    spec = next((d for d in definition.documents if d.name == name), None) \
        if definition is not None else None
    return str(spec.title) if spec is not None else name


def documents_for(application: Application) -> list[IssuedDocument]:
    """The documents issued (or being issued) for ``application``, oldest first.

    Each has ``title`` (in the current language), ``name``/``kind`` (``licence``),
    ``number``, ``public_id`` (for ``receipts.download``), ``status`` and ``issued``
    (False while pending), ``issued_at``, ``valid_from``/``valid_until``, ``voided`` and
    ``expired``; ``receipt`` is the row itself.
    """
    rows = db.session.scalars(
        select(Receipt)
        .where(Receipt.application_id == application.id,
               Receipt.kind == ReceiptKind.DOCUMENT.value)
        .order_by(Receipt.created_at, Receipt.id)
    ).all()
    documents = []
    for row in rows:
        valid_from, valid_until = _signed_days(row.signed_payload) \
            if row.status == ReceiptStatus.ISSUED else (None, None)
        documents.append(IssuedDocument(row, _title(application, document_name(row)),
                                        valid_from, valid_until))
    return documents

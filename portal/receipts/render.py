"""Receipts, credit notes and issued documents (``documents.py``) as A4 PDFs, English and
Traditional Chinese on one page.

The page is a Jinja template (``templates/receipts/``) turned into a PDF by WeasyPrint.
WeasyPrint may fetch nothing: the URL fetcher gives it only the ``data:`` URIs this module
created (the QR code) and refuses ``file:`` and every host, so a string that slipped into
the page can never read a local file or call out. The signed payload travels inside the
PDF as an attachment, for the offline verifier.

WeasyPrint keeps large reference cycles alive after each document; a long-lived worker
that does not collect them grows by hundreds of MB, hence ``gc.collect()`` after each render
(see ``collect_garbage`` for why that stays cheap).
"""

from __future__ import annotations

import base64
import binascii
import gc
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_to_bytes

import weasyprint
from flask import current_app, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from portal.extensions import db
from portal.i18n import CHINESE, ENGLISH, force_locale, format_hkd
from portal.identity.models import Department
from portal.receipts.models import Receipt, ReceiptKind
from portal.receipts.numbering import HONG_KONG

#: Every label printed, in both languages (the English and the Chinese side by side).
LABELS: dict[str, Any] = {
    "receipt": _l("Receipt"),
    "credit_note": _l("Credit note"),
    "government": _l("The Government of the Hong Kong Special Administrative Region"),
    "department": _l("Department"),
    "service": _l("Service"),
    "payer": _l("Payer"),
    "amount": _l("Amount paid"),
    "refund_amount": _l("Amount refunded"),
    "method": _l("Payment method"),
    "paid_at": _l("Time of payment"),
    "refunded_at": _l("Time of refund"),
    "number": _l("Receipt number"),
    "credit_note_number": _l("Credit note number"),
    "original_receipt": _l("Original receipt number"),
    "reason": _l("Reason for refund"),
    "application": _l("Application reference"),
    "payment": _l("Payment reference"),
    "issued_at": _l("Date of issue"),
    "short_code": _l("Verification code"),
    "verify_at": _l("Verify this document at %(url)s"),
    "computer_generated": _l("This is a computer-generated document. No signature is required."),
}

#: How each payment method is printed.
METHODS: dict[str, Any] = {
    "card": _l("Card"),
    "fps": _l("FPS (Faster Payment System)"),
}


@dataclass(frozen=True)
class Bilingual:
    en: str
    zh: str


def bilingual(message: Any, **values: Any) -> Bilingual:
    """A lazy string in English and in Traditional Chinese (``%(name)s`` filled in); the
    Chinese is empty while the catalogue has no translation."""
    words = []
    for locale in (ENGLISH, CHINESE):
        with force_locale(locale):
            text = str(message)
        words.append(text % values if values else text)
    english, chinese = words
    # Not translated yet: printed once rather than twice in English.
    return Bilingual(english, "" if chinese == english else chinese)


class RefusingURLFetcher(URLFetcher):
    """Gives WeasyPrint only the ``data:`` URIs handed to it; refuses everything else.

    ``fetch`` is WeasyPrint's single way in (it also reads ``_fail_on_errors`` of its own
    fetcher, hence the subclass); it never reaches urllib's file, FTP or HTTP handlers.
    """

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False,
                         fail_on_errors=False)
        self.allowed = frozenset(allowed)

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url not in self.allowed or not url.startswith("data:"):
            raise ValueError(f"resource refused in a receipt: {url[:60]!r}")
        media_type, body = decode_data_uri(url)
        return URLFetcherResponse(url, body, {"Content-Type": media_type})

    def __call__(self, url: str) -> URLFetcherResponse:
        return self.fetch(url)


def decode_data_uri(uri: str) -> tuple[str, bytes]:
    """(media type, bytes) of a ``data:`` URI."""
    header, _comma, payload = uri[len("data:"):].partition(",")
    parts = header.split(";")
    media_type = parts[0] or "text/plain"
    if "base64" in parts[1:]:
        try:
            return media_type, base64.b64decode(payload, validate=True)
        except binascii.Error as exc:
            raise ValueError("a data URI that is not base64") from exc
    return media_type, unquote_to_bytes(payload)


def hong_kong_time(moment: datetime | None) -> str:
    """``2026-11-25 16:05 HKT`` (the same in both languages)."""
    if moment is None:
        return ""
    return moment.astimezone(HONG_KONG).strftime("%Y-%m-%d %H:%M") + " HKT"


def verify_url() -> str:
    """The verify page's address printed on every document (never a request's host)."""
    from portal.public_urls import document_url

    return document_url("receipts.verify")


def service_title(name: str) -> Bilingual:
    """The service's title in both languages (its name when it is not active)."""
    from portal.plugins.manager import services

    definition = services(current_app).active.get(name)
    if definition is None:
        return Bilingual(name, name)
    return bilingual(definition.title)


def department_names(code: str) -> Bilingual:
    department = db.session.scalar(select(Department).where(Department.code == code))
    return Bilingual(department.name_en, department.name_zh) if department \
        else Bilingual(code, code)


def _original_receipt_number(receipt: Receipt) -> str | None:
    return db.session.scalar(
        select(Receipt.number).where(Receipt.cause == f"payment:{receipt.payment_id}")
    )


def receipt_html(receipt: Receipt) -> tuple[str, list[str]]:
    """The page of ``receipt`` as HTML, and the ``data:`` URIs it may load.

    The receipt must be numbered, signed and have ``issued_at``; everything printed comes
    from it, its payment (and refund) and the application.
    """
    from portal.receipts import qr, signing

    payment = receipt.payment
    application = payment.application
    qr_uri = qr.qr_data_uri(receipt)
    is_credit_note = receipt.kind == ReceiptKind.CREDIT_NOTE
    refund = receipt.refund
    context = {
        "receipt": receipt,
        "labels": {key: bilingual(label) for key, label in LABELS.items() if key != "verify_at"},
        "verify_line": bilingual(LABELS["verify_at"], url=verify_url()),
        "department": department_names(receipt.department),
        "service": service_title(application.service),
        "payer": signing.masked_name(application.user),
        "amount": format_hkd(receipt.amount, ENGLISH),
        "method": bilingual(METHODS[payment.method]) if payment.method in METHODS else None,
        "paid_at": hong_kong_time(payment.succeeded_at),
        "refunded_at": hong_kong_time(refund.completed_at if refund else None),
        "issued_at": hong_kong_time(receipt.issued_at),
        "reference": application.reference,
        "payment_reference": payment.provider_reference or payment.public_id,
        "reason": refund.reason if refund else "",
        "original_number": _original_receipt_number(receipt) if is_credit_note else None,
        "qr_uri": qr_uri,
    }
    template = "receipts/credit_note.html" if is_credit_note else "receipts/receipt.html"
    with force_locale(ENGLISH):
        html = render_template(template, **context)
    return html, [qr_uri]


def html_to_pdf(html: str, allowed_uris: Iterable[str] = (), *,
                attachments: dict[str, bytes] | None = None) -> bytes:
    """WeasyPrint, fetching nothing but ``allowed_uris``; memory collected afterwards.

    One render at a time per process (``_render_lock``), with the process's one font
    configuration: see ``font_configuration``.
    """
    with _render_lock:
        try:
            document = weasyprint.HTML(string=html,
                                       url_fetcher=RefusingURLFetcher(allowed_uris))
            return document.write_pdf(
                font_config=font_configuration(),
                pdf_variant="pdf/ua-1",
                pdf_tags=True,
                attachments=[weasyprint.Attachment(string=data, name=name)
                             for name, data in (attachments or {}).items()],
            )
        finally:
            collect_garbage()


_render_lock = threading.Lock()
_fonts: list[FontConfiguration] = []


def font_configuration() -> FontConfiguration:
    """The process's WeasyPrint font configuration, made once and kept.

    Each new one builds a Pango font map that is never wholly given back: a worker that
    made one per render (WeasyPrint's default) grew by about 0.6 MB a receipt, and so
    would one made per thread where threads are short-lived (the embedded server starts
    one per request). Receipts declare no ``@font-face``, so one configuration serves them
    all. Pango's font maps are not safe to share between threads at once, so renders
    take turns (``_render_lock``, held by the caller): a receipt takes about 0.2 s, and
    workers that render many are separate processes.
    """
    if not _fonts:
        _fonts.append(FontConfiguration())
    return _fonts[0]


_frozen_after_first_render = [False]


def collect_garbage() -> None:
    """Free what a render left in reference cycles (WeasyPrint leaves many).

    After the first render, what is still alive is long-lived (the app, fonts, caches), so
    it is moved out of the collector's sight (``gc.freeze``): each later collection then
    scans only what its own render made, a few milliseconds instead of a tenth of a second.
    """
    gc.collect()
    if not _frozen_after_first_render[0]:
        _frozen_after_first_render[0] = True
        gc.freeze()


@dataclass(frozen=True)
class PreparedDocument:
    """Everything WeasyPrint needs for one document, read from the database beforehand:
    rendering it touches no database, so no transaction stays open while it runs."""

    html: str
    allowed_uris: tuple[str, ...]
    attachments: dict[str, bytes]


def prepare_receipt(receipt: Receipt) -> PreparedDocument:
    """The page, its ``data:`` URIs and the attached payload of a numbered, signed receipt
    or issued document (reads the database; the caller may end its transaction afterwards)."""
    from portal.receipts import signing

    if receipt.kind == ReceiptKind.DOCUMENT:
        from portal.receipts.documents import prepare_document

        return prepare_document(receipt)

    html, allowed = receipt_html(receipt)
    payload = (receipt.signed_payload or "").encode()
    return PreparedDocument(html, tuple(allowed), {signing.PAYLOAD_ATTACHMENT_NAME: payload})


def render_prepared(document: PreparedDocument) -> bytes:
    """The PDF of a prepared document (WeasyPrint only; no database)."""
    return html_to_pdf(document.html, document.allowed_uris, attachments=document.attachments)


def render_receipt_pdf(receipt: Receipt) -> bytes:
    """The PDF of a numbered, signed receipt or credit note, payload attached."""
    return render_prepared(prepare_receipt(receipt))

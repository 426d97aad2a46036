"""Handing out issued receipts and documents: to the citizen whose application it is, to
staff of the department, by email.

The bytes served are exactly the bytes stored when the receipt was issued, checked against
the SHA-256 recorded then: a file changed on disk is never served (a 500 that is logged),
because a receipt that differs from what was signed and sent is worse than none.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import Any

from flask import Response, abort
from flask_login import current_user
from sqlalchemy import or_, select

from portal.applications.models import Application
from portal.audit import log as audit
from portal.extensions import db
from portal.identity.auth import may_handle_application
from portal.payments.models import Payment
from portal.receipts import storage
from portal.receipts.models import Receipt, ReceiptKind, ReceiptStatus

log = logging.getLogger("portal.receipts")


class ReceiptTampered(Exception):
    """The stored file of a receipt is missing or is not the one issued."""


def stored_pdf(receipt: Receipt) -> bytes:
    """The issued PDF, after checking it is byte for byte the one stored at issue."""
    if receipt.status != ReceiptStatus.ISSUED or not receipt.storage_key or not receipt.sha256:
        raise ReceiptTampered(f"receipt {receipt.id} is not issued")
    try:
        data = storage.read(receipt.storage_key)
    except storage.StoredFileMissing as exc:
        raise ReceiptTampered(f"receipt {receipt.id}: stored file missing") from exc
    if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), receipt.sha256):
        raise ReceiptTampered(f"receipt {receipt.id}: stored file does not match its SHA-256")
    return data


def download_filename(receipt: Receipt) -> str:
    """``receipt-TD-2026-27-000123.pdf`` (``credit-note-...`` for a credit note, the
    document's name for an issued document: ``licence-TD-LIC-2026-27-000001.pdf``)."""
    if receipt.kind == ReceiptKind.DOCUMENT:
        from portal.receipts.documents import document_name

        prefix = document_name(receipt).replace("_", "-")
    else:
        prefix = "credit-note" if receipt.kind == ReceiptKind.CREDIT_NOTE else "receipt"
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9-]+', '-', receipt.number or receipt.public_id)}.pdf"


def receipts_of(application: Application) -> list[Receipt]:
    """Receipts and credit notes of an application's payments, oldest first (its issued
    documents are ``documents.documents_for``)."""
    return list(db.session.scalars(
        select(Receipt).join(Payment, Receipt.payment_id == Payment.id)
        .where(Payment.application_id == application.id,
               Receipt.kind.in_([ReceiptKind.RECEIPT.value, ReceiptKind.CREDIT_NOTE.value]))
        .order_by(Receipt.created_at, Receipt.id)
    ))


def _visible_application(reference: str) -> Application:
    if not current_user.is_staff:
        from portal.applications.views import own_application

        return own_application(reference)
    application = db.session.scalar(select(Application).where(Application.reference == reference))
    if application is None or not may_handle_application(current_user, application):
        abort(404)
    return application


def download_receipt(reference: str, public_id: str) -> Any:
    """``GET /applications/<reference>/receipts/<public_id>.pdf``: the stored bytes of a
    receipt, credit note or issued document of that application."""
    application = _visible_application(reference)
    receipt = db.session.scalar(
        select(Receipt).outerjoin(Payment, Receipt.payment_id == Payment.id)
        .where(Receipt.public_id == public_id,
               Receipt.status == ReceiptStatus.ISSUED.value,
               or_(Payment.application_id == application.id,
                   Receipt.application_id == application.id))
    )
    if receipt is None:
        abort(404)
    try:
        data = stored_pdf(receipt)
    except ReceiptTampered as exc:
        log.error("receipt not served: %s", exc)
        abort(500)
    if current_user.is_staff:
        action = "document.downloaded" if receipt.is_document else "receipt.downloaded"
        audit.record(action, actor=current_user, target=receipt,
                     department=receipt.department,
                     details={"application": application.reference, "number": receipt.number})
        db.session.commit()
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{download_filename(receipt)}"')
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response

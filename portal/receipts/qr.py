"""The QR code printed on a receipt: the verify page's address with the signed payload.

A phone scanning it opens ``<PUBLIC_BASE_URL>/verify?p=<payload>``; an offline verifier
takes the ``p`` parameter and checks it against the published keys (see docs/receipts.md).
"""

from __future__ import annotations

import segno

from portal.public_urls import document_url
from portal.receipts.models import Receipt

#: The lowest error correction used. segno raises it (``boost_error``) as far as it can
#: without a bigger symbol, so short payloads get the most robust level that costs nothing.
MINIMUM_ERROR_LEVEL = "m"
#: Modules of quiet zone around the code, as the QR standard asks.
QUIET_ZONE = 4


def verify_url(payload: str) -> str:
    """The verify page for a payload (base64url and ``.``: nothing needs escaping), under
    ``PUBLIC_BASE_URL`` and never a request's host (see ``portal.public_urls``)."""
    return document_url("receipts.verify", p=payload)


def make_qr(content: str) -> segno.QRCode:
    """The symbol for ``content``, in byte mode so the text is held exactly as given."""
    return segno.make_qr(
        content, error=MINIMUM_ERROR_LEVEL, boost_error=True, mode="byte", encoding="utf-8"
    )


def qr_data_uri(receipt: Receipt) -> str:
    """An SVG data URI of the receipt's QR code (for the PDF template's ``<img>``)."""
    if not receipt.signed_payload:
        raise ValueError("a receipt is signed before its QR code is made")
    symbol = make_qr(verify_url(receipt.signed_payload))
    return symbol.svg_data_uri(scale=4, border=QUIET_ZONE, xmldecl=False, svgns=True)

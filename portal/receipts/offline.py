"""Checking a receipt away from the portal: ``portal receipts verify``.

Reads the payload attached to a receipt's PDF and the published keys from a downloaded
``receipt-keys.json``, a URL or the portal's database, so an auditor can check receipts
with no network at all. Every problem becomes an ``OfflineError`` with a message meant
for the person at the terminal.
"""

from __future__ import annotations

import io
import json
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from portal.receipts.signing import (
    PAYLOAD_ATTACHMENT_NAME,
    Failure,
    VerificationFailure,
    VerifiedReceipt,
    keys_from_document,
)


class OfflineError(Exception):
    """Why a file or a keys document could not be checked, in words for the operator."""


def payload_from_pdf(data: bytes) -> str:
    """The signed payload attached to a receipt's PDF (``PAYLOAD_ATTACHMENT_NAME``)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not data.lstrip()[:5] == b"%PDF-":
        raise OfflineError("the file is not a PDF")
    try:
        attachments = PdfReader(io.BytesIO(data)).attachments
        found = attachments.get(PAYLOAD_ATTACHMENT_NAME)
    except (PyPdfError, Exception) as error:  # noqa: BLE001 - any failure on an untrusted file
        raise OfflineError(f"the PDF could not be read ({type(error).__name__})") from error
    if not found:
        raise OfflineError(f"the PDF has no {PAYLOAD_ATTACHMENT_NAME} attachment: it is not "
                           "a signed receipt from the portal")
    if len(found) != 1:
        raise OfflineError(f"the PDF has more than one {PAYLOAD_ATTACHMENT_NAME}")
    try:
        return found[0].decode("ascii").strip()
    except UnicodeDecodeError as error:
        raise OfflineError("the attached payload is not text") from error


def _squeezed(text: str) -> str:
    """Text with all whitespace removed: PDF text extraction breaks lines and spaces
    where the layout did, so words are compared without it."""
    return "".join(text.split())


def printed_text_from_pdf(data: bytes) -> str:
    """The text printed on the PDF's pages (what a person reading it sees)."""
    from pypdf import PdfReader

    try:
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    except Exception as error:  # noqa: BLE001 - any failure on an untrusted file
        raise OfflineError(f"the PDF's text could not be read ({type(error).__name__})") \
            from error


def printed_amount(amount: int, currency: str) -> str:
    """The amount as the receipt prints it (``HK$900.00``)."""
    if currency == "HKD":
        from portal.i18n import ENGLISH, format_hkd

        return format_hkd(amount, ENGLISH)
    return f"{amount // 100:,}.{amount % 100:02d}"


def printed_mismatches(data: bytes, verified: VerifiedReceipt) -> list[str]:
    """What the signed payload says that the printed pages do not (empty: they agree).

    A valid payload proves only itself: it could be copied from a genuine receipt into a
    forged PDF. So the number, the amount as printed (an issued document: its days of
    validity) and the short code must also be on the pages a person reads.
    """
    printed = _squeezed(printed_text_from_pdf(data))
    if verified.is_document:
        # An issued document has no amount; its days of validity are printed instead.
        expected = {
            "the document number": verified.number,
            "the first day of validity": verified.valid_from.isoformat()
            if verified.valid_from else "",
            "the verification code": verified.short_code,
        }
        if verified.valid_until is not None:
            expected["the last day of validity"] = verified.valid_until.isoformat()
    else:
        expected = {
            "the receipt number": verified.number,
            "the amount": printed_amount(verified.amount, verified.currency),
            "the verification code": verified.short_code,
        }
    # No digit may run on either side (HK$900.00 is not in HK$1,900.00 nor TD/.../0000012).
    return [f"{what} {value}" for what, value in expected.items()
            if not re.search(rf"(?<![0-9,]){re.escape(_squeezed(value))}(?![0-9])", printed)]


def keys_from_file(path: str) -> dict[str, Ed25519PublicKey]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as error:
        raise OfflineError(f"cannot read the keys file: {error}") from error
    try:
        return keys_from_document(document)
    except ValueError as error:
        raise OfflineError(f"the keys file is not valid: {error}") from error


def keys_from_url(url: str) -> dict[str, Ed25519PublicKey]:
    """Download a receipt-keys.json. Only https (or http to this machine, for testing):
    keys fetched over plain HTTP from elsewhere could be swapped on the way."""
    import httpx

    parsed = httpx.URL(url)
    local = parsed.host in {"127.0.0.1", "localhost", "::1"}
    if parsed.scheme != "https" and not (parsed.scheme == "http" and local):
        raise OfflineError("the keys URL must start with https://")
    try:
        response = httpx.get(url, timeout=10, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise OfflineError(f"cannot download the keys: {error}") from error
    try:
        return keys_from_document(document)
    except ValueError as error:
        raise OfflineError(f"the keys document is not valid: {error}") from error


FAILURE_MESSAGES = {
    Failure.MALFORMED: "the payload is not a receipt payload (damaged or incomplete)",
    Failure.UNSUPPORTED_VERSION: "the payload has a version this tool does not know",
    Failure.UNKNOWN_KEY: "the payload names key {kid}, which is not among the published keys",
    Failure.BAD_SIGNATURE: "the signature does not match: the payload has been changed "
                           "(key {kid})",
}


def describe_failure(failure: VerificationFailure) -> str:
    return FAILURE_MESSAGES[failure.reason].format(kid=failure.key_id or "?")

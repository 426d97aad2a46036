"""Signing receipts so that anyone can check them, online or offline.

A receipt carries a compact payload (in its QR code and as a PDF attachment)::

    <base64url(canonical JSON)>.<base64url(Ed25519 signature)>

The signature covers the ASCII text of the first part exactly as written, so nothing in
between (a JSON parser, a base64 decoder tolerant of stray bits) can make two different
strings verify: the verifier also insists that both parts are in canonical base64url, so
changing any single character of a payload makes it fail. The JSON names its key (``kid``);
the public keys are published at ``/.well-known/receipt-keys.json`` and retired keys stay
there, so receipts signed before a rotation keep verifying.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select, text, update

from portal.crypto import protect, unprotect
from portal.database import utcnow
from portal.extensions import db
from portal.receipts.models import Receipt, ReceiptKind, ReceiptSigningKey

if TYPE_CHECKING:
    from portal.identity.models import User

__all__ = [
    "PAYLOAD_ATTACHMENT_NAME",
    "PAYLOAD_VERSION",
    "SHORT_CODE_ALPHABET",
    "Failure",
    "VerificationFailure",
    "VerifiedReceipt",
    "active_key",
    "database_public_keys",
    "keys_from_document",
    "masked_name",
    "normalise_short_code",
    "published_keys_document",
    "rotate_key",
    "sign_receipt",
    "verify_payload",
]

#: The name of the file attached to a receipt's PDF that holds its signed payload.
PAYLOAD_ATTACHMENT_NAME = "receipt-payload.txt"
PAYLOAD_VERSION = 1
#: No 0/O, 1/I/L: a code read aloud or typed from paper has one reading.
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SHORT_CODE_LENGTH = 12
#: A real payload is a few hundred characters; anything far longer is not one of ours and
#: is refused before any decoding work.
MAX_PAYLOAD_LENGTH = 2000
_SHORT_CODE_ATTEMPTS = 10
#: PostgreSQL advisory lock taken while the first key is created (see ``active_key``).
_FIRST_KEY_LOCK = 0x52435054  # "RCPT"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_ISSUED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_FIELDS = {
    "v": int, "kid": str, "no": str, "kind": str, "amt": int, "cur": str,
    "iss": str, "dept": str, "svc": str, "ref": str, "name": str, "code": str,
}
#: An issued document (kind ``document``) says which one (``doc``) and when it is valid
#: (``from``, ``to``: days in Hong Kong, ``to`` null when it has no end) instead of money.
_DOCUMENT_FIELDS = {
    "v": int, "kid": str, "no": str, "kind": str, "doc": str, "iss": str, "dept": str,
    "svc": str, "ref": str, "name": str, "from": str, "to": (str, type(None)), "code": str,
}
_DOCUMENT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,19}$")


# --- encoding ---------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: str) -> bytes:
    """Decode unpadded base64url, refusing any text that is not the canonical encoding of
    its bytes (otherwise unused trailing bits could be changed without changing the bytes)."""
    if not _B64URL.match(value) or len(value) % 4 == 1:
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("not base64url") from error
    if b64url_encode(data) != value:
        raise ValueError("not canonical base64url")
    return data


def canonical_json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


# --- keys -------------------------------------------------------------------------------


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_for(public_raw: bytes) -> str:
    """Derived from the public key (first 8 bytes of its SHA-256, hex): anyone holding the
    key can recompute it, and two different keys cannot share an id by accident."""
    return hashlib.sha256(public_raw).digest()[:8].hex()


def _new_key_row() -> ReceiptSigningKey:
    private = Ed25519PrivateKey.generate()
    public_raw = _raw_public(private.public_key())
    return ReceiptSigningKey(
        key_id=key_id_for(public_raw),
        public_key=b64url_encode(public_raw),
        private_key=protect(b64url_encode(private.private_bytes_raw())),
        created_at=utcnow(),
    )


def newest_active_key() -> ReceiptSigningKey | None:
    return db.session.scalars(
        select(ReceiptSigningKey)
        .where(ReceiptSigningKey.retired_at.is_(None))
        .order_by(ReceiptSigningKey.created_at.desc(), ReceiptSigningKey.id.desc())
        .limit(1)
    ).first()


def active_key() -> ReceiptSigningKey:
    """The key that signs new receipts: the newest one not retired, created on first use.

    Creating the first key is the only moment two processes can disagree. On PostgreSQL a
    transaction-scoped advisory lock makes the second creator wait for the first one's
    transaction and then find its key (READ COMMITTED sees it), so both use one key. SQLite
    lets one writer at a time, so the second either fails and is retried by its job or
    commits a second key; then both keys are published and valid, and from then on every
    process signs with the newer one ("newest not retired"), so no receipt is ever signed
    with a key that is not published.
    """
    key = newest_active_key()
    if key is not None:
        return key
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _FIRST_KEY_LOCK})
        key = newest_active_key()
        if key is not None:
            return key
    key = _new_key_row()
    db.session.add(key)
    db.session.flush()
    return key


def rotate_key() -> tuple[ReceiptSigningKey | None, ReceiptSigningKey]:
    """Retire the active key(s) and create a new one; returns (retired, new). The caller
    commits. Retired keys stay published so old receipts keep verifying."""
    now = utcnow()
    retired = newest_active_key()
    db.session.execute(
        update(ReceiptSigningKey)
        .where(ReceiptSigningKey.retired_at.is_(None))
        .values(retired_at=now)
    )
    new = _new_key_row()
    db.session.add(new)
    db.session.flush()
    return retired, new


def _private_key(row: ReceiptSigningKey) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(b64url_decode(unprotect(row.private_key)))


def database_public_keys() -> dict[str, Ed25519PublicKey]:
    """Every key ever used to sign (retired ones too), by key id."""
    rows = db.session.scalars(select(ReceiptSigningKey)).all()
    return {
        row.key_id: Ed25519PublicKey.from_public_bytes(b64url_decode(row.public_key))
        for row in rows
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime(_ISSUED_FORMAT) if value else None


def published_keys_document() -> dict[str, Any]:
    """What ``/.well-known/receipt-keys.json`` serves: public keys only, oldest first."""
    rows = db.session.scalars(
        select(ReceiptSigningKey).order_by(ReceiptSigningKey.created_at, ReceiptSigningKey.id)
    ).all()
    return {
        "keys": [
            {
                "kid": row.key_id,
                "alg": "Ed25519",
                "public_key": row.public_key,
                "created_at": _iso(row.created_at),
                "retired_at": _iso(row.retired_at),
            }
            for row in rows
        ]
    }


def keys_from_document(document: Any) -> dict[str, Ed25519PublicKey]:
    """Public keys from a receipt-keys.json document (as downloaded by a third party).

    Raises ValueError when the document is not one: a verifier must not quietly run with
    fewer keys than it was given.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a receipt keys document: no \"keys\" list")
    keys: dict[str, Ed25519PublicKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("alg") != "Ed25519":
            raise ValueError("a key is not an Ed25519 key")
        kid, public = entry.get("kid"), entry.get("public_key")
        if not isinstance(kid, str) or not isinstance(public, str):
            raise ValueError("a key has no kid or public_key")
        try:
            raw = b64url_decode(public)
            if len(raw) != 32:
                raise ValueError("wrong length")
            keys[kid] = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError as error:
            raise ValueError(f"key {kid!r} is not a valid Ed25519 public key") from error
        if key_id_for(raw) != kid:
            raise ValueError(f"key {kid!r} does not match its public key")
    return keys


# --- names and codes --------------------------------------------------------------------


def _clean(value: str | None) -> str:
    # Whitespace of any kind separates words; other control characters are dropped.
    words = unicodedata.normalize("NFC", value or "").split()
    return " ".join(filter(None, ("".join(c for c in w if c.isprintable()) for w in words)))


def _initial(part: str) -> str:
    """First letter of a given name, then two stars whatever its length (the length
    would be a hint). Hyphenated parts are masked part by part: ``Tai-man`` -> ``T**-M**``."""
    return "-".join(f"{piece[0].upper()}**" for piece in part.split("-") if piece)


def masked_name_en(name: str | None) -> str:
    """``CHAN Tai Man`` -> ``CHAN T** M**``.

    The surname is shown in full and upper case, each given name by its first letter only.
    The surname is the word written all in capitals when exactly one is (``Tai Man CHAN``),
    otherwise the first word (the order on a Hong Kong identity card). A one-word name is
    reduced to its initial: which part it is cannot be told, so none is shown in full.
    """
    words = _clean(name).split(" ")
    words = [w for w in words if w]
    if not words:
        return ""
    if len(words) == 1:
        return _initial(words[0])
    capitals = [i for i, w in enumerate(words) if len(w) > 1 and w.isupper()]
    surname_at = capitals[0] if len(capitals) == 1 else 0
    given = [_initial(w) for i, w in enumerate(words) if i != surname_at]
    return " ".join([words[surname_at].upper(), *given])


def masked_name_zh(name: str | None) -> str:
    """``陳大文`` -> ``陳*文``: the first and the last character, the rest starred, as Hong
    Kong receipts show them. Two characters keep only the surname (``陳文`` -> ``陳*``); a
    single character is starred out."""
    chars = _clean(name).replace(" ", "")
    if not chars:
        return ""
    if len(chars) == 1:
        return "*"
    if len(chars) == 2:
        return chars[0] + "*"
    return chars[0] + "*" * (len(chars) - 2) + chars[-1]


def masked_name(user: User) -> str:
    """The payer's name as printed on the receipt and shown by the verify page: the English
    name masked, then the Chinese name masked when the person gave one."""
    parts = [masked_name_en(user.name_en), masked_name_zh(getattr(user, "name_zh", None))]
    return " ".join(p for p in parts if p)


def new_short_code() -> str:
    raw = "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, SHORT_CODE_LENGTH, 4))


class ShortCodeProblem(enum.StrEnum):
    EMPTY = "empty"
    LENGTH = "length"
    CHARACTERS = "characters"


def normalise_short_code(value: str | None) -> str | ShortCodeProblem:
    """``7kqm x3pd 9rta`` -> ``7KQM-X3PD-9RTA``; spaces and dashes anywhere are ignored."""
    compact = re.sub(r"[\s\-\u2010-\u2015]", "", (value or "")).upper()
    if not compact:
        return ShortCodeProblem.EMPTY
    if any(c not in SHORT_CODE_ALPHABET for c in compact):
        return ShortCodeProblem.CHARACTERS
    if len(compact) != SHORT_CODE_LENGTH:
        return ShortCodeProblem.LENGTH
    return "-".join(compact[i:i + 4] for i in range(0, SHORT_CODE_LENGTH, 4))


def _unused_short_code() -> str:
    """A random code no other receipt has. With 31^12 codes a clash is all but impossible,
    but the check costs one indexed look-up, and the unique constraint is the last word."""
    for _ in range(_SHORT_CODE_ATTEMPTS):
        code = new_short_code()
        taken = db.session.scalar(select(Receipt.id).where(Receipt.short_code == code))
        if taken is None:
            return code
    raise RuntimeError("could not find an unused short code")


# --- signing and verifying --------------------------------------------------------------


def payload_document(receipt: Receipt, *, key_id: str, short_code: str) -> dict[str, Any]:
    if not receipt.number:
        raise ValueError("a receipt is numbered before it is signed")
    if receipt.issued_at is None:
        raise ValueError("a receipt's issued_at is set before it is signed")
    if receipt.kind == ReceiptKind.DOCUMENT:
        from portal.receipts.documents import document_facts

        facts = document_facts(receipt)
        application = receipt.owning_application()
        return {
            "v": PAYLOAD_VERSION, "kid": key_id, "no": receipt.number,
            "kind": ReceiptKind.DOCUMENT.value, "doc": facts.name,
            "iss": _iso(receipt.issued_at), "dept": receipt.department,
            "svc": application.service, "ref": application.reference,
            "name": facts.holder, "from": facts.valid_from.isoformat(),
            "to": facts.valid_until.isoformat() if facts.valid_until else None,
            "code": short_code,
        }
    application = receipt.owning_application()
    return {
        "v": PAYLOAD_VERSION,
        "kid": key_id,
        "no": receipt.number,
        "kind": str(ReceiptKind(receipt.kind)),
        "amt": int(receipt.amount),
        "cur": receipt.currency,
        "iss": _iso(receipt.issued_at),
        "dept": receipt.department,
        "svc": application.service,
        "ref": application.reference,
        "name": masked_name(application.user),
        "code": short_code,
    }


def sign_document(document: Mapping[str, Any], private_key: Ed25519PrivateKey) -> str:
    body = b64url_encode(canonical_json(document))
    signature = private_key.sign(body.encode("ascii"))
    return f"{body}.{b64url_encode(signature)}"


def sign_receipt(receipt: Receipt) -> None:
    """Give the receipt its short code, key id and signed payload (the caller commits).

    Adds nothing to the session but a first signing key when there is none yet. A receipt
    already signed keeps its code (the code is printed on the stored PDF).
    """
    key = active_key()
    short_code = receipt.short_code or _unused_short_code()
    document = payload_document(receipt, key_id=key.key_id, short_code=short_code)
    receipt.signed_payload = sign_document(document, _private_key(key))
    receipt.key_id = key.key_id
    receipt.short_code = short_code


class Failure(enum.StrEnum):
    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"


@dataclass(frozen=True)
class VerificationFailure:
    reason: Failure
    #: The key id the payload names, when it could be read (for the CLI's message).
    key_id: str | None = None

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class VerifiedReceipt:
    """What a payload says, once its signature has been checked."""

    version: int
    key_id: str
    number: str
    kind: str
    amount: int
    currency: str
    issued_at: datetime
    department: str
    service: str
    reference: str
    masked_name: str
    short_code: str
    #: An issued document's name (``licence``) and the days it is valid (no end: None).
    document: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None

    @property
    def is_document(self) -> bool:
        return self.kind == ReceiptKind.DOCUMENT


def _parse(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _issued_at(document: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(document["iss"], _ISSUED_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _well_formed_document(document: dict[str, Any]) -> VerifiedReceipt | None:
    if set(document) != set(_DOCUMENT_FIELDS):
        return None
    for name, kind in _DOCUMENT_FIELDS.items():
        if not isinstance(kind, tuple):
            kind = (kind,)
        if type(document[name]) not in kind:
            return None
    issued = _issued_at(document)
    if issued is None or not _DOCUMENT_NAME.match(document["doc"]) \
            or normalise_short_code(document["code"]) != document["code"]:
        return None
    try:
        valid_from = date.fromisoformat(document["from"])
        valid_until = date.fromisoformat(document["to"]) if document["to"] else None
    except ValueError:
        return None
    if document["to"] == "" or (valid_until is not None and valid_until < valid_from):
        return None
    return VerifiedReceipt(
        version=document["v"], key_id=document["kid"], number=document["no"],
        kind=document["kind"], amount=0, currency="", issued_at=issued,
        department=document["dept"], service=document["svc"], reference=document["ref"],
        masked_name=document["name"], short_code=document["code"],
        document=document["doc"], valid_from=valid_from, valid_until=valid_until,
    )


def _well_formed(document: dict[str, Any]) -> VerifiedReceipt | None:
    if document.get("kind") == ReceiptKind.DOCUMENT:
        return _well_formed_document(document)
    if set(document) != set(_FIELDS):
        return None
    for name, kind in _FIELDS.items():
        # bool is an int in Python; a payload with true as an amount is not ours.
        if type(document[name]) is not kind:
            return None
    if document["kind"] not in {ReceiptKind.RECEIPT.value, ReceiptKind.CREDIT_NOTE.value} \
            or document["amt"] < 0:
        return None
    issued = _issued_at(document)
    if issued is None:
        return None
    if normalise_short_code(document["code"]) != document["code"]:
        return None
    return VerifiedReceipt(
        version=document["v"], key_id=document["kid"], number=document["no"],
        kind=document["kind"], amount=document["amt"], currency=document["cur"],
        issued_at=issued, department=document["dept"], service=document["svc"],
        reference=document["ref"], masked_name=document["name"], short_code=document["code"],
    )


def verify_payload(
    payload: Any, keys: Mapping[str, Ed25519PublicKey]
) -> VerifiedReceipt | VerificationFailure:
    """Check a payload against the published keys. Never raises on bad input: anything
    that is not a payload we signed, unchanged, comes back as a ``VerificationFailure``."""
    if not isinstance(payload, str):
        return VerificationFailure(Failure.MALFORMED)
    payload = payload.strip()
    if not payload or len(payload) > MAX_PAYLOAD_LENGTH or payload.count(".") != 1:
        return VerificationFailure(Failure.MALFORMED)
    body_text, signature_text = payload.split(".")
    try:
        body = b64url_decode(body_text)
        signature = b64url_decode(signature_text)
    except ValueError:
        return VerificationFailure(Failure.MALFORMED)
    document = _parse(body)
    if document is None or len(signature) != 64:
        return VerificationFailure(Failure.MALFORMED)
    version = document.get("v")
    if type(version) is not int:
        return VerificationFailure(Failure.MALFORMED)
    if version != PAYLOAD_VERSION:
        return VerificationFailure(Failure.UNSUPPORTED_VERSION)
    key_id = document.get("kid")
    if not isinstance(key_id, str):
        return VerificationFailure(Failure.MALFORMED)
    public_key = keys.get(key_id)
    if public_key is None:
        return VerificationFailure(Failure.UNKNOWN_KEY, key_id)
    try:
        public_key.verify(signature, body_text.encode("ascii"))
    except InvalidSignature:
        return VerificationFailure(Failure.BAD_SIGNATURE, key_id)
    verified = _well_formed(document)
    if verified is None:
        # Signed by us but not in the shape of this version: refuse rather than guess.
        return VerificationFailure(Failure.MALFORMED, key_id)
    return verified


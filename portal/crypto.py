"""Protection of personal data at rest (HKID numbers, TOTP secrets).

Values are encrypted with Fernet (AES-128-CBC with HMAC-SHA256) under a key derived with
HKDF from ``DATA_PROTECTION_KEY`` (or SECRET_KEY when that is unset). A keyed blind
index (HMAC-SHA256) lets the portal find equal values without decrypting them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

__all__ = ["InvalidToken", "blind_index", "protect", "unprotect"]


def _derive(purpose: bytes) -> bytes:
    material = current_app.config.get("DATA_PROTECTION_KEY") or current_app.config["SECRET_KEY"]
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"portal-data-protection", info=purpose
    ).derive(material.encode())


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(b"fernet")))


def protect(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def unprotect(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def blind_index(value: str) -> str:
    return hmac.new(_derive(b"blind-index"), value.encode(), hashlib.sha256).hexdigest()


def token_digest(token: str) -> str:
    """Digest of a bearer token as stored in the database (the token itself never is)."""
    return hashlib.sha256(token.encode()).hexdigest()

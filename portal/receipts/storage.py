"""Where issued receipts are kept: one file per document, written once, never changed.

Files live under ``RECEIPTS_FOLDER`` (by default ``<instance>/receipts``; a shared volume
when there are several workers), named by a random key. A file is written to a temporary
name and renamed, so a reader never sees half a PDF, and its SHA-256 is kept in the
database so a changed file is noticed before it is served.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

_KEY = re.compile(r"^[0-9a-f]{32}\.pdf$")


@dataclass(frozen=True)
class StoredFile:
    key: str
    sha256: str
    size: int


class StoredFileMissing(Exception):
    """The file of a receipt is not where the database says it is."""


def receipts_folder() -> Path:
    configured = current_app.config.get("RECEIPTS_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / "receipts"


def path_for(key: str) -> Path:
    """The file of ``key``; a key that is not one of ours is refused (no path tricks)."""
    if not _KEY.match(key or ""):
        raise ValueError("not a receipt storage key")
    return receipts_folder() / key


def store(data: bytes) -> StoredFile:
    """Write ``data`` under a new random key (temporary file, fsync, rename)."""
    folder = receipts_folder()
    folder.mkdir(parents=True, exist_ok=True)
    key = f"{secrets.token_hex(16)}.pdf"
    final = folder / key
    temporary = folder / f".{key}.{secrets.token_hex(4)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return StoredFile(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def read(key: str) -> bytes:
    path = path_for(key)
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise StoredFileMissing(key) from exc


def delete(key: str) -> None:
    """Remove a file that never became a receipt's (a render that lost the race)."""
    path_for(key).unlink(missing_ok=True)

"""Supporting documents: checked from their content, stored outside the web root.

A file is written under a random key in ``UPLOAD_FOLDER`` (by default inside the instance
folder, never under ``static/``), with a row recording who gave it, its type as read
from its first bytes, its size and SHA-256. It is served only as an attachment, only to
its owner and to staff of the department handling the application.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.applications.fields import KIND_NAMES, MIME_TYPES
from portal.applications.models import Upload
from portal.extensions import db

#: The first bytes of each kind of document.
_SIGNATURES = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
}


class UploadRejected(ValueError):
    """The file cannot be accepted; the message tells the citizen why."""


def kind_of(head: bytes) -> str | None:
    for kind, signatures in _SIGNATURES.items():
        if head.startswith(signatures):
            return kind
    return None


def storage_root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def path_for(storage_key: str) -> Path:
    return storage_root() / storage_key[:2] / storage_key


def _display_name(filename: str | None) -> str:
    name = unicodedata.normalize("NFC", os.path.basename((filename or "").replace("\\", "/")))
    name = "".join(ch for ch in name if ch.isprintable())
    return name[-120:] or "document"


def store_upload(file: Any, *, field: Any, user_id: int, draft_id: int) -> Upload:
    """Check ``file`` (a Werkzeug ``FileStorage``) against ``field`` and store it.

    Raises ``UploadRejected`` with a message for the citizen. The row is added to the
    session; the caller commits, and on failure calls ``discard_files``.
    """
    data = file.stream.read(field.max_bytes + 1)
    if not data:
        raise UploadRejected(_l("The selected file is empty"))
    if len(data) > field.max_bytes:
        raise UploadRejected(_l("The selected file must be smaller than %(size)s",
                                size=_megabytes(field.max_bytes)))
    kind = kind_of(data[:16])
    if kind not in field.kinds:
        raise UploadRejected(_l("The selected file must be a %(kinds)s",
                                kinds=_either(KIND_NAMES[k] for k in field.kinds)))
    key = secrets.token_hex(20)
    target = path_for(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".part")
    with open(temporary, "xb") as handle:
        handle.write(data)
    os.replace(temporary, target)
    upload = Upload(
        public_id=secrets.token_urlsafe(18),
        user_id=user_id,
        draft_id=draft_id,
        field=field.name,
        filename=_display_name(file.filename),
        content_type=MIME_TYPES[kind],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=key,
    )
    db.session.add(upload)
    return upload


def _either(names: Any) -> str:
    """``PDF, JPG or PNG`` in the page's language."""
    from flask_babel import gettext

    *others, last = list(names)
    if not others:
        return last
    return gettext("%(list)s or %(last)s", list=", ".join(others), last=last)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def discard_files(uploads: list[Upload]) -> None:
    """Delete the stored bytes of uploads whose rows are gone (or never committed)."""
    for upload in uploads:
        try:
            path_for(upload.storage_key).unlink()
        except FileNotFoundError:
            pass

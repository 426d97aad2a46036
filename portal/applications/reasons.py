"""Reasons staff give for a rejection: a code from this list (shown to the citizen in
their own language) plus, if needed, words of their own."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

#: Code -> the reason as the citizen reads it. Codes are stored; never rename one.
REJECTION_REASONS: dict[str, Any] = {
    "not_eligible": _l("You are not eligible for this service."),
    "documents_missing": _l("Documents we need were not provided."),
    "documents_invalid": _l("A document provided was not valid or could not be read."),
    "information_mismatch": _l("The information given does not match our records."),
    "no_reply": _l("We did not receive the further information we asked for."),
    "duplicate": _l("You have already applied for this."),
    "other": _l("Another reason (explained below)."),
}


def reason_text(code: str | None) -> str:
    """The reason for ``code`` in the current language ('' for no or an unknown code)."""
    label = REJECTION_REASONS.get(code or "")
    return str(label) if label is not None else ""

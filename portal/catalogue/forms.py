"""The catalogue's search box (a GET form: nothing changes, so no CSRF token)."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms.validators import Length

from portal.catalogue.util import MAX_QUERY
from portal.forms import PortalForm, TextField

#: Control, format (zero-width, bidirectional) and line/paragraph separator characters.
_IGNORED = frozenset({"Cc", "Cf", "Zl", "Zp"})


def ignore_control_characters(value: Any) -> Any:
    """Control characters in a search are dropped rather than refused (a tab is a space)."""
    if not isinstance(value, str):
        return value
    cleaned = "".join(
        " " if unicodedata.category(char) in _IGNORED else char
        for char in unicodedata.normalize("NFC", value)
    )
    return " ".join(cleaned.split())


class SearchForm(PortalForm):
    class Meta:
        csrf = False

    q = TextField(
        _l("Search for a service"),
        [Length(max=MAX_QUERY,
                message=_l("Search words must be %(max)d characters or fewer"))],
        # The length is checked by the validator above, with a message about searching.
        max_length=0,
        filters=[ignore_control_characters],
    )

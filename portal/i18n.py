"""Language selection and locale-aware formatting.

The locale of a request is, in order: the choice made with the language switch (kept in
the session), the signed-in user's preferred language, then the browser's
Accept-Language, where any Traditional Chinese or Hong Kong/Taiwan tag (and plain
``zh``) selects Chinese. HTML ``lang`` is ``en`` or ``zh-HK``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import flask_babel
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale, get_translations, to_user_timezone

ENGLISH = "en"
CHINESE = "zh_Hant_HK"
LOCALES = (ENGLISH, CHINESE)
HTML_LANG = {ENGLISH: "en", CHINESE: "zh-HK"}
#: Names of each language written in that language, for the switch.
ENDONYMS = {ENGLISH: "English", CHINESE: "繁體中文"}
#: Short codes used in URLs of the language switch.
URL_CODES = {ENGLISH: "en", CHINESE: "zh-hk"}
FROM_URL_CODE = {v: k for k, v in URL_CODES.items()}

#: Babel locales used to format dates and numbers: Hong Kong English writes
#: "24 November 2026", not the US order that plain ``en`` gives.
FORMAT_LOCALES = {ENGLISH: "en_HK", CHINESE: "zh_Hant_HK"}

_CHINESE_TAGS = ("zh-hk", "zh-tw", "zh-mo", "zh-hant")


def locale_from_accept_language(header_values: list[tuple[str, float]]) -> str:
    """Pick a locale from Accept-Language entries already sorted by quality."""
    for tag, _quality in header_values:
        tag = tag.lower().replace("_", "-")
        if tag == "zh" or tag.startswith(_CHINESE_TAGS):
            return CHINESE
        if tag == "en" or tag.startswith("en-"):
            return ENGLISH
    return ENGLISH


def normalise_locale(value: str | None) -> str | None:
    if not value:
        return None
    if value in LOCALES:
        return value
    return FROM_URL_CODE.get(value.lower())


def select_locale() -> str:
    if not has_request_context():
        return ENGLISH
    offered = current_app.config["LANGUAGES"]
    chosen = normalise_locale(session.get("locale"))
    if chosen in offered:
        return chosen
    from flask_login import current_user

    preferred = normalise_locale(getattr(current_user, "preferred_language", None))
    if preferred in offered:
        return preferred
    from_browser = locale_from_accept_language(list(request.accept_languages))
    return from_browser if from_browser in offered else current_app.config["BABEL_DEFAULT_LOCALE"]


def current_locale() -> str:
    return str(get_locale() or ENGLISH)


def html_lang(locale: str | None = None) -> str:
    return HTML_LANG.get(locale or current_locale(), "en")


def format_hkd(minor_units: int, locale: str | None = None) -> str:
    """Format an amount in HKD minor units (cents) for the locale, e.g. ``HK$900.00``."""
    if not isinstance(minor_units, int):
        raise TypeError("money is handled in integer minor units")
    return format_currency(Decimal(minor_units) / 100, "HKD", locale=_format_locale(locale))


def _format_locale(locale: str | None = None) -> str:
    return FORMAT_LOCALES.get(locale or current_locale(), "en_HK")


def format_day(value: date | datetime, fmt: str = "long", locale: str | None = None) -> str:
    """A date (a moment is first put in Hong Kong time), e.g. ``24 November 2026``."""
    if isinstance(value, datetime):
        value = to_user_timezone(value).date()
    return format_date(value, fmt, locale=_format_locale(locale))


def hong_kong_day(moment: datetime) -> date:
    """The calendar day in Hong Kong at ``moment`` (an aware UTC time)."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Hong_Kong")).date()


def hong_kong_today() -> date:
    """Today's date in Hong Kong (the server's clock may be UTC)."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Hong_Kong")).date()


def format_moment(value: datetime, fmt: str = "medium", locale: str | None = None) -> str:
    """A moment in Hong Kong time, e.g. ``24 Nov 2026, 8:00:00 pm``."""
    return format_datetime(to_user_timezone(value), fmt, locale=_format_locale(locale))


def translations_directories() -> list[str]:
    return [str(Path(__file__).parent / "translations")]


def _request_translations() -> Any:
    """The request's catalogue, looked up once per request rather than once per string.

    A page has dozens of strings; Flask-Babel's lookup walks several context proxies
    each time, which was most of the cost of rendering a page.
    """
    if not has_request_context():
        return get_translations()
    # Kept on the request object, which lives exactly as long as the request (``g`` is
    # shared when an application context is reused).
    translations = getattr(request, "_portal_translations", None)
    if translations is None:
        translations = request._portal_translations = get_translations()  # type: ignore[attr-defined]
    return translations


@contextmanager
def force_locale(locale: str) -> Iterator[None]:
    """Render in ``locale`` for a moment (an email in the recipient's language)."""
    with flask_babel.force_locale(locale):
        _forget_request_locale()
        try:
            yield
        finally:
            _forget_request_locale()


def _forget_request_locale() -> None:
    if has_request_context():
        request.__dict__.pop("_portal_translations", None)


def init_app(app: Flask, babel: Babel) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", ";".join(translations_directories()))
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _request_translations().ugettext(s),
        ngettext=lambda s, p, n: _request_translations().ungettext(s, p, n),
        newstyle=True,
    )
    app.jinja_env.filters["hkd"] = format_hkd
    app.jinja_env.filters["day"] = format_day
    app.jinja_env.filters["moment"] = format_moment

    @app.context_processor
    def _i18n_context() -> dict[str, object]:
        locale = current_locale()
        return {
            "current_locale": locale,
            "html_lang": html_lang(locale),
            "other_locales": [
                (URL_CODES[code], ENDONYMS[code], HTML_LANG[code])
                for code in current_app.config["LANGUAGES"]
                if code != locale
            ],
        }

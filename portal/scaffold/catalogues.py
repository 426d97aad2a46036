"""The generated service's translations: extracted, translated and compiled at generation.

The ``.pot`` is extracted from the generated sources with the generated ``babel.cfg``, the
way the author will later run ``pybabel extract``, so the two can never disagree. The
Chinese catalogue is filled from ``CHINESE`` below; the ``.mo`` files are compiled at once,
so the package works in both languages as soon as it is installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

#: The same keywords as ``pybabel extract -k lazy_gettext`` in the generated README.
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
LOCALES = ("en", "zh_Hant_HK")

#: Traditional Chinese (Hong Kong) for every sentence of the scaffold's own files.
CHINESE: dict[str, str] = {
    "Full name": "姓名",
    "Enter your full name": "請輸入你的姓名",
    "Have you used this service before?": "你以前曾使用這項服務嗎？",
    "Select yes if you have used this service before": "如你以前曾使用這項服務，請選擇「是」",
    "Yes": "是",
    "No": "否",
    "Reference number of your previous application": "你上次申請的參考編號",
    "Enter the reference number of your previous application": "請輸入你上次申請的參考編號",
    "Enter the reference number as it is written, like K7MX-4P9Q-2":
        "請按原樣輸入參考編號，例如 K7MX-4P9Q-2",
    "For example, K7MX-4P9Q-2": "例如：K7MX-4P9Q-2",
    "Apply online and follow your application from your account.":
        "網上申請，並在你的帳戶查看申請進度。",
    "Your details": "你的資料",
    "Your previous application": "你上次的申請",
    "You can use this service if you live in Hong Kong.": "如你居於香港，便可使用這項服務。",
    "your full name as shown on your Hong Kong identity card": "你香港身份證上的姓名",
    "the reference number of your previous application, if you have one":
        "你上次申請的參考編號（如有）",
    "HK$100, or HK$50 if you have used this service before.":
        "港幣100元；如你以前曾使用這項服務，則為港幣50元。",
    "apply online": "網上申請",
    "It takes about 5 minutes. You can save your answers and come back later.":
        "大約需時5分鐘。你可以儲存答案，稍後再回來繼續。",
    "We will check your application and email you our decision.":
        "我們會審核你的申請，並以電郵通知你結果。",
    "You can follow your application in Your applications.":
        "你可以在「你的申請」查看申請進度。",
}


def extract(root: Path, project: str) -> Catalog:
    """The strings of the package under ``root``, found as ``babel.cfg`` there says."""
    with (root / "babel.cfg").open(encoding="utf-8") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping, str(root / "babel.cfg"))
    template = Catalog(project=project, version="0.1.0", fuzzy=False)
    for _filename, _lineno, message, comments, context in extract_from_dir(
        root, method_map, options_map, keywords=KEYWORDS
    ):
        template.add(message, None, [], auto_comments=comments, context=context)
    return template


def write_catalogues(root: Path, name: str, project: str,
                     translations: Mapping[str, str]) -> list[Path]:
    """Write ``<name>.pot``, the ``en`` and ``zh_Hant_HK`` ``.po`` and their ``.mo``.

    ``translations`` gives the Chinese for msgids beyond ``CHINESE`` (the title); a msgid
    with no Chinese is kept untranslated and marked fuzzy, for the author to translate.
    """
    folder = root / name / "translations"
    folder.mkdir(parents=True, exist_ok=True)
    template = extract(root, project)
    pot = folder / f"{name}.pot"
    _write_po(pot, template)
    written = [pot]
    chinese = {**CHINESE, **translations}
    for locale in LOCALES:
        catalog = _catalogue_for(pot, locale)
        for message in catalog:
            if not message.id or locale == "en":
                continue
            text = chinese.get(str(message.id))
            if text:
                message.string = text
            else:
                message.flags.add("fuzzy")
        messages = folder / locale / "LC_MESSAGES"
        messages.mkdir(parents=True, exist_ok=True)
        po, mo = messages / f"{name}.po", messages / f"{name}.mo"
        _write_po(po, catalog)
        buffer = BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        mo.write_bytes(buffer.getvalue())
        written += [po, mo]
    return written


def _catalogue_for(pot: Path, locale: str) -> Catalog:
    """What ``pybabel init -l <locale>`` makes of the template."""
    with pot.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    catalog.locale = Locale.parse(locale)
    catalog.revision_date = datetime.now(UTC)
    catalog.fuzzy = False
    return catalog


def _write_po(path: Path, catalog: Catalog) -> None:
    buffer = BytesIO()
    write_po(buffer, catalog, no_location=True, sort_output=True)
    path.write_bytes(buffer.getvalue())

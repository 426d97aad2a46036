"""The catalogues are complete and current: a stale or partial catalogue fails here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "portal" / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|<[^>]+>")


def _po(locale: str):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=locale)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "--no-location", "--omit-header", "."],
        cwd=ROOT, check=True,
    )
    with open(pot, "rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


@pytest.mark.parametrize("locale", ["en", "zh_Hant_HK"])
def test_catalogue_holds_exactly_the_strings_in_the_code(extracted, locale):
    in_catalogue = {m.id for m in _po(locale) if m.id}
    missing = sorted(map(str, extracted - in_catalogue))
    stale = sorted(map(str, in_catalogue - extracted))
    assert not missing, f"run `make translations`: not in the {locale} catalogue: {missing[:10]}"
    assert not stale, f"run `make translations`: no longer in the code: {stale[:10]}"


def _forms(value) -> list[str]:
    """A message's singular and plural forms (ids or translations) as a list."""
    return list(value) if isinstance(value, tuple | list) else [value]


def test_every_chinese_string_is_translated_and_not_fuzzy():
    problems = []
    for message in _po("zh_Hant_HK"):
        if not message.id:
            continue
        if not all(_forms(message.string)):
            problems.append(f"untranslated: {message.id!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
    assert not problems, "\n".join(problems[:20])


def test_chinese_strings_keep_placeholders_and_markup():
    problems = []
    for message in _po("zh_Hant_HK"):
        if message.id and all(_forms(message.string)):
            expected = sorted(PLACEHOLDER.findall(_forms(message.id)[-1]))
            for form in _forms(message.string):
                if sorted(PLACEHOLDER.findall(form)) != expected:
                    problems.append(repr(message.id))
    assert not problems, "placeholders differ: " + ", ".join(problems[:10])


@pytest.mark.parametrize("locale", ["en", "zh_Hant_HK"])
def test_compiled_catalogue_matches_its_source(locale):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        compiled = {
            tuple(_forms(m.id)): tuple(_forms(m.string))
            for m in read_mo(fh)
            # pybabel writes an untranslated plural as its own source text
            if m.id and not (isinstance(m.id, tuple | list) and tuple(m.id) == tuple(m.string))
        }
    source = {
        tuple(_forms(m.id)): tuple(_forms(m.string))
        for m in _po(locale) if m.id and all(_forms(m.string)) and not m.fuzzy
    }
    assert compiled == source, "run `make translations` to compile the catalogue"

"""What every built-in service must have: it loads through its entry point, its catalogues
are complete and compiled, and its own pages render in both languages."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale

from portal.plugins.manager import services
from portal.plugins.templates import render_service_template
from portal.toolkit import AddressForm, Step

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["birth_record", "licence_renewal", "pay_bill"]
LOCALES = ["en", "zh_Hant_HK"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _catalogue_path(name: str, locale: str, ext: str) -> Path:
    return ROOT / "services" / name / "translations" / locale / "LC_MESSAGES" / f"{name}.{ext}"


def _po(name: str, locale: str):
    with open(_catalogue_path(name, locale, "po"), "rb") as fh:
        return read_po(fh, locale=locale)


@pytest.mark.parametrize("name", NAMES)
def test_service_loads_as_active_through_its_entry_point(app, name):
    [entry_point] = [ep for ep in entry_points(group="portal.services") if ep.name == name]
    assert entry_point.value == f"services.{name}.plugin"
    registry = services(app)
    assert name in registry.active
    assert registry.package(name) == f"services.{name}"


@pytest.mark.parametrize("name", NAMES)
def test_service_imports_only_the_toolkit_from_the_portal(name):
    for path in (ROOT / "services" / name).rglob("*.py"):
        for line in path.read_text().splitlines():
            if re.match(r"\s*(from|import)\s+portal\b", line):
                assert re.match(r"\s*from portal\.toolkit import|\s*from portal import toolkit",
                                line), f"{path.name}: {line.strip()}"


@pytest.mark.parametrize("name", NAMES)
def test_catalogue_holds_exactly_the_strings_in_the_code(name, tmp_path):
    pot = tmp_path / f"{name}.pot"
    service = ROOT / "services" / name
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "-q", "extract",
         "-F", str(service / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
         "-o", str(pot), "--no-location", "--omit-header", str(service)],
        check=True,
    )
    with open(pot, "rb") as fh:
        extracted = {m.id for m in read_po(fh) if m.id}
    assert extracted, "nothing extracted: is babel.cfg right?"
    for locale in LOCALES:
        in_catalogue = {m.id for m in _po(name, locale) if m.id}
        assert extracted == in_catalogue, (
            f"{locale}: run the per-service part of `make translations`; missing: "
            f"{sorted(extracted - in_catalogue)[:5]}, stale: {sorted(in_catalogue - extracted)[:5]}"
        )


@pytest.mark.parametrize("name", NAMES)
def test_every_chinese_string_is_translated_not_fuzzy_and_keeps_placeholders(name):
    problems = []
    for message in _po(name, "zh_Hant_HK"):
        if not message.id:
            continue
        if not message.string:
            problems.append(f"untranslated: {message.id!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string)):
            problems.append(f"placeholders differ: {message.id!r}")
        elif not CJK.search(message.string):
            problems.append(f"not Chinese: {message.id!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalogue_is_current(name, locale):
    # Compared by content: a fresh clone gives both files arbitrary times.
    mo = _catalogue_path(name, locale, "mo")
    with open(mo, "rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    source = {m.id: m.string for m in _po(name, locale) if m.id and m.string and not m.fuzzy}
    assert compiled == source


@pytest.mark.parametrize("name", NAMES)
def test_service_title_and_questions_are_in_chinese_on_a_chinese_page(app, name):
    definition = services(app).active[name]
    core_address_fields = Step("address", "Address", AddressForm).fields()
    with app.test_request_context(), force_locale("zh_Hant_HK"):
        texts = [str(definition.title), str(definition.summary), str(definition.eligibility),
                 str(definition.fee_summary), *map(str, definition.requirements)]
        texts += [str(step.title) for step in definition.steps]
        for step in definition.steps:
            # The core's address questions are translated in the core's catalogue.
            own = set(step.fields()) - set(core_address_fields)
            form = step.form(meta={"csrf": False})
            texts += [str(field.label.text) for field in form if field.name in own]
    untranslated = [text for text in texts if not CJK.search(text)]
    assert not untranslated


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("template", ["start.html", "next_steps.html"])
def test_own_templates_render_in_both_languages(app, name, template):
    definition = services(app).active[name]
    with app.test_request_context():
        english = render_service_template(name, template, service=definition)
        with force_locale("zh_Hant_HK"):
            chinese = render_service_template(name, template, service=definition)
    assert english is not None
    assert 'class="govuk-body"' in english
    assert not CJK.search(str(english))
    assert CJK.search(str(chinese))

"""Test services for the catalogue, independent of the built-in ones.

A tiny service package (templates and a Chinese catalogue) is written to a temporary
folder once per run; ``install_services`` puts a registry of test services in place of
the portal's for one test.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from portal import toolkit
from portal.plugins.manager import LoadedService, ServiceRegistry

PACKAGE = "catalogue_test_services"

#: The Chinese catalogue of the ``test_renewal`` service.
CHINESE = {
    "Renew a test licence": "續期測試牌照",
    "Renew your test licence online before it expires.": "在測試牌照到期前於網上續期。",
    "permit": "許可證",
    "You must hold a test licence that expires within 4 months.": "你必須持有將於4個月內到期的測試牌照。",
    "your licence number": "你的牌照號碼",
    "a photo of yourself": "你的近照",
    "HK$900 for 10 years": "10年港幣900元",
    "Bring your old licence if we ask for it.": "如我們要求，請帶備舊牌照。",
}
#: Each start.html line checks one thing: the service's own catalogue (singular and
#: plural), the core's catalogue for strings the service does not have, the page's
#: context and the portal's GOV.UK macros.
START_HTML = textwrap.dedent("""\
    {% from "govuk_frontend_jinja/components/inset-text/macro.html" import govukInsetText %}
    {{ govukInsetText({'text': _('Bring your old licence if we ask for it.')}) }}
    <p id="plural">{{ ngettext("%(num)d document", "%(num)d documents", 2) }}</p>
    <p id="core">{{ _("Help") }}</p>
    <p id="context">{{ service.name }} {{ current_locale }}</p>
    {% if extra is defined %}<p id="extra">{{ extra }}</p>{% endif %}
""")


def _write_package(root: Any) -> None:
    package = root / PACKAGE
    own = package / "templates" / "test_renewal"
    own.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Fake service package for the catalogue tests."""\n')
    (own / "start.html").write_text(START_HTML)
    # A service named like a core area, whose own folder lacks the core's template.
    (package / "templates" / "core").mkdir()
    (package / "templates" / "core" / "other.html").write_text("<p>own</p>\n")
    catalog = Catalog(locale="zh_Hant_HK", domain="test_renewal")
    for msgid, msgstr in CHINESE.items():
        catalog.add(msgid, msgstr)
    catalog.add(("%(num)d document", "%(num)d documents"), ("%(num)d 份文件",))
    messages = package / "translations" / "zh_Hant_HK" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    with open(messages / "test_renewal.mo", "wb") as fh:
        write_mo(fh, catalog)


@pytest.fixture(scope="session")
def service_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("service_package")
    _write_package(root)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield PACKAGE
    sys.path.remove(str(root))
    sys.modules.pop(PACKAGE, None)


class DetailsForm(toolkit.ServiceForm):
    licence_number = toolkit.TextField("Licence number")


def decided_by_officer() -> toolkit.Workflow:
    return toolkit.Workflow(
        states=("received", "approved", "rejected"),
        initial="received",
        terminal=frozenset({"approved", "rejected"}),
        transitions=[
            toolkit.Transition("received", "approve", "approved", {"officer"}),
            toolkit.Transition("received", "reject", "rejected", {"officer"}),
        ],
    )


def completed_on_payment() -> toolkit.Workflow:
    return toolkit.Workflow(
        states=("awaiting_payment", "paid"),
        initial="awaiting_payment",
        terminal=frozenset({"paid"}),
        transitions=[toolkit.Transition("awaiting_payment", "payment_received", "paid", {"system"})],
    )


def make_service(name: str, title: Any, summary: Any, **options: Any) -> toolkit.ServiceDefinition:
    options.setdefault("department", "TD")
    options.setdefault("category", "transport")
    options.setdefault("workflow", decided_by_officer())
    options.setdefault("steps", [toolkit.Step("details", "Your details", DetailsForm)])
    options.setdefault("pay_before_processing", False)
    return toolkit.ServiceDefinition(name=name, title=title, summary=summary, **options)


@pytest.fixture(scope="session")
def test_services(service_package: str) -> dict[str, toolkit.ServiceDefinition]:
    """Three services in two topics and two departments, one translated into Chinese."""
    strings = toolkit.ServiceStrings("test_renewal", service_package)
    _ = strings.lazy_gettext
    renewal = make_service(
        "test_renewal", _("Renew a test licence"),
        _("Renew your test licence online before it expires."),
        keywords=(_("permit"),),
        eligibility=_("You must hold a test licence that expires within 4 months."),
        requirements=(_("your licence number"), _("a photo of yourself")),
        fee_summary=_("HK$900 for 10 years"),
        pledge_working_days=10,
    )
    certificate = make_service(
        "test_certificate", "Order a test certificate", "Get a certified copy of a test record.",
        department="TRO", category="records", pledge_working_days=1,
        fees=lambda answers: toolkit.Fee(14000),
    )
    bill = make_service(
        "test_bill", "Pay a test bill", "Pay a bill for a test service.",
        workflow=completed_on_payment(), pay_before_processing=True, pledge_working_days=2,
        fees=lambda answers: toolkit.Fee(answers["amount"]),
    )
    return {s.name: s for s in (renewal, certificate, bill)}


@pytest.fixture
def install_services(app: Any, monkeypatch: pytest.MonkeyPatch,
                     service_package: str) -> Callable[..., ServiceRegistry]:
    """Replace the portal's services for this test: ``install_services(*active, disabled=())``."""

    def install(*active: toolkit.ServiceDefinition,
                disabled: tuple[toolkit.ServiceDefinition, ...] = ()) -> ServiceRegistry:
        registry = ServiceRegistry()
        for definition in active:
            registry.entries.append(LoadedService(definition.name, "test", "1", "active", "",
                                                  definition, service_package))
        for definition in disabled:
            registry.entries.append(LoadedService(definition.name, "test", "1", "disabled",
                                                  "broken on purpose", definition, service_package))
        monkeypatch.setitem(app.extensions, "portal_services", registry)
        return registry

    return install

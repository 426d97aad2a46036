"""Service plugins load through entry points; a broken one is disabled, the portal serves on."""

from __future__ import annotations

import importlib
import textwrap
import uuid

import pytest

from portal.plugins.manager import load_services

GOOD = '''
from portal import toolkit

class Form(toolkit.ServiceForm):
    name = toolkit.TextField("Name")

@toolkit.hookimpl
def register_services():
    return [toolkit.ServiceDefinition(
        name="{name}", title="Library card", summary="Get a library card",
        department="LCSD", category="community",
        steps=[toolkit.Step("details", "Your details", Form)],
        workflow=toolkit.Workflow(
            states=("submitted", "issued"), initial="submitted",
            terminal=frozenset({{"issued"}}),
            transitions=[toolkit.Transition("submitted", "issue", "issued", {{"officer"}})],
        ),
        fees=lambda answers: toolkit.Fee(5000),
        state_labels={{"submitted": "Submitted", "issued": "Issued"}},
        action_labels={{"issue": "Issue the card"}},
    )]
'''


@pytest.fixture
def install(tmp_path, monkeypatch):
    """Install a throw-away distribution with a ``portal.services`` entry point."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def do(entry_name: str, source: str, version: str = "1.2.3") -> str:
        module = f"svc_{entry_name}_{uuid.uuid4().hex[:6]}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        dist = tmp_path / f"{module}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: {version}\n")
        (dist / "entry_points.txt").write_text(f"[portal.services]\n{entry_name} = {module}\n")
        importlib.invalidate_caches()
        return module

    return do


def _by_name(registry):
    return {e.entry_point: e for e in registry.entries}


def test_a_separate_distribution_loads_through_its_entry_point(install):
    module = install("library_card", GOOD.format(name="library_card"))
    entry = _by_name(load_services())["library_card"]
    assert entry.status == "active", entry.reason
    assert entry.version == "1.2.3"
    assert entry.distribution == module
    assert entry.definition.fees({}).amount == 5000


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("raise RuntimeError('boom at import')", "boom at import"),
        ("from portal import toolkit\n@toolkit.hookimpl\ndef register_services():\n    raise ValueError('bad')\n", "bad"),
        ("from portal import toolkit\n@toolkit.hookimpl\ndef register_services():\n    return ['not a service']\n", "ServiceDefinition"),
        ("x = 1\n", "does not implement"),
        (GOOD.format(name="Not Valid"), "lower-case"),
    ],
    ids=["import-error", "hook-raises", "wrong-type", "no-hook", "bad-name"],
)
def test_a_broken_plugin_is_disabled_with_the_reason(install, source, reason):
    install("broken", source)
    install("library_card", GOOD.format(name="library_card"))
    entries = _by_name(load_services())
    assert entries["broken"].status == "disabled"
    assert reason in entries["broken"].reason
    assert entries["library_card"].status == "active"


def test_portal_services_limits_what_loads(install):
    install("library_card", GOOD.format(name="library_card"))
    install("parking", GOOD.format(name="parking"))
    entries = _by_name(load_services(["parking", "missing"]))
    assert entries["parking"].status == "active"
    assert entries["library_card"].status == "not selected"
    assert entries["missing"].status == "disabled"
    assert "not installed" in entries["missing"].reason


def test_two_plugins_cannot_claim_one_name(install):
    install("same_name", GOOD.format(name="same_name"))
    install("same_name", GOOD.format(name="same_name"))
    statuses = sorted(e.status for e in load_services().entries if e.entry_point == "same_name")
    assert statuses == ["active", "disabled"]


def test_a_plugin_cannot_take_a_name_other_than_its_entry_point(install):
    install("a_first", GOOD.format(name="licence_renewal"))
    entries = _by_name(load_services())
    assert entries["a_first"].status == "disabled"
    assert "named after its entry point" in entries["a_first"].reason


def test_a_disabled_plugin_hears_no_hooks(install):
    install("broken", GOOD.format(name="something_else") + (
        "\nHEARD = []\n@toolkit.hookimpl\ndef register_demo_data():\n"
        "    HEARD.append(1)\n    return 1\n"))
    registry = load_services(["broken"])
    assert _by_name(registry)["broken"].status == "disabled"
    assert registry.plugin_manager.get_plugin("broken") is None
    assert registry.plugin_manager.hook.register_demo_data() == []


def test_the_portal_keeps_serving_and_reports_a_broken_plugin(install, tmp_path):
    install("broken", "raise RuntimeError('boom at import')")
    from portal import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
                      "INSTANCE_PATH": str(tmp_path), "TESTING": True})
    assert app.test_client().get("/healthz").status_code == 200
    result = app.test_cli_runner().invoke(args=["services"])
    assert "broken" in result.output
    assert "disabled: RuntimeError: boom at import" in result.output


def test_the_services_page_lists_plugins_for_portal_admins(app, client, create_staff, sign_in_staff):
    from portal.plugins.manager import LoadedService, services

    registry = services(app)
    registry.entries.append(LoadedService("broken", "svc-broken", "0.1", "disabled", "ImportError: x"))
    try:
        admin = create_staff("admin@example.com", role="portal_admin", department_code=None)
        sign_in_staff(client, admin)
        page = client.get("/staff/admin/services").get_data(as_text=True)
        assert "svc-broken" in page
        assert "ImportError: x" in page
    finally:
        registry.entries.pop()


def test_the_schema_upgrades_when_a_migrated_service_is_left_out(tmp_path):
    """pay_bill's tables exist; leaving it out of PORTAL_SERVICES must not break upgrades."""
    from flask_migrate import upgrade
    from sqlalchemy import inspect

    from portal import create_app
    from portal.extensions import db

    settings = {"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "INSTANCE_PATH": str(tmp_path),
                "TESTING": True}
    with_bills = create_app({**settings, "SERVICES": "pay_bill"})
    with with_bills.app_context():
        upgrade(revision="heads")
        assert "pay_bill_bills" in inspect(db.engine).get_table_names()
        db.engine.dispose()
    without = create_app({**settings, "SERVICES": "licence_renewal"})
    with without.app_context():
        upgrade(revision="heads")  # raised "Can't locate revision" before
        db.engine.dispose()

"""A wheel built from the repository works for plugin authors: it carries everything."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    if not (ROOT / "portal" / "static" / "portal.css").exists():
        pytest.fail("front-end assets are not built: run `make assets`")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )
    [path] = out.glob("*.whl")
    return zipfile.ZipFile(path)


def test_wheel_carries_templates_translations_migrations_and_assets(wheel):
    names = set(wheel.namelist())
    for required in (
        "portal/templates/layout.html",
        "portal/templates/emails/identity/confirm_email.txt",
        "portal/translations/zh_Hant_HK/LC_MESSAGES/messages.mo",
        "portal/translations/en/LC_MESSAGES/messages.mo",
        "portal/migrations/env.py",
        "portal/migrations/alembic.ini",
        "portal/migrations/versions/0001_identity.py",
        "portal/static/portal.css",
        "portal/static/govuk/govuk-frontend.min.js",
    ):
        assert required in names, required


def test_wheel_declares_the_portal_command_and_the_pytest_plugin(wheel):
    [entry_points] = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "portal = portal.cli:main" in text
    assert "portal = portal.testing.plugin" in text

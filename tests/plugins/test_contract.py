"""The plugin-facing surface: documented hooks and a closed toolkit."""

from __future__ import annotations

import inspect
from pathlib import Path

from portal import toolkit
from portal.plugins import hookspecs

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _hookspecs():
    return [
        (name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "portal_spec")
    ]


def test_there_are_hooks():
    assert _hookspecs()


def test_every_hook_is_documented_in_code_and_in_the_guide():
    guide = GUIDE.read_text()
    for name, fn in _hookspecs():
        doc = inspect.getdoc(fn) or ""
        assert len(doc) > 40, f"{name} has no docstring"
        assert ":return:" in doc or ":param" in doc, f"{name} does not describe its contract"
        assert f"`{name}`" in guide, f"{name} is missing from docs/plugins.md"


def test_toolkit_exports_exactly_its_all():
    public = {n for n in dir(toolkit) if not n.startswith("_")}
    exported = set(toolkit.__all__)
    assert exported <= public
    for name in public - exported:
        assert inspect.ismodule(getattr(toolkit, name)) or name == "annotations", name

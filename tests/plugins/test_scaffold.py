"""``portal new-service``: the generated distribution installs, loads and proves itself."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import sysconfig
import tomllib
import uuid
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from portal.plugins.manager import load_services
from portal.scaffold import ScaffoldError, ServiceSpec, generate
from portal.scaffold.catalogues import CHINESE

ROOT = Path(__file__).resolve().parents[2]


def _name(prefix: str = "fishing_permit") -> str:
    """A service name no other test (or installed module) uses: modules are cached."""
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


def _spec(name: str, **overrides: str) -> ServiceSpec:
    values = {"title": "Apply for a fishing permit", "title_zh": "申請釣魚許可證",
              "department": "AFCD", "category": "environment", **overrides}
    return ServiceSpec(name=name, **values)


def _catalogue(path: Path):
    with path.open("rb") as fh:
        return read_po(fh) if path.suffix in (".po", ".pot") else read_mo(fh)


@pytest.fixture
def generated(tmp_path):
    name = _name()
    dest = tmp_path / "service"
    generate(_spec(name), dest)
    return name, dest


def test_the_generator_writes_a_whole_distribution(tmp_path):
    name = _name()
    dest = tmp_path / "new"
    written = generate(_spec(name), dest)
    expected = {
        "pyproject.toml", "README.md", "babel.cfg",
        f"{name}/__init__.py", f"{name}/i18n.py", f"{name}/plugin.py", f"{name}/forms.py",
        f"{name}/fees.py",
        f"{name}/templates/{name}/start.html", f"{name}/templates/{name}/next_steps.html",
        f"{name}/translations/{name}.pot",
        f"{name}/translations/en/LC_MESSAGES/{name}.po",
        f"{name}/translations/en/LC_MESSAGES/{name}.mo",
        f"{name}/translations/zh_Hant_HK/LC_MESSAGES/{name}.po",
        f"{name}/translations/zh_Hant_HK/LC_MESSAGES/{name}.mo",
        "tests/conftest.py", "tests/test_contract.py",
    }
    on_disk = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert on_disk == expected
    assert {str(p.relative_to(dest)) for p in written} == expected


def test_the_distribution_declares_its_entry_point_and_ships_its_data(generated):
    name, dest = generated
    project = tomllib.loads((dest / "pyproject.toml").read_text())
    assert project["project"]["name"] == "portal-service-" + name.replace("_", "-")
    assert project["project"]["version"] == "0.1.0"
    assert project["project"]["dependencies"] == ["hk-digital-portal"]
    assert project["project"]["entry-points"]["portal.services"] == {name: f"{name}.plugin"}
    data = project["tool"]["setuptools"]["package-data"][name]
    assert "templates/**/*.html" in data
    assert "translations/*/LC_MESSAGES/*.mo" in data
    class_name = "".join(part.capitalize() for part in name.split("_"))
    assert f"class Test{class_name}Contract(ServiceContract)" in (
        dest / "tests" / "test_contract.py").read_text()


def test_the_generated_python_compiles_and_passes_ruff(generated):
    _name, dest = generated
    sources = sorted(dest.rglob("*.py"))
    assert len(sources) == 7
    for source in sources:
        compile(source.read_text(), str(source), "exec")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                            cwd=dest, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_string_is_in_chinese_and_compiled(generated):
    name, dest = generated
    translations = dest / name / "translations"
    template = _catalogue(translations / f"{name}.pot")
    chinese = _catalogue(translations / "zh_Hant_HK" / "LC_MESSAGES" / f"{name}.po")
    ids = {m.id for m in template if m.id}
    assert ids == {m.id for m in chinese if m.id}
    assert "Apply for a fishing permit" in ids
    assert all(m.string and not m.fuzzy for m in chinese if m.id)
    assert chinese["Apply for a fishing permit"].string == "申請釣魚許可證"
    assert chinese["Your details"].string == "你的資料"
    compiled = _catalogue(translations / "zh_Hant_HK" / "LC_MESSAGES" / f"{name}.mo")
    assert {m.id: m.string for m in compiled if m.id} == {m.id: m.string for m in chinese if m.id}
    english = _catalogue(translations / "en" / "LC_MESSAGES" / f"{name}.po")
    assert {m.id for m in english if m.id} == ids


def test_the_scaffold_translates_exactly_the_strings_its_files_have(generated):
    name, dest = generated
    ids = {m.id for m in _catalogue(dest / name / "translations" / f"{name}.pot") if m.id}
    assert ids - {"Apply for a fishing permit"} == set(CHINESE)


def test_without_a_chinese_title_the_title_is_left_for_the_author(tmp_path):
    name = _name()
    generate(_spec(name, title_zh=""), tmp_path / "s")
    po = tmp_path / "s" / name / "translations" / "zh_Hant_HK" / "LC_MESSAGES" / f"{name}.po"
    title = _catalogue(po)["Apply for a fishing permit"]
    assert title.fuzzy
    assert not title.string


@pytest.mark.parametrize(
    "name",
    ["Fishing", "f", "9lives", "fishing-permit", "x" * 41, "fishing permit", "class",
     "json", "portal"],
)
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(ScaffoldError):
        generate(_spec(name), tmp_path / "s")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("department", "td"), ("department", "T"), ("department", "TRANSPORT-DEPT"),
     ("category", "culture"), ("title", "ab"), ("title", "Line\nbreak"), ("title", "x" * 81),
     ("title_zh", "申")],
)
def test_bad_details_are_refused(tmp_path, field, value):
    with pytest.raises(ScaffoldError):
        generate(_spec(_name(), **{field: value}), tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_a_folder_with_something_in_it_is_refused(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="not empty"):
        generate(_spec(_name()), tmp_path / "taken")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ScaffoldError):
        generate(_spec(_name()), tmp_path / "a_file")


def test_an_empty_folder_is_used(tmp_path):
    (tmp_path / "empty").mkdir()
    generate(_spec(_name()), tmp_path / "empty")
    assert (tmp_path / "empty" / "pyproject.toml").is_file()


def test_a_failure_half_way_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("portal.scaffold.catalogues.write_catalogues", broken)
    with pytest.raises(OSError, match="disk full"):
        generate(_spec(_name()), tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_the_command_creates_the_service_and_says_what_next(app, tmp_path):
    name = _name()
    result = app.test_cli_runner().invoke(args=[
        "new-service", name, "--dest", str(tmp_path / "s"), "--title", "Register a boat",
        "--department", "mD", "--category", "transport",
    ])
    assert result.exit_code == 0, result.output
    assert "pip install -e" in result.output
    assert "The Chinese title is not given" in result.output
    plugin = (tmp_path / "s" / name / "plugin.py").read_text()
    assert 'TITLE = _("Register a boat")' in plugin
    assert 'department="MD"' in plugin
    assert 'category="transport"' in plugin


def test_the_command_refuses_a_bad_name_and_writes_nothing(app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["new-service", "Bad-Name", "--dest", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "not a service name" in result.output
    assert not (tmp_path / "s").exists()


@pytest.fixture
def on_path(monkeypatch):
    """Make a generated distribution importable with its entry point, without pip."""

    def do(name: str, dest: Path) -> None:
        monkeypatch.syspath_prepend(str(dest))
        dist = dest / f"portal_service_{name}-0.1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: portal-service-{name}\nVersion: 0.1.0\n")
        (dist / "entry_points.txt").write_text(f"[portal.services]\n{name} = {name}.plugin\n")
        importlib.invalidate_caches()

    return do


def test_the_generated_service_loads_as_active(generated, on_path):
    name, dest = generated
    on_path(name, dest)
    [entry] = [e for e in load_services([name]).entries if e.entry_point == name]
    assert entry.status == "active", entry.reason
    definition = entry.definition
    assert [step.name for step in definition.steps] == ["details", "previous"]
    first, second = definition.steps
    assert first.condition is None
    assert second.condition({"applied_before": "yes"})
    assert not second.condition({"applied_before": "no"})
    assert definition.fees({"applied_before": "no"}).amount == 10000
    assert definition.fees({"applied_before": "yes"}).amount == 5000
    workflow = definition.workflow
    assert workflow.initial == "awaiting_payment"
    assert workflow.next_state("awaiting_payment", "payment_received", "system") == "received"
    assert workflow.next_state("received", "approve", "officer") == "approved"
    assert workflow.next_state("received", "withdraw", "citizen") == "withdrawn"
    assert definition.prefill(type("User", (), {"name_en": "CHAN Tai Man"})()) == {
        "applicant_name": "CHAN Tai Man"}


def test_its_templates_and_strings_render_in_chinese(generated, on_path, tmp_path):
    name, dest = generated
    on_path(name, dest)
    from portal import create_app
    from portal.i18n import force_locale
    from portal.plugins.templates import render_service_template

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
                      "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "SERVICES": [name]})
    definition = app.extensions["portal_services"].active[name]
    with app.test_request_context(), force_locale("zh_Hant_HK"):
        assert str(definition.title) == "申請釣魚許可證"
        assert str(definition.steps[1].title) == "你上次的申請"
        start = render_service_template(name, "start.html")
        assert "你可以儲存答案" in start
        assert "我們會審核你的申請" in render_service_template(name, "next_steps.html")
    with app.test_request_context(), force_locale("en"):
        assert "save your answers" in render_service_template(name, "start.html")


def _clean_environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PORTAL_", "PYTHON", "VIRTUAL_ENV", "FLASK_"))}
    if os.environ.get("PORTAL_TEST_DATABASE_URL"):
        env["PORTAL_TEST_DATABASE_URL"] = os.environ["PORTAL_TEST_DATABASE_URL"]
    env["PORTAL_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


def test_pip_installs_it_into_a_fresh_virtualenv_where_it_loads_and_passes_its_tests(
        generated, tmp_path):
    name, dest = generated
    venv = tmp_path / "venv"
    # No network: the new environment borrows the portal and its dependencies (and pip,
    # setuptools) from this one through a .pth file, and pip builds without isolation.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    (Path(site) / "zz_portal_development.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n{ROOT}\n")
    env = _clean_environment(tmp_path)
    install = subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-q", str(dest)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed = Path(site) / name
    assert (installed / "translations" / "zh_Hant_HK" / "LC_MESSAGES" / f"{name}.mo").is_file()
    assert (installed / "templates" / name / "start.html").is_file()

    listing = subprocess.run(
        [python, "-c", "import sys; from portal.cli import main; sys.exit(main())", "services"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert listing.returncode == 0, listing.stdout + listing.stderr
    [line] = [row for row in listing.stdout.splitlines() if row.startswith(name + " ")]
    assert "portal-service-" + name.replace("_", "-") in line
    assert line.split()[-1] == "active", line

    # The generated tests: the portal's contract kit against the installed service.
    run = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        capture_output=True, text=True, env=env, cwd=dest,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout, run.stdout[-2000:]


def test_the_sample_files_are_what_they_claim():
    from portal.testing import samples

    assert samples.PNG.startswith(b"\x89PNG\r\n\x1a\n")
    assert samples.JPEG.startswith(b"\xff\xd8\xff")
    assert samples.JPEG.endswith(b"\xff\xd9")
    assert samples.PDF.startswith(b"%PDF-1.4")
    assert samples.PDF.rstrip().endswith(b"%EOF")
    offset = int(samples.PDF.rsplit(b"startxref", 1)[1].split()[0])
    assert samples.PDF[offset:].startswith(b"xref")

"""``portal new-service``: a new e-service as an installable distribution, ready to run.

The files come from plain text templates in ``template/``, filled with ``string.Template``
(``$name``; ``$$`` is a literal dollar). They are deliberately not rendered with the
portal's Jinja environment: the generated templates are Jinja themselves.

The result is a working service: it loads through its entry point as active, renders in
English and Chinese (its catalogues are extracted, translated and compiled here), and
carries a test module that runs the portal's contract kit against it.
"""

from __future__ import annotations

import importlib.util
import json
import keyword
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from string import Template

from portal.forms import contains_control_characters
from portal.plugins.service import NAME_PATTERN, TOPICS

__all__ = ["ScaffoldError", "ServiceSpec", "generate"]

TEMPLATES = Path(__file__).parent / "template"
DEPARTMENT_PATTERN = re.compile(r"[A-Z]{2,16}")

#: Template file -> path in the new distribution (``$name`` filled in).
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "babel.cfg.tmpl": "babel.cfg",
    "package/__init__.py.tmpl": "$name/__init__.py",
    "package/i18n.py.tmpl": "$name/i18n.py",
    "package/plugin.py.tmpl": "$name/plugin.py",
    "package/forms.py.tmpl": "$name/forms.py",
    "package/fees.py.tmpl": "$name/fees.py",
    "package/templates/start.html.tmpl": "$name/templates/$name/start.html",
    "package/templates/next_steps.html.tmpl": "$name/templates/$name/next_steps.html",
    "tests/conftest.py.tmpl": "tests/conftest.py",
    "tests/test_contract.py.tmpl": "tests/test_contract.py",
}


class ScaffoldError(ValueError):
    """The request cannot be generated; the message says why and what to do."""


@dataclass(frozen=True)
class ServiceSpec:
    """What the author chose: the service's name and the few facts the files need."""

    name: str
    title: str = ""
    title_zh: str = ""
    department: str = "DEMO"
    category: str = "community"

    @property
    def dist_name(self) -> str:
        return "portal-service-" + self.name.replace("_", "-")

    @property
    def english_title(self) -> str:
        return self.title or self.name.replace("_", " ").strip().capitalize()

    def check(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ScaffoldError(
                f"{self.name!r} is not a service name: use 2-40 lower-case letters, digits "
                "or _, starting with a letter (for example library_card)"
            )
        if keyword.iskeyword(self.name):
            raise ScaffoldError(f"{self.name!r} is a Python keyword; choose another name")
        if importlib.util.find_spec(self.name) is not None:
            raise ScaffoldError(
                f"a Python module named {self.name!r} exists already; choose another name"
            )
        if not DEPARTMENT_PATTERN.fullmatch(self.department):
            raise ScaffoldError(
                f"{self.department!r} is not a department code: use 2-16 capital letters, "
                "like TD"
            )
        if self.category not in TOPICS:
            raise ScaffoldError(f"category must be one of {', '.join(sorted(TOPICS))}")
        for label, text in (("title", self.english_title), ("Chinese title", self.title_zh)):
            if text and (contains_control_characters(text) or not 3 <= len(text) <= 80):
                raise ScaffoldError(f"the {label} must be 3-80 characters on one line")

    def substitutions(self) -> dict[str, str]:
        title = self.english_title
        return {
            "name": self.name,
            "dist_name": self.dist_name,
            "class_name": "".join(part.capitalize() for part in self.name.split("_")),
            "title": title,
            # JSON strings are valid Python and TOML string literals, quotes and all.
            "title_py": json.dumps(title, ensure_ascii=False),
            "title_toml": json.dumps(title, ensure_ascii=False),
            "department": self.department,
            "category": self.category,
        }


def check_destination(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ScaffoldError(f"{dest} exists and is not empty; choose a new folder")


def generate(spec: ServiceSpec, dest: Path) -> list[Path]:
    """Write the distribution for ``spec`` into ``dest`` (new or empty); return its files."""
    from portal.scaffold.catalogues import write_catalogues

    spec.check()
    check_destination(dest)
    values = spec.substitutions()
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        written = []
        for source, target in FILES.items():
            text = Template((TEMPLATES / source).read_text(encoding="utf-8")).substitute(values)
            path = dest / Template(target).substitute(values)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
        titles = {spec.english_title: spec.title_zh} if spec.title_zh else {}
        written += write_catalogues(dest, spec.name, spec.dist_name, titles)
    except BaseException:
        # Leave no half-made service behind: the folder was new or empty.
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in dest.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        raise
    return written

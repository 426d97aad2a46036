"""What the catalogue lists, how it is grouped and how it is searched.

Search looks at a service's title, summary and keywords and its department's name, in
both languages whatever the page's language, without regard to case. Words of a query
must all appear (anywhere: Chinese is written without spaces, so ``續期`` is a
substring match). The text of each service is worked out once per registry of services
(once per application in production); department names come from the database on each
request, so a renamed department is found by its new name at once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import LOCALES, current_locale, force_locale
from portal.identity.models import Department
from portal.plugins.manager import ServiceRegistry, services
from portal.plugins.service import TOPICS, Fee, ServiceDefinition

#: The longest search accepted, in characters.
MAX_QUERY = 100
#: Actors that make a decision on an application (as opposed to the citizen or the system).
STAFF_ACTORS = frozenset({"officer", "supervisor", "department_admin"})

_EXTENSION_KEY = "portal_catalogue"


@dataclass(frozen=True)
class Listing:
    """A service as the catalogue shows it."""

    service: ServiceDefinition
    #: The department's name in the page's language (its code when the portal has no row).
    department: str
    #: Title, summary, keywords and department name in every language, folded.
    search_text: str

    @property
    def name(self) -> str:
        return self.service.name

    def matches(self, terms: Iterable[str]) -> bool:
        return all(term in self.search_text for term in terms)


def fold(text: str) -> str:
    """Text as search compares it: compatibility forms, case and spacing evened out."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def search_terms(query: str) -> list[str]:
    return fold(query).split()


def listings() -> list[Listing]:
    """Every active service, sorted by title in the page's language."""
    active = services(current_app).active
    if not active:
        return []
    rows = _departments({definition.department for definition in active.values()})
    locale = current_locale()
    found = []
    for definition in active.values():
        row = rows.get(definition.department)
        shown = row.name(locale) if row else definition.department
        names = [definition.department, *((row.name_en, row.name_zh) if row else ())]
        text = f"{_service_text(definition)} {fold(' '.join(names))}"
        found.append(Listing(definition, shown, text))
    return sorted(found, key=lambda listing: (fold(str(listing.service.title)), listing.name))


def search(items: list[Listing], query: str) -> list[Listing]:
    terms = search_terms(query)
    return [item for item in items if item.matches(terms)]


def by_topic(items: list[Listing]) -> list[tuple[str, Any, list[Listing]]]:
    """``(code, label, services)`` for each topic that has services, in the topics' order."""
    groups: dict[str, list[Listing]] = {}
    for item in items:
        groups.setdefault(item.service.category, []).append(item)
    return [(code, label, groups[code]) for code, label in TOPICS.items() if code in groups]


def by_department(items: list[Listing]) -> list[tuple[str, str, int]]:
    """``(code, name, number of services)`` for each department that has services."""
    counts: dict[str, tuple[str, int]] = {}
    for item in items:
        _name, count = counts.get(item.service.department, (item.department, 0))
        counts[item.service.department] = (item.department, count + 1)
    return sorted(
        ((code, name, count) for code, (name, count) in counts.items()),
        key=lambda entry: (fold(entry[1]), entry[0]),
    )


def topics_with_services() -> list[tuple[str, Any]]:
    """``(code, label)`` of the topics that have at least one active service."""
    used = {definition.category for definition in services(current_app).active.values()}
    return [(code, label) for code, label in TOPICS.items() if code in used]


def department_name(code: str) -> str:
    row = _departments({code}).get(code)
    return row.name(current_locale()) if row else code


def fixed_fee(definition: ServiceDefinition) -> Fee | None:
    """The fee when it does not depend on the answers, for a service with no fee summary.

    ``None`` when the fee rule needs answers to work it out.
    """
    try:
        fee = definition.fees({})
    except Exception:  # noqa: BLE001 - a rule that needs answers says nothing fixed
        return None
    return fee if isinstance(fee, Fee) else None


def decided_by_staff(definition: ServiceDefinition) -> bool:
    """Whether department staff take a decision on an application (or it just completes)."""
    return any(move.actors & STAFF_ACTORS for move in definition.workflow.transitions)


def _departments(codes: set[str]) -> dict[str, Department]:
    if not codes:
        return {}
    rows = db.session.scalars(select(Department).where(Department.code.in_(sorted(codes))))
    return {row.code: row for row in rows}


def _service_text(definition: ServiceDefinition) -> str:
    """The service's own searchable words in every language, folded; cached."""
    registry = services(current_app)
    by_registry: WeakKeyDictionary[ServiceRegistry, dict[str, tuple[ServiceDefinition, str]]]
    by_registry = current_app.extensions.setdefault(_EXTENSION_KEY, WeakKeyDictionary())
    texts = by_registry.setdefault(registry, {})
    cached = texts.get(definition.name)
    if cached is not None and cached[0] is definition:
        return cached[1]
    parts: list[str] = []
    for locale in LOCALES:
        with force_locale(locale):
            parts.append(str(definition.title))
            parts.append(str(definition.summary))
            parts.extend(str(keyword) for keyword in definition.keywords)
    text = fold(" ".join(dict.fromkeys(parts)))
    texts[definition.name] = (definition, text)
    return text

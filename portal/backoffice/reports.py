"""The department's dashboard: the backlog per service, applications received and decided
per week, and processing time against the pledge; and the counts on the staff home.

Every figure is counted by the database (``GROUP BY``), so a page costs a few small
result sets however many applications there are. Weeks and days are Hong Kong's (Monday
to Sunday). Working days need the Hong Kong holiday calendar, which SQL does not have, so
processing times are grouped in SQL by (service, due date, day of the decision) and only
those few distinct pairs are turned into working days here.

How long a decision took, in working days, comes from its due date: the due date is the
pledge counted from the day the clock started, moved on by the working days the case
waited for the citizen, so ``pledge - working days left at the decision`` (or ``pledge +
working days late``) is the time the department had the case, pauses excluded.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal, format_percent
from flask import current_app, render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Date, and_, case, cast, false, func, literal_column, or_, select

from portal.applications.models import Application
from portal.applications.util import working_days_between
from portal.backoffice import charts
from portal.extensions import db
from portal.i18n import FORMAT_LOCALES, current_locale, hong_kong_today
from portal.plugins.service import AWAITING_PAYMENT, ServiceDefinition

#: Weeks shown in the weekly chart and counted in the processing times.
WEEKS = 12
HONG_KONG = ZoneInfo("Asia/Hong_Kong")
#: Workflow actors that are department staff: their final moves are decisions.
STAFF_ACTORS = frozenset({"officer", "supervisor", "department_admin"})


# --- which states count ------------------------------------------------------------------


def department_services(code: str) -> dict[str, ServiceDefinition]:
    """Every installed service of the department, switched off or not (its cases remain)."""
    from portal.plugins.manager import services

    found: dict[str, ServiceDefinition] = {}
    for entry in services(current_app).entries:
        if entry.definition is not None and entry.definition.department == code:
            found.setdefault(entry.definition.name, entry.definition)
    return found


def open_states(definitions: Iterable[ServiceDefinition]) -> set[str]:
    """States in which a case is the department's work: not final, and not still waiting
    for its fee (an unpaid application is not the department's yet and closes by itself)."""
    states: set[str] = set()
    for definition in definitions:
        workflow = definition.workflow
        states |= set(workflow.states) - set(workflow.terminal)
    return states - {AWAITING_PAYMENT}


def waiting_states(definitions: Iterable[ServiceDefinition]) -> set[str]:
    """States in which the department waits for the citizen (the pledge's clock stops)."""
    states: set[str] = set()
    for definition in definitions:
        states |= set(definition.workflow.waiting)
    return states


def decision_states(definition: ServiceDefinition) -> set[str]:
    """Final states that staff move a case into: its decisions (approved, rejected).
    A withdrawal, a lapse or a bill paid are final too, but nobody decided them."""
    workflow = definition.workflow
    return {move.target for move in workflow.transitions
            if move.target in workflow.terminal and move.actors & STAFF_ACTORS}


def _decided(definitions: dict[str, ServiceDefinition]) -> Any:
    """A condition: the application is in one of its service's decision states."""
    clauses = [and_(Application.service == name, Application.state.in_(sorted(states)))
               for name, definition in definitions.items()
               if (states := decision_states(definition))]
    return or_(*clauses) if clauses else false()


# --- Hong Kong days and weeks in SQL -----------------------------------------------------


def _hong_kong_day(column: Any) -> Any:
    """The Hong Kong calendar day of a UTC timestamp column, as SQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Constants as literals, not parameters, so the expression in GROUP BY is the
        # same text as in the select list.
        return cast(func.timezone(literal_column("'Asia/Hong_Kong'"), column), Date)
    # SQLite stores UTC; Hong Kong has kept UTC+8 without summer time since 1979.
    return func.date(column, literal_column("'+8 hours'"))


def _hong_kong_week(column: Any) -> Any:
    """The Monday starting the Hong Kong week of a UTC timestamp column, as SQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        local = func.timezone(literal_column("'Asia/Hong_Kong'"), column)
        return cast(func.date_trunc(literal_column("'week'"), local), Date)
    return func.date(column, literal_column("'+8 hours'"), literal_column("'weekday 0'"),
                     literal_column("'-6 days'"))


def _as_date(value: Any) -> date:
    """SQLite answers dates as text, PostgreSQL as dates."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def hong_kong_midnight(day: date) -> datetime:
    """The start of ``day`` in Hong Kong, as an aware UTC time."""
    return datetime.combine(day, time(), HONG_KONG).astimezone(UTC)


# --- the figures ---------------------------------------------------------------------------


@dataclass
class BacklogRow:
    service: str
    title: str
    #: Open applications per state.
    by_state: dict[str, int] = field(default_factory=dict)
    overdue: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


@dataclass
class Week:
    start: date
    received: int = 0
    decided: int = 0


@dataclass
class ProcessingRow:
    service: str
    title: str
    pledge: int
    decided: int
    median: float
    percentile_90: int
    within_pledge: int

    @property
    def within_pledge_share(self) -> float:
        return self.within_pledge / self.decided if self.decided else 0.0


@dataclass
class Dashboard:
    backlog: list[BacklogRow]
    #: The open states shown as the backlog's columns, in workflow order.
    states: list[str]
    state_labels: dict[str, str]
    weeks: list[Week]
    processing: list[ProcessingRow]
    since: date

    @property
    def backlog_total(self) -> int:
        return sum(row.total for row in self.backlog)


def _title(definitions: dict[str, ServiceDefinition], service: str) -> str:
    definition = definitions.get(service)
    return str(definition.title) if definition is not None else service


def backlog(code: str, definitions: dict[str, ServiceDefinition],
            today: date) -> list[BacklogRow]:
    states = open_states(definitions.values())
    if not states:
        return []
    paused = waiting_states(definitions.values())
    overdue = case((and_(Application.decision_due < today,
                         Application.state.notin_(sorted(paused) or [""])), 1), else_=0)
    rows = db.session.execute(
        select(Application.service, Application.state, func.count(), func.sum(overdue))
        .where(Application.department == code, Application.state.in_(sorted(states)))
        .group_by(Application.service, Application.state)
    ).all()
    found: dict[str, BacklogRow] = {}
    for service, state, count, late in rows:
        row = found.setdefault(service, BacklogRow(service, _title(definitions, service)))
        row.by_state[state] = count
        row.overdue += int(late or 0)
    return sorted(found.values(), key=lambda r: (-r.total, r.title))


def weekly(code: str, definitions: dict[str, ServiceDefinition],
           first_monday: date) -> list[Week]:
    weeks = {first_monday + timedelta(weeks=n): Week(first_monday + timedelta(weeks=n))
             for n in range(WEEKS)}
    since = hong_kong_midnight(first_monday)
    received_week = _hong_kong_week(Application.submitted_at)
    for start, count in db.session.execute(
            select(received_week, func.count())
            .where(Application.department == code, Application.submitted_at >= since)
            .group_by(received_week)):
        if (week := weeks.get(_as_date(start))) is not None:
            week.received = count
    decided_week = _hong_kong_week(Application.decided_at)
    for start, count in db.session.execute(
            select(decided_week, func.count())
            .where(Application.department == code, Application.decided_at >= since,
                   _decided(definitions))
            .group_by(decided_week)):
        if (week := weeks.get(_as_date(start))) is not None:
            week.decided = count
    return list(weeks.values())


@lru_cache(maxsize=4096)
def working_days_taken(pledge: int, due: date, decided: date) -> int:
    """Working days the department had the case, from its due date (see the module)."""
    if decided <= due:
        return max(pledge - working_days_between(decided, due), 0)
    return pledge + working_days_between(due, decided)


def _median(counts: list[tuple[int, int]]) -> float:
    """The median of values given as sorted (value, how many) pairs."""
    total = sum(n for _value, n in counts)
    middle = ((total - 1) // 2, total // 2)  # 0-based ranks of the middle one or two
    picked, seen = [], 0
    for value, n in counts:
        picked += [value for rank in middle if seen <= rank < seen + n]
        seen += n
    return sum(picked) / len(picked)


def _percentile(counts: list[tuple[int, int]], share: float) -> int:
    """The nearest-rank percentile of values given as sorted (value, how many) pairs."""
    total = sum(n for _value, n in counts)
    rank, seen = max(math.ceil(share * total), 1), 0
    for value, n in counts:
        seen += n
        if seen >= rank:
            return value
    return counts[-1][0]


def processing(code: str, definitions: dict[str, ServiceDefinition],
               first_monday: date) -> list[ProcessingRow]:
    day = _hong_kong_day(Application.decided_at)
    rows = db.session.execute(
        select(Application.service, Application.decision_due, day, func.count())
        .where(Application.department == code,
               Application.decided_at >= hong_kong_midnight(first_monday),
               Application.decision_due.is_not(None), _decided(definitions))
        .group_by(Application.service, Application.decision_due, day)
    ).all()
    taken: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    on_time: dict[str, int] = defaultdict(int)
    for service, due, decided_on, count in rows:
        definition = definitions[service]
        due, decided_on = _as_date(due), _as_date(decided_on)
        taken[service][working_days_taken(definition.pledge_working_days, due,
                                          decided_on)] += count
        if decided_on <= due:
            on_time[service] += count
    result = []
    for service, histogram in taken.items():
        counts = sorted(histogram.items())
        definition = definitions[service]
        result.append(ProcessingRow(
            service, _title(definitions, service), definition.pledge_working_days,
            sum(histogram.values()), _median(counts), _percentile(counts, 0.9),
            on_time[service]))
    return sorted(result, key=lambda r: r.title)


def dashboard_for(code: str) -> Dashboard:
    definitions = department_services(code)
    today = hong_kong_today()
    first_monday = today - timedelta(days=today.weekday(), weeks=WEEKS - 1)
    rows = backlog(code, definitions, today)
    present = {state for row in rows for state in row.by_state}
    ordered: list[str] = []
    labels: dict[str, str] = {}
    for definition in definitions.values():
        for state in definition.workflow.states:
            if state in present and state not in labels:
                ordered.append(state)
                labels[state] = str(definition.state_label(state))
    for state in sorted(present - set(labels)):  # a state no installed service names
        ordered.append(state)
        labels[state] = state
    return Dashboard(rows, ordered, labels, weekly(code, definitions, first_monday),
                     processing(code, definitions, first_monday), first_monday)


# --- the staff home's counts ---------------------------------------------------------------


@dataclass(frozen=True)
class HomeCounts:
    mine: int
    unassigned: int
    overdue: int


def home_counts(user: Any) -> HomeCounts:
    """Open cases of the user's department: assigned to them, unassigned, overdue."""
    code = user.department.code
    definitions = department_services(code)
    states = sorted(open_states(definitions.values()))
    if not states:
        return HomeCounts(0, 0, 0)
    active = sorted(set(states) - waiting_states(definitions.values()))
    today = hong_kong_today()
    mine, unassigned, overdue = db.session.execute(select(
        func.count().filter(Application.assigned_to_id == user.id),
        func.count().filter(Application.assigned_to_id.is_(None)),
        func.count().filter(Application.decision_due < today,
                            Application.state.in_(active or [""])),
    ).where(Application.department == code, Application.state.in_(states))).one()
    return HomeCounts(mine, unassigned, overdue)


# --- the page ------------------------------------------------------------------------------


def _number(value: float) -> str:
    return format_decimal(value, "#,##0.#", locale=FORMAT_LOCALES.get(current_locale(), "en_HK"))


def _percent(value: float) -> str:
    return format_percent(value, locale=FORMAT_LOCALES.get(current_locale(), "en_HK"))


def dashboard() -> Any:
    department = current_user.department
    data = dashboard_for(department.code)
    backlog_chart = weekly_chart = processing_chart = None
    if data.backlog:
        backlog_chart = charts.horizontal_bar_chart(
            "chart-backlog",
            title=_("Open applications by service"),
            description=_("A bar for each service, its length the number of open "
                          "applications. The table after the chart gives the figures."),
            categories=[row.title for row in data.backlog],
            series=[charts.Series(_("Open applications"), [row.total for row in data.backlog])],
            format_value=_number,
        )
    weekly_chart = charts.column_chart(
        "chart-weekly",
        title=_("Applications received and decided per week"),
        description=_("For each of the last %(weeks)d weeks, a pair of columns: applications "
                      "received and applications decided. The table after the chart gives "
                      "the figures.", weeks=WEEKS),
        categories=[_short_day(week.start) for week in data.weeks],
        series=[charts.Series(_("Received"), [week.received for week in data.weeks]),
                charts.Series(_("Decided"), [week.decided for week in data.weeks])],
        format_value=_number,
    )
    if data.processing:
        processing_chart = charts.horizontal_bar_chart(
            "chart-processing",
            title=_("Processing time against the pledge, in working days"),
            description=_("For each service, three bars: the median working days to a "
                          "decision, the 90th percentile, and the pledge. The table after the "
                          "chart gives the figures."),
            categories=[row.title for row in data.processing],
            series=[
                charts.Series(_("Median"), [row.median for row in data.processing]),
                charts.Series(_("90th percentile"),
                              [row.percentile_90 for row in data.processing]),
                charts.Series(_("Pledge"), [row.pledge for row in data.processing]),
            ],
            format_value=_number,
        )
    return render_template(
        "backoffice/reports/dashboard.html", department=department, data=data,
        backlog_chart=backlog_chart, weekly_chart=weekly_chart,
        processing_chart=processing_chart, number=_number, percent=_percent, weeks=WEEKS,
    )


def _short_day(day: Any) -> str:
    """A week's first day on a chart's axis: "7 Sept", "9月7日"."""
    from babel.dates import format_skeleton

    locale = current_locale()
    return format_skeleton("MMMd", day, locale=FORMAT_LOCALES.get(locale, locale))

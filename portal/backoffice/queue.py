"""The department's work queue as queries: filters, pages in due-date order, counts.

Pages are read by keyset (the due date and id of the row next to the page), never by
OFFSET, so the thousandth page costs what the first does. Each state of the filter is
read on its own from the index ``ix_applications_queue_state`` (department, state,
decision_due, id), in index order with a LIMIT of one page, and those few short lists
are merged: a page costs about the same whether the department has a thousand
applications or a million. Cases without a due date (the clock has not started) come
last, read from the same index (its NULLs sort last).

Everything here is a plain function of a ``Scope`` (the department, its services'
workflows, who is asking, today's date in Hong Kong) and ``Filters``; the views and the
benchmark (``bench/queue.py``) call the same functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal_column, or_, select, tuple_, union_all

from portal.applications.models import Application
from portal.extensions import db
from portal.plugins.service import AWAITING_PAYMENT, Workflow

PAGE_SIZE = 50
#: Most rows a CSV export holds (the page says so).
EXPORT_LIMIT = 100_000
#: ``Filters.assigned``
ASSIGNED_TO_ME = "me"
UNASSIGNED = "unassigned"
#: ``Filters.due``: past the due date, or due from today to ``days`` from today.
OVERDUE = "overdue"
DUE_SOON = "soon"
DEFAULT_DUE_DAYS = 5
MAX_DUE_DAYS = 365
#: Directions of a cursor: the page after or before its row.
AFTER = "after"
BEFORE = "before"

_COLUMNS = (Application.id, Application.reference, Application.service, Application.state,
            Application.applicant_name, Application.decision_due, Application.submitted_at,
            Application.assigned_to_id)


@dataclass(frozen=True)
class Scope:
    """Whose queue: a department, its services' workflows, the person looking, today."""

    department: str
    #: Service name -> its workflow (the department's services).
    workflows: Mapping[str, Workflow]
    #: The signed-in member of staff ("assigned to me").
    user_id: int | None
    #: Today in Hong Kong (what "overdue" is measured against).
    today: date

    def open_states(self, service: str) -> frozenset[str]:
        """Open work of a service: states that are not final, nor waiting for payment."""
        workflow = self.workflows[service]
        return frozenset(workflow.states) - workflow.terminal - {AWAITING_PAYMENT}

    def is_waiting(self, service: str, state: str) -> bool:
        workflow = self.workflows.get(service)
        return workflow is not None and state in workflow.waiting

    def is_overdue(self, service: str, state: str, due: date | None) -> bool:
        workflow = self.workflows.get(service)
        return (due is not None and due < self.today and workflow is not None
                and state not in workflow.waiting and state not in workflow.terminal)


@dataclass(frozen=True)
class Filters:
    """What the queue is narrowed to; every field None means the department's open work."""

    service: str | None = None
    #: One state; None: open work (or, for a reference search, any state).
    state: str | None = None
    #: ``ASSIGNED_TO_ME``, ``UNASSIGNED`` or None (anyone).
    assigned: str | None = None
    #: ``OVERDUE``, ``DUE_SOON`` (within ``days``) or None.
    due: str | None = None
    days: int = DEFAULT_DUE_DAYS
    #: A canonical reference (exact match) or part of the applicant's name.
    reference: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Cursor:
    """The row a page starts after (or ends before): its due date and id."""

    direction: str
    due: date | None
    id: int


@dataclass(frozen=True)
class QueueRow:
    id: int
    reference: str
    service: str
    state: str
    applicant_name: str | None
    decision_due: date | None
    submitted_at: datetime
    assigned_to_id: int | None
    waiting: bool
    overdue: bool


@dataclass
class Page:
    rows: list[QueueRow] = field(default_factory=list)
    next: Cursor | None = None
    previous: Cursor | None = None


def _branches(scope: Scope, filters: Filters) -> dict[str, list[str]]:
    """State -> the services in which the filter selects that state (one index range each)."""
    services = [filters.service] if filters.service else sorted(scope.workflows)
    branches: dict[str, list[str]] = {}
    for service in services:
        workflow = scope.workflows.get(service)
        if workflow is None:
            continue
        if filters.state:
            states = {filters.state} & set(workflow.states)
        elif filters.reference:
            states = set(workflow.states)  # a reference is found whatever its state
        else:
            states = set(scope.open_states(service))
        if filters.due:  # the clock runs only while the department works on the case
            states -= workflow.waiting | workflow.terminal
        for state in states:
            branches.setdefault(state, []).append(service)
    return dict(sorted(branches.items()))


def _common(scope: Scope, filters: Filters) -> list[Any]:
    """Conditions of every branch besides the state (cheap to check on the index's rows)."""
    conditions: list[Any] = [Application.department == scope.department]
    # With the state (each branch's), these read one range of
    # ix_applications_queue_assignee (department, assignee, state, due date, id): a
    # person's open cases in due order, however many decided ones they have had.
    if filters.assigned == ASSIGNED_TO_ME:
        conditions.append(Application.assigned_to_id == scope.user_id)
    elif filters.assigned == UNASSIGNED:
        conditions.append(Application.assigned_to_id.is_(None))
    if filters.due == OVERDUE:
        conditions.append(Application.decision_due < scope.today)
    elif filters.due == DUE_SOON:
        conditions.append(Application.decision_due.between(
            scope.today, scope.today + timedelta(days=filters.days)))
    if filters.reference:
        conditions.append(Application.reference == filters.reference)
    if filters.name:
        conditions.append(Application.applicant_name.ilike(
            f"%{escape_like(filters.name)}%", escape="\\"))
    return conditions


def escape_like(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (with ``\\`` as the escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _service_condition(scope: Scope, services: list[str]) -> list[Any]:
    return [] if set(services) == set(scope.workflows) else [Application.service.in_(services)]


def _subqueries(scope: Scope, filters: Filters, cursor: Cursor | None, limit: int) -> list[Any]:
    """One short, index-ordered read per state (and per state, one for undated cases)."""
    backward = cursor is not None and cursor.direction == BEFORE
    common = _common(scope, filters)
    dated_key = tuple_(Application.decision_due, Application.id)
    parts = []
    for state, services in _branches(scope, filters).items():
        where = [*common, Application.state == state, *_service_condition(scope, services)]
        # Dated cases first (in due order), then undated ones (by id): the cursor says
        # which of the two lists it is in.
        dated = [*where, Application.decision_due.is_not(None)]
        undated = [*where, Application.decision_due.is_(None)]
        read_dated = read_undated = True
        if cursor is not None and cursor.due is not None:
            position = (cursor.due, cursor.id)
            dated.append(dated_key < position if backward else dated_key > position)
            read_undated = not backward
        elif cursor is not None:
            undated.append(Application.id < cursor.id if backward else Application.id > cursor.id)
            read_dated = backward
        if filters.due:
            read_undated = False  # no due date: neither overdue nor due soon
        order = ((Application.decision_due.desc(), Application.id.desc()) if backward
                 else (Application.decision_due.asc(), Application.id.asc()))
        if read_dated:
            parts.append(select(*_COLUMNS).where(*dated).order_by(*order).limit(limit))
        if read_undated:
            parts.append(select(*_COLUMNS).where(*undated)
                         .order_by(Application.id.desc() if backward else Application.id)
                         .limit(limit))
    return parts


def _read(scope: Scope, filters: Filters, cursor: Cursor | None, limit: int) -> list[QueueRow]:
    """Up to ``limit`` rows next to ``cursor`` (nearest first when reading backwards)."""
    parts = _subqueries(scope, filters, cursor, limit)
    if not parts:
        return []
    backward = cursor is not None and cursor.direction == BEFORE
    if len(parts) == 1:
        statement = parts[0]
    else:
        # PostgreSQL: ``(SELECT ... LIMIT n) UNION ALL (...) ORDER BY ... LIMIT n``, each
        # part an index range read in order. SQLite allows no LIMIT in a part of a UNION,
        # so there each is wrapped in a subquery.
        if db.session.get_bind().dialect.name == "sqlite":
            parts = [select(part.subquery()) for part in parts]
        due, row_id = literal_column("decision_due"), literal_column("id")
        order = ((due.desc().nulls_first(), row_id.desc()) if backward
                 else (due.asc().nulls_last(), row_id.asc()))
        statement = union_all(*parts).order_by(*order).limit(limit)
    return [
        QueueRow(**row._asdict(), waiting=scope.is_waiting(row.service, row.state),
                 overdue=scope.is_overdue(row.service, row.state, row.decision_due))
        for row in db.session.execute(statement)
    ]


def fetch_page(scope: Scope, filters: Filters, cursor: Cursor | None = None,
               page_size: int = PAGE_SIZE) -> Page:
    """One page of the queue in due-date order (undated last), next to ``cursor``."""
    if cursor is not None and cursor.direction == BEFORE:
        rows = _read(scope, filters, cursor, page_size + 1)
        if len(rows) <= page_size:  # back at the start: show a full first page
            return fetch_page(scope, filters, None, page_size)
        rows = list(reversed(rows[:page_size]))
        return Page(rows, next=_cursor(AFTER, rows[-1]), previous=_cursor(BEFORE, rows[0]))
    rows = _read(scope, filters, cursor, page_size + 1)
    more = len(rows) > page_size
    rows = rows[:page_size]
    page = Page(rows)
    if more:
        page.next = _cursor(AFTER, rows[-1])
    if cursor is not None:
        page.previous = (_cursor(BEFORE, rows[0]) if rows
                         else Cursor(BEFORE, cursor.due, cursor.id))
    return page


def _cursor(direction: str, row: QueueRow) -> Cursor:
    return Cursor(direction, row.decision_due, row.id)


def count_matching(scope: Scope, filters: Filters, limit: int = EXPORT_LIMIT) -> int:
    """How many rows match, counting no further than ``limit``."""
    parts = _subqueries(scope, filters, None, limit)
    if not parts:
        return 0
    merged = union_all(*(select(part.subquery().c.id) for part in parts)).subquery()
    return min(db.session.scalar(select(func.count()).select_from(merged)) or 0, limit)


@dataclass(frozen=True)
class Counts:
    open: int = 0
    mine: int = 0
    unassigned: int = 0
    overdue: int = 0
    due_soon: int = 0
    waiting: int = 0


def counts(scope: Scope, service: str | None = None, days: int = DEFAULT_DUE_DAYS) -> Counts:
    """The department's open work counted per filter, in one aggregate query (it reads
    the open cases only, so it costs what the backlog is, whatever the history)."""
    branches = _branches(scope, Filters(service=service))
    if not branches:
        return Counts()
    services = {name for names in branches.values() for name in names}
    waiting = sorted(set().union(*(scope.workflows[name].waiting for name in services)))
    where = [Application.department == scope.department,
             Application.state.in_(list(branches))]
    if any(_service_condition(scope, names) for names in branches.values()):
        # A state open in one service may be final in another: check the pair.
        where.append(or_(*(and_(Application.state == state, *_service_condition(scope, names))
                           for state, names in branches.items())))
    clock_runs = Application.state.not_in(waiting)
    statement = select(
        func.count(),
        func.count().filter(Application.assigned_to_id == scope.user_id),
        func.count().filter(Application.assigned_to_id.is_(None)),
        func.count().filter(and_(Application.decision_due < scope.today, clock_runs)),
        func.count().filter(and_(Application.decision_due.between(
            scope.today, scope.today + timedelta(days=days)), clock_runs)),
        func.count().filter(Application.state.in_(waiting)),
    ).where(*where)
    return Counts(*db.session.execute(statement).one())

"""The service contract: what a plugin declares, checked when it is loaded.

A ``ServiceDefinition`` names the service and carries its parts: form steps, a
``Workflow`` (states, transitions, who may act), a fee rule and the pledged processing
time. Everything is validated at load time, so a mistake in a plugin disables that plugin
with a clear reason instead of failing later in front of a citizen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

#: Who can take an action: the applicant, a staff role, or the platform itself.
ACTORS = frozenset({"citizen", "officer", "supervisor", "department_admin", "system"})
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
CURRENCY = "HKD"

#: Topics of the catalogue; a service's ``category`` is one of these codes.
TOPICS: dict[str, Any] = {
    "transport": _l("Transport and driving"),
    "records": _l("Births, deaths and marriages"),
    "payments": _l("Bills, tax and payments"),
    "immigration": _l("Identity, travel and immigration"),
    "health": _l("Health"),
    "housing": _l("Housing and land"),
    "business": _l("Business and trade"),
    "education": _l("Education and training"),
    "environment": _l("Environment and animals"),
    "community": _l("Community, sport and culture"),
}

#: Names of states and actions the core knows; a service names its own others.
STATE_LABELS: dict[str, Any] = {
    "awaiting_payment": _l("Awaiting payment"),
    "received": _l("Received"),
    "under_review": _l("Being processed"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
    "paid": _l("Paid"),
    "completed": _l("Completed"),
    "lapsed": _l("Closed: not paid"),
    "awaiting_information": _l("More information needed"),
}
ACTION_LABELS: dict[str, Any] = {
    "withdraw": _l("Withdraw application"),
    "payment_received": _l("Payment received"),
    "approve": _l("Approve"),
    "reject": _l("Reject"),
    "start_review": _l("Start processing"),
    "lapse": _l("Closed because the fee was not paid in time"),
    #: Not a move: recorded on the timeline when staff refund money (the state stays).
    "refunded": _l("Refunded"),
    "request_information": _l("Ask for more information"),
    "information_provided": _l("More information sent"),
    #: Not moves: staff-only timeline entries of who handles the case.
    "refund_declined": _l("Refund declined"),
    "claimed": _l("Claimed"),
    "assigned": _l("Assigned"),
}
#: How the timeline names what was done (the buttons above name what to do).
EVENT_LABELS: dict[str, Any] = {
    "approve": _l("Approved"),
    "reject": _l("Rejected"),
    "withdraw": _l("Withdrawn"),
    "request_information": _l("More information requested"),
    "start_review": _l("Processing started"),
}
#: A service that takes payment before processing starts here, and leaves by this action.
AWAITING_PAYMENT = "awaiting_payment"
PAYMENT_RECEIVED = "payment_received"
#: An application left unpaid for ``UNPAID_APPLICATION_DAYS`` is closed by the system
#: with this action, when its workflow has the move (the built-in workflows do), so that
#: what it holds (a bill's one open payment, an exclusive key) is free again.
LAPSE = "lapse"
LAPSED = "lapsed"
#: Staff ask the citizen for more: the case waits in this state (the pledge's clock is
#: paused) until the citizen answers with ``INFORMATION_PROVIDED``.
AWAITING_INFORMATION = "awaiting_information"
REQUEST_INFORMATION = "request_information"
INFORMATION_PROVIDED = "information_provided"


class InvalidService(ValueError):
    """A service definition breaks the contract; the message says how."""


class IllegalTransition(Exception):
    """No transition from ``state`` by ``action`` (for this actor)."""

    def __init__(self, state: str, action: str, actor: str | None = None) -> None:
        self.state, self.action, self.actor = state, action, actor
        who = f" by {actor}" if actor else ""
        super().__init__(f"cannot {action!r} from {state!r}{who}")


@dataclass(frozen=True)
class Transition:
    source: str
    action: str
    target: str
    #: Who may take it: "citizen", staff roles, or "system".
    actors: frozenset[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "actors", frozenset(self.actors))


@dataclass(frozen=True)
class Workflow:
    """States and the moves between them. ``next_state`` is the one transition function."""

    states: tuple[str, ...]
    initial: str
    terminal: frozenset[str]
    transitions: tuple[Transition, ...]
    #: States in which the department waits for the citizen: the pledge's clock stops
    #: while the case is in one, and the due date moves on by the working days it waited.
    waiting: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", tuple(self.states))
        object.__setattr__(self, "terminal", frozenset(self.terminal))
        object.__setattr__(self, "transitions", tuple(self.transitions))
        object.__setattr__(self, "waiting", frozenset(self.waiting))
        self.check()

    def check(self) -> None:
        known = set(self.states)
        if len(known) != len(self.states):
            raise InvalidService("workflow states must be unique")
        if self.initial not in known:
            raise InvalidService(f"initial state {self.initial!r} is not a state")
        if self.initial in self.terminal:
            raise InvalidService("the initial state cannot be terminal")
        if not self.terminal or not self.terminal <= known:
            raise InvalidService("terminal states must be some of the states")
        if not self.waiting <= known or self.waiting & self.terminal:
            raise InvalidService("waiting states must be states that are not terminal")
        seen: set[tuple[str, str]] = set()
        for move in self.transitions:
            if move.source not in known or move.target not in known:
                raise InvalidService(f"transition {move.action!r} uses an unknown state")
            if move.source in self.terminal:
                raise InvalidService(f"terminal state {move.source!r} cannot change")
            if not move.actors or not move.actors <= ACTORS:
                raise InvalidService(f"transition {move.action!r} has unknown actors")
            if (move.source, move.action) in seen:
                raise InvalidService(f"two transitions for {move.action!r} from {move.source!r}")
            seen.add((move.source, move.action))
        reachable = {self.initial}
        frontier = [self.initial]
        while frontier:
            state = frontier.pop()
            for move in self.transitions:
                if move.source == state and move.target not in reachable:
                    reachable.add(move.target)
                    frontier.append(move.target)
        if not self.terminal & reachable:
            raise InvalidService("no terminal state can be reached from the initial state")
        unreachable = known - reachable
        if unreachable:
            raise InvalidService(f"states never reached: {', '.join(sorted(unreachable))}")

    def next_state(self, state: str, action: str, actor: str) -> str:
        """The state after ``actor`` takes ``action`` in ``state``; raises if not allowed."""
        for move in self.transitions:
            if move.source == state and move.action == action:
                if actor not in move.actors:
                    raise IllegalTransition(state, action, actor)
                return move.target
        raise IllegalTransition(state, action)

    def actions(self, state: str, actor: str) -> list[str]:
        """What ``actor`` may do in ``state``, in declaration order."""
        return [m.action for m in self.transitions if m.source == state and actor in m.actors]


#: The usual way of a fee-charging application: paid, then decided by an officer or a
#: supervisor; the citizen may withdraw until it is decided. Services that follow it use
#: this one workflow instead of writing it out again.
PAY_THEN_DECIDE = Workflow(
    states=(AWAITING_PAYMENT, "received", AWAITING_INFORMATION, "approved", "rejected",
            "withdrawn", LAPSED),
    initial=AWAITING_PAYMENT,
    terminal=frozenset({"approved", "rejected", "withdrawn", LAPSED}),
    waiting=frozenset({AWAITING_INFORMATION}),
    transitions=(
        Transition(AWAITING_PAYMENT, PAYMENT_RECEIVED, "received", {"system"}),
        Transition(AWAITING_PAYMENT, "withdraw", "withdrawn", {"citizen"}),
        Transition(AWAITING_PAYMENT, LAPSE, LAPSED, {"system"}),
        Transition("received", "withdraw", "withdrawn", {"citizen"}),
        Transition("received", "approve", "approved", {"officer", "supervisor"}),
        Transition("received", "reject", "rejected", {"officer", "supervisor"}),
        Transition("received", REQUEST_INFORMATION, AWAITING_INFORMATION,
                   {"officer", "supervisor"}),
        Transition(AWAITING_INFORMATION, INFORMATION_PROVIDED, "received", {"citizen"}),
        Transition(AWAITING_INFORMATION, "withdraw", "withdrawn", {"citizen"}),
        Transition(AWAITING_INFORMATION, "reject", "rejected", {"officer", "supervisor"}),
    ),
)


@dataclass(frozen=True)
class Fee:
    """An amount in integer minor units (cents) of HKD. Never a float."""

    amount: int
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidService("a fee is an integer number of cents")
        if self.amount < 0:
            raise InvalidService("a fee cannot be negative")
        if self.currency != CURRENCY:
            raise InvalidService("fees are in HKD")


@dataclass(frozen=True)
class Step:
    """One page of questions: a form class, shown when ``condition(answers)`` is true."""

    name: str
    #: The page heading, and the heading of this step's answers on check your answers.
    title: Any
    form: type
    #: Shown only when this returns true for the answers given so far (field name -> value).
    condition: Callable[[Mapping[str, Any]], bool] | None = None

    def __post_init__(self) -> None:
        from portal.forms import PortalForm

        if not NAME_PATTERN.match(self.name):
            raise InvalidService(f"step name {self.name!r} must be lower_snake_case")
        if not str(self.title).strip():
            raise InvalidService(f"step {self.name!r} needs a title")
        if not (isinstance(self.form, type) and issubclass(self.form, PortalForm)):
            raise InvalidService(f"step {self.name!r}: form must subclass toolkit.ServiceForm")

    def fields(self) -> list[str]:
        """Names of the questions of this step, in order (the CSRF token is not one)."""
        return _declared_fields(self.form)


def _declared_fields(form_class: type) -> list[str]:
    from wtforms.fields.core import UnboundField

    found = [
        (value.creation_counter, name)
        for name in dir(form_class)
        if not name.startswith("_") and isinstance(value := getattr(form_class, name), UnboundField)
    ]
    return [name for _counter, name in sorted(found)]


def _no_fee(_answers: Mapping[str, Any]) -> Fee:
    return Fee(0)


DOCUMENT_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,19}$")
DOCUMENT_TEMPLATE_PATTERN = re.compile(r"^[a-z0-9_][a-z0-9_-]*(/[a-z0-9_][a-z0-9_-]*)*\.html$")


@dataclass(frozen=True)
class DocumentSpec:
    """A document the service issues when an application is approved (a renewed licence):
    numbered in its own series, signed, rendered in English and Chinese, and verifiable
    like a receipt (see docs/plugins.md and docs/receipts.md)."""

    #: ``licence``: names it in the application's documents and in its signed payload.
    name: str
    #: What it is, printed as its heading and shown by the verify page (lazy text).
    title: Any
    #: Code of its number series: ``LIC`` numbers ``TD/LIC/2026-27/000001``.
    series: str
    #: The last day it is valid, from the answers and the first day (the day of approval,
    #: Hong Kong time); ``None`` (or no function): valid with no end date.
    validity: Callable[[Mapping[str, Any], date], date | None] | None = None
    #: Extra lines printed on it: ``(label, value)`` pairs from the answers (lazy labels).
    facts: Callable[[Mapping[str, Any]], Sequence[tuple[Any, Any]]] | None = None
    #: Its own page in the service's ``templates/<service>/`` folder, extending
    #: ``receipts/issued_document.html``; ``None``: the core's page.
    template: str | None = None

    def __post_init__(self) -> None:
        if not DOCUMENT_NAME_PATTERN.match(self.name or ""):
            raise InvalidService(
                f"document name {self.name!r} must be 2-20 lower-case letters, digits or _")
        if not str(self.title).strip():
            raise InvalidService(f"document {self.name!r} needs a title")
        if not re.fullmatch(r"[A-Z]{2,8}", self.series or "") or self.series == "CN":
            raise InvalidService(f"document {self.name!r}: series must be 2-8 capital "
                                 "letters like LIC (CN is the credit notes')")
        for what in ("validity", "facts"):
            if getattr(self, what) is not None and not callable(getattr(self, what)):
                raise InvalidService(f"document {self.name!r}: {what} must be a function")
        if self.template is not None and (
                ".." in self.template or not DOCUMENT_TEMPLATE_PATTERN.match(self.template)):
            raise InvalidService(f"document {self.name!r}: template must be a file name "
                                 "like licence.html in the service's template folder")


@dataclass(frozen=True)
class ServiceDefinition:
    """An e-service, as a plugin declares it through ``register_services``."""

    #: Entry-point name; also the gettext domain, template folder and table prefix.
    name: str
    title: Any
    summary: Any
    #: Code of the department that runs it, e.g. ``TD``.
    department: str
    #: A topic code from ``TOPICS`` (the catalogue groups services by it).
    category: str
    workflow: Workflow
    steps: tuple[Step, ...] = ()
    #: The fee for these answers (field name -> value), fixed at submission.
    fees: Callable[[Mapping[str, Any]], Fee] = _no_fee
    #: Whether the citizen pays before the department starts (the workflow then starts
    #: in ``awaiting_payment`` and the platform leaves it by ``payment_received``).
    pay_before_processing: bool = True
    #: Processing time pledged, in Hong Kong working days.
    pledge_working_days: int = 10
    #: Answers filled in from the citizen's profile (field name -> value) when they start.
    prefill: Callable[[Any], Mapping[str, Any]] | None = None
    #: For the start page: who can use the service, what they need, what it costs.
    eligibility: Any = ""
    requirements: tuple[Any, ...] = ()
    fee_summary: Any = None
    #: Extra words people search with (both languages are searched).
    keywords: tuple[Any, ...] = ()
    #: At most one open application per key of the answers (a bill number, a licence
    #: number), per citizen unless ``exclusive_across_citizens``; ``None`` from it, or no
    #: function, allows any number.
    exclusive_key: Callable[[Mapping[str, Any]], str | None] | None = None
    #: Whether the key is held across citizens (one open payment of a bill, whoever pays)
    #: rather than per citizen (one open renewal of my licence).
    exclusive_across_citizens: bool = False
    #: Names of the service's own states and actions (the core names the common ones).
    state_labels: Mapping[str, Any] = field(default_factory=dict)
    action_labels: Mapping[str, Any] = field(default_factory=dict)
    #: What it issues when an application is approved (``DocumentSpec``; none by default).
    documents: tuple[DocumentSpec, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "documents", tuple(self.documents))
        if not all(isinstance(d, DocumentSpec) for d in self.documents):
            raise InvalidService(f"service {self.name!r}: documents must be DocumentSpec")
        if len({d.name for d in self.documents}) != len(self.documents):
            raise InvalidService(f"service {self.name!r}: document names must be unique")
        object.__setattr__(self, "requirements", tuple(self.requirements))
        object.__setattr__(self, "keywords", tuple(self.keywords))
        if not NAME_PATTERN.match(self.name or ""):
            raise InvalidService(
                f"service name {self.name!r} must be 2-40 lower-case letters, digits or _"
            )
        if not str(self.title).strip() or not str(self.summary).strip():
            raise InvalidService(f"service {self.name!r} needs a title and a summary")
        if not re.fullmatch(r"[A-Z]{2,16}", self.department or ""):
            raise InvalidService(f"service {self.name!r}: department must be a code like TD")
        if self.category not in TOPICS:
            raise InvalidService(
                f"service {self.name!r}: category must be one of {', '.join(sorted(TOPICS))}"
            )
        if not isinstance(self.workflow, Workflow):
            raise InvalidService(f"service {self.name!r}: workflow must be a Workflow")
        if not self.steps:
            raise InvalidService(f"service {self.name!r} needs at least one step")
        names = [step.name for step in self.steps]
        if len(names) != len(set(names)):
            raise InvalidService(f"service {self.name!r}: step names must be unique")
        questions = [question for step in self.steps for question in step.fields()]
        if "answers" in questions:
            raise InvalidService(f"service {self.name!r}: 'answers' is reserved, not a field name")
        if len(questions) != len(set(questions)):
            raise InvalidService(f"service {self.name!r}: field names must be unique across steps")
        if not isinstance(self.pledge_working_days, int) or self.pledge_working_days < 1:
            raise InvalidService(f"service {self.name!r}: pledge must be a positive integer")
        if not callable(self.fees):
            raise InvalidService(f"service {self.name!r}: fees must be a function of the answers")
        if self.exclusive_key is not None and not callable(self.exclusive_key):
            raise InvalidService(f"service {self.name!r}: exclusive_key must be a function")
        if self.prefill is not None and not callable(self.prefill):
            raise InvalidService(f"service {self.name!r}: prefill must be a function of the user")
        if self.pay_before_processing and self.workflow.initial == AWAITING_PAYMENT:
            pay = [m for m in self.workflow.transitions
                   if m.source == AWAITING_PAYMENT and m.action == PAYMENT_RECEIVED]
            if not pay or "system" not in pay[0].actors:
                raise InvalidService(
                    f"service {self.name!r}: {AWAITING_PAYMENT!r} needs a "
                    f"{PAYMENT_RECEIVED!r} transition taken by 'system'"
                )
        unnamed = [s for s in self.workflow.states
                   if s not in self.state_labels and s not in STATE_LABELS]
        if unnamed:
            raise InvalidService(
                f"service {self.name!r}: states without a label: {', '.join(unnamed)}"
            )
        actions = {m.action for m in self.workflow.transitions}
        unnamed = sorted(
            a for a in actions if a not in self.action_labels and a not in ACTION_LABELS
        )
        if unnamed:
            raise InvalidService(
                f"service {self.name!r}: actions without a label: {', '.join(unnamed)}"
            )

    def state_label(self, state: str) -> Any:
        return self.state_labels.get(state) or STATE_LABELS.get(state, state)

    def action_label(self, action: str) -> Any:
        return self.action_labels.get(action) or ACTION_LABELS.get(action, action)

    def step(self, name: str) -> Step | None:
        return next((step for step in self.steps if step.name == name), None)

"""The service contract: what a plugin declares, checked when it is loaded.

A ``ServiceDefinition`` names the service and carries its parts: form steps, a
``Workflow`` (states, transitions, who may act), a fee rule and the pledged processing
time. Everything is validated at load time, so a mistake in a plugin disables that plugin
with a clear reason instead of failing later in front of a citizen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Who can take an action: the applicant, a staff role, or the platform itself.
ACTORS = frozenset({"citizen", "officer", "supervisor", "department_admin", "system"})
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
CURRENCY = "HKD"


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", tuple(self.states))
        object.__setattr__(self, "terminal", frozenset(self.terminal))
        object.__setattr__(self, "transitions", tuple(self.transitions))
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
    form: type
    condition: Callable[[Mapping[str, Any]], bool] | None = None

    def __post_init__(self) -> None:
        from portal.forms import PortalForm

        if not NAME_PATTERN.match(self.name):
            raise InvalidService(f"step name {self.name!r} must be lower_snake_case")
        if not (isinstance(self.form, type) and issubclass(self.form, PortalForm)):
            raise InvalidService(f"step {self.name!r}: form must subclass toolkit.ServiceForm")


def _no_fee(_answers: Mapping[str, Any]) -> Fee:
    return Fee(0)


@dataclass(frozen=True)
class ServiceDefinition:
    """An e-service, as a plugin declares it through ``register_services``."""

    name: str
    title: Any
    summary: Any
    department: str
    category: str
    workflow: Workflow
    steps: tuple[Step, ...] = ()
    fees: Callable[[Mapping[str, Any]], Fee] = _no_fee
    pay_before_processing: bool = True
    #: Processing time pledged, in Hong Kong working days.
    pledge_working_days: int = 10
    prefill: Callable[[Any], Mapping[str, Any]] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not NAME_PATTERN.match(self.name or ""):
            raise InvalidService(
                f"service name {self.name!r} must be 2-40 lower-case letters, digits or _"
            )
        if not str(self.title).strip() or not str(self.summary).strip():
            raise InvalidService(f"service {self.name!r} needs a title and a summary")
        if not re.fullmatch(r"[A-Z]{2,16}", self.department or ""):
            raise InvalidService(f"service {self.name!r}: department must be a code like TD")
        if not isinstance(self.workflow, Workflow):
            raise InvalidService(f"service {self.name!r}: workflow must be a Workflow")
        names = [step.name for step in self.steps]
        if len(names) != len(set(names)):
            raise InvalidService(f"service {self.name!r}: step names must be unique")
        if not isinstance(self.pledge_working_days, int) or self.pledge_working_days < 1:
            raise InvalidService(f"service {self.name!r}: pledge must be a positive integer")
        if not callable(self.fees):
            raise InvalidService(f"service {self.name!r}: fees must be a function of the answers")

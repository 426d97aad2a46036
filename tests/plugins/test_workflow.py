"""The workflow: one transition function that raises on an illegal move, table-tested."""

from __future__ import annotations

import pytest

from portal.plugins.service import ACTORS
from portal.toolkit import (
    PAY_THEN_DECIDE,
    Fee,
    IllegalTransition,
    InvalidService,
    Transition,
    Workflow,
)

RENEWAL = Workflow(
    states=("awaiting_payment", "submitted", "in_review", "info_requested", "approved",
            "rejected", "withdrawn"),
    initial="awaiting_payment",
    terminal=frozenset({"approved", "rejected", "withdrawn"}),
    transitions=(
        Transition("awaiting_payment", "pay", "submitted", {"system"}),
        Transition("awaiting_payment", "withdraw", "withdrawn", {"citizen"}),
        Transition("submitted", "claim", "in_review", {"officer", "supervisor"}),
        Transition("submitted", "withdraw", "withdrawn", {"citizen"}),
        Transition("in_review", "request_info", "info_requested", {"officer"}),
        Transition("info_requested", "answer", "in_review", {"citizen"}),
        Transition("in_review", "approve", "approved", {"officer", "supervisor"}),
        Transition("in_review", "reject", "rejected", {"officer", "supervisor"}),
    ),
)

ALLOWED = [
    ("awaiting_payment", "pay", "system", "submitted"),
    ("awaiting_payment", "withdraw", "citizen", "withdrawn"),
    ("submitted", "claim", "officer", "in_review"),
    ("submitted", "claim", "supervisor", "in_review"),
    ("submitted", "withdraw", "citizen", "withdrawn"),
    ("in_review", "request_info", "officer", "info_requested"),
    ("info_requested", "answer", "citizen", "in_review"),
    ("in_review", "approve", "officer", "approved"),
    ("in_review", "approve", "supervisor", "approved"),
    ("in_review", "reject", "officer", "rejected"),
    ("in_review", "reject", "supervisor", "rejected"),
]


@pytest.mark.parametrize(("state", "action", "actor", "target"), ALLOWED)
def test_allowed_moves(state, action, actor, target):
    assert RENEWAL.next_state(state, action, actor) == target


def _every_illegal_move():
    allowed = {(s, a, who) for s, a, who, _ in ALLOWED}
    actions = {t.action for t in RENEWAL.transitions}
    actors = ("citizen", "officer", "supervisor", "department_admin", "system")
    for state in RENEWAL.states:
        for action in sorted(actions):
            for actor in actors:
                if (state, action, actor) not in allowed:
                    yield state, action, actor


@pytest.mark.parametrize(("state", "action", "actor"), list(_every_illegal_move()))
def test_every_other_move_raises(state, action, actor):
    with pytest.raises(IllegalTransition):
        RENEWAL.next_state(state, action, actor)


@pytest.mark.parametrize("state", ["approved", "rejected", "withdrawn"])
def test_a_final_state_offers_nothing(state):
    for actor in ("citizen", "officer", "supervisor", "system"):
        assert RENEWAL.actions(state, actor) == []


def test_actions_are_listed_per_actor():
    assert RENEWAL.actions("in_review", "officer") == ["request_info", "approve", "reject"]
    assert RENEWAL.actions("in_review", "citizen") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial": "nowhere"}, "initial state"),
        ({"terminal": frozenset()}, "terminal states"),
        ({"transitions": (Transition("a", "go", "z", {"citizen"}),)}, "unknown state"),
        ({"transitions": (Transition("a", "go", "b", {"citizen"}),
                          Transition("b", "undo", "a", {"citizen"}),
                          Transition("c", "x", "a", {"citizen"}))}, "cannot change"),
        ({"transitions": (Transition("a", "go", "b", {"robot"}),)}, "unknown actors"),
        ({"transitions": (Transition("a", "go", "b", {"citizen"}),
                          Transition("a", "go", "c", {"citizen"}))}, "two transitions"),
        ({"transitions": (Transition("a", "go", "b", {"citizen"}),)}, "no terminal state"),
        ({"transitions": (Transition("a", "go", "c", {"citizen"}),)}, "never reached"),
    ],
)
def test_inconsistent_workflows_are_refused(kwargs, message):
    base = {"states": ("a", "b", "c"), "initial": "a", "terminal": frozenset({"c"}),
            "transitions": (Transition("a", "go", "b", {"citizen"}),
                            Transition("b", "finish", "c", {"officer"}))}
    with pytest.raises(InvalidService, match=message):
        Workflow(**{**base, **kwargs})


@pytest.mark.parametrize("amount", [9.0, "900", True, -1])
def test_fees_are_non_negative_integer_cents(amount):
    with pytest.raises(InvalidService):
        Fee(amount)  # type: ignore[arg-type]


def test_a_fee_in_cents():
    assert Fee(90000).amount == 90000
    with pytest.raises(InvalidService):
        Fee(100, currency="USD")


# --- the core's PAY_THEN_DECIDE, shared by the licence renewal and the birth record ------

PAY_THEN_DECIDE_MOVES = {
    ("awaiting_payment", "payment_received"): ("received", {"system"}),
    ("awaiting_payment", "withdraw"): ("withdrawn", {"citizen"}),
    ("received", "withdraw"): ("withdrawn", {"citizen"}),
    ("received", "approve"): ("approved", {"officer", "supervisor"}),
    ("received", "reject"): ("rejected", {"officer", "supervisor"}),
    ("awaiting_payment", "lapse"): ("lapsed", {"system"}),
    ("received", "request_information"): ("awaiting_information", {"officer", "supervisor"}),
    ("awaiting_information", "information_provided"): ("received", {"citizen"}),
    ("awaiting_information", "withdraw"): ("withdrawn", {"citizen"}),
    ("awaiting_information", "reject"): ("rejected", {"officer", "supervisor"}),
}
PAY_THEN_DECIDE_ACTIONS = sorted(
    {action for _state, action in PAY_THEN_DECIDE_MOVES} | {"start_review"}
)


@pytest.mark.parametrize("state", PAY_THEN_DECIDE.states)
@pytest.mark.parametrize("action", PAY_THEN_DECIDE_ACTIONS)
@pytest.mark.parametrize("actor", sorted(ACTORS))
def test_pay_then_decide_allows_exactly_the_listed_moves(state, action, actor):
    target, actors = PAY_THEN_DECIDE_MOVES.get((state, action), (None, set()))
    if actor in actors:
        assert PAY_THEN_DECIDE.next_state(state, action, actor) == target
    else:
        with pytest.raises(IllegalTransition):
            PAY_THEN_DECIDE.next_state(state, action, actor)

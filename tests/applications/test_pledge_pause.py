"""The pledge's clock stops while the department waits for the citizen, and the due date
moves on by the Hong Kong working days it waited."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from portal.applications import engine
from portal.applications.models import Application
from portal.applications.util import add_working_days, working_days_between
from portal.extensions import db
from portal.plugins.service import PAY_THEN_DECIDE, InvalidService, Transition, Workflow

HKT_MORNING = 2  # 10:00 in Hong Kong is 02:00 UTC


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, HKT_MORNING, tzinfo=UTC)


@pytest.mark.parametrize(("start", "end", "expected"), [
    (date(2026, 11, 23), date(2026, 11, 23), 0),  # the same day: nothing waited
    (date(2026, 11, 23), date(2026, 11, 20), 0),  # backwards: nothing
    (date(2026, 11, 20), date(2026, 11, 23), 1),  # Friday to Monday: one working day
    (date(2026, 12, 24), date(2026, 12, 29), 2),  # Christmas Day; Boxing Day is a Saturday
    (date(2026, 9, 30), date(2026, 10, 2), 1),    # National Day on the 1st
])
def test_working_days_between_counts_hong_kong_working_days(start, end, expected):
    assert working_days_between(start, end) == expected
    if expected:
        assert add_working_days(start, expected) <= end


@pytest.fixture
def waiting_case(app, create_user, monkeypatch):
    """A received licence-style application, due 10 Dec 2026, with its definition."""
    from portal.plugins.manager import services

    definition = services(app).active["licence_renewal"]
    user = create_user()
    application = Application(
        reference="ABCD-EFGH-J", user_id=user.id, service=definition.name,
        department=definition.department, state="received", answers={}, fee_amount=0,
        locale="en", decision_due=date(2026, 12, 10))
    db.session.add(application)
    db.session.commit()
    return application, definition


def test_asking_for_information_stops_the_clock_and_the_reply_moves_the_due_date(
        waiting_case, monkeypatch):
    application, definition = waiting_case
    monkeypatch.setattr(engine, "utcnow", lambda: _at(date(2026, 11, 20)))  # a Friday
    engine.transition(application, "request_information", actor_role="officer",
                      definition=definition)
    assert application.state == "awaiting_information"
    assert application.waiting_since == _at(date(2026, 11, 20))
    assert application.decision_due == date(2026, 12, 10)  # unchanged while waiting

    # The citizen answers the next Wednesday: three working days waited (Mon, Tue, Wed).
    monkeypatch.setattr(engine, "utcnow", lambda: _at(date(2026, 11, 25)))
    engine.transition(application, "information_provided", actor_role="citizen",
                      definition=definition)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Application, application.id)
    assert stored.state == "received"
    assert stored.waiting_since is None
    assert stored.decision_due == add_working_days(date(2026, 12, 10), 3) == date(2026, 12, 15)


def test_an_answer_on_the_same_day_leaves_the_due_date(waiting_case, monkeypatch):
    application, definition = waiting_case
    monkeypatch.setattr(engine, "utcnow", lambda: _at(date(2026, 11, 23)))
    engine.transition(application, "request_information", actor_role="officer",
                      definition=definition)
    engine.transition(application, "information_provided", actor_role="citizen",
                      definition=definition)
    assert application.decision_due == date(2026, 12, 10)


def test_a_decision_while_waiting_records_when_and_clears_the_pause(waiting_case):
    application, definition = waiting_case
    engine.transition(application, "request_information", actor_role="officer",
                      definition=definition)
    engine.transition(application, "reject", actor_role="officer", definition=definition)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Application, application.id)
    assert stored.state == "rejected"
    assert stored.decided_at is not None
    assert stored.waiting_since is None


def test_only_staff_ask_and_only_the_citizen_answers():
    with pytest.raises(engine.IllegalTransition):
        PAY_THEN_DECIDE.next_state("received", "request_information", "citizen")
    with pytest.raises(engine.IllegalTransition):
        PAY_THEN_DECIDE.next_state("awaiting_information", "information_provided", "officer")


@pytest.mark.parametrize("waiting", [{"nowhere"}, {"done"}])
def test_waiting_states_must_be_states_that_are_not_final(waiting):
    with pytest.raises(InvalidService, match="waiting states"):
        Workflow(states=("open", "done"), initial="open", terminal=frozenset({"done"}),
                 transitions=(Transition("open", "finish", "done", {"officer"}),),
                 waiting=frozenset(waiting))

"""References people can read aloud, and Hong Kong working days."""

from __future__ import annotations

from datetime import date

import pytest

from portal.applications.util import (
    REFERENCE_ALPHABET,
    add_working_days,
    is_working_day,
    new_reference,
    normalise_reference,
)


def test_references_avoid_characters_that_are_easily_confused():
    for _ in range(200):
        reference = new_reference()
        assert not set(reference.replace("-", "")) & set("0O1IL")
        assert set(reference.replace("-", "")) <= set(REFERENCE_ALPHABET)


def test_a_typed_reference_is_forgiven_case_and_spacing_but_not_a_wrong_character():
    reference = new_reference()
    assert normalise_reference(reference.lower().replace("-", " ")) == reference
    body = reference.replace("-", "")
    changed = REFERENCE_ALPHABET[(REFERENCE_ALPHABET.index(body[3]) + 1) % 31]
    assert normalise_reference(body[:3] + changed + body[4:]) is None
    assert normalise_reference("0000-0000-0") is None


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 11, 24), True),    # a Tuesday
    (date(2026, 11, 28), False),   # Saturday
    (date(2026, 12, 25), False),   # Christmas Day
    (date(2026, 4, 3), False),     # Good Friday
    (date(2026, 4, 4), False),     # the day following Good Friday
    (date(2025, 4, 21), False),    # Easter Monday
    (date(2026, 10, 1), False),    # National Day
])
def test_working_days_skip_weekends_and_every_general_holiday(day, working):
    assert is_working_day(day) is working


def test_adding_working_days_steps_over_easter():
    # Easter 2026 meets Ching Ming: Good Friday 3 April, the day after it, Sunday 5, Easter
    # Monday 6 and the day after 7 April are all holidays.
    assert add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 8)
    assert add_working_days(date(2026, 11, 23), 5) == date(2026, 11, 30)

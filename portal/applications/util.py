"""References people can read aloud, and Hong Kong working days."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from functools import lru_cache

import holidays

#: No 0/O, 1/I/L: nothing that can be mistaken for another character when read or heard.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _check_character(body: str) -> str:
    total = sum((index + 2) * REFERENCE_ALPHABET.index(char) for index, char in enumerate(body))
    return REFERENCE_ALPHABET[total % len(REFERENCE_ALPHABET)]


def new_reference() -> str:
    """``K7MX-4P9Q-R``: eight random characters (31**8 ≈ 8.5e11) and a check character
    that catches any single mistyped character."""
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{body[:4]}-{body[4:]}-{_check_character(body)}"


def normalise_reference(text: str) -> str | None:
    """A typed reference in canonical form (case, spaces, dashes forgiven), or None."""
    compact = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(compact) != 9 or any(ch not in REFERENCE_ALPHABET for ch in compact):
        return None
    body, check = compact[:8], compact[8]
    if _check_character(body) != check:
        return None
    return f"{body[:4]}-{body[4:]}-{check}"


@lru_cache(maxsize=8)
def _hong_kong_holidays(year: int) -> holidays.HolidayBase:
    # Government offices close on every general holiday. The library files some of them
    # (Good Friday, the day after it, Easter Monday) under "optional", not "public".
    return holidays.country_holidays("HK", years=year, categories=("public", "optional"))


def is_working_day(day: date) -> bool:
    """Monday to Friday, not a Hong Kong general holiday."""
    return day.weekday() < 5 and day not in _hong_kong_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` Hong Kong working days after ``start`` (the start day not counted)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if ``end`` is not later)."""
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count

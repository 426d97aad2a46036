"""Test card numbers and the checks a card form makes.

| number | outcome |
| --- | --- |
| 4242 4242 4242 4242 | succeeded |
| 4000 0000 0000 0002 | declined (failed) |
| 4000 0000 0000 3220 | a challenge step (like 3-D Secure): approve or fail it |
| any other number passing the Luhn check | declined |
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000002"
CHALLENGE = "4000000000003220"

#: The test numbers, spaced as printed, for the page's list.
TEST_CARDS = (
    ("4242 4242 4242 4242", "succeeds"),
    ("4000 0000 0000 0002", "declined"),
    ("4000 0000 0000 3220", "challenge"),
)

#: What a card number leads to.
OUTCOME_SUCCEEDED = "succeeded"
OUTCOME_DECLINED = "declined"
OUTCOME_CHALLENGE = "challenge"

_SEPARATORS = re.compile(r"[\s\-]+")
_DIGITS = re.compile(r"[0-9]+")
_EXPIRY = re.compile(r"(\d{1,2})\s*/\s*(\d{2}|\d{4})")


def digits_only(value: Any) -> Any:
    """Full-width digits made plain; spaces and hyphens between digits dropped."""
    if not isinstance(value, str):
        return value
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", value))


def luhn_valid(number: str) -> bool:
    if not _DIGITS.fullmatch(number or ""):
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def valid_card_number(number: str) -> bool:
    return 12 <= len(number) <= 19 and luhn_valid(number)


def parse_expiry(value: str) -> tuple[int, int] | None:
    """``MM/YY`` (or ``MM/YYYY``) as (year, month); None if it is not one."""
    match = _EXPIRY.fullmatch(unicodedata.normalize("NFKC", value or "").strip())
    if not match:
        return None
    month, year = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return None
    if year < 100:
        year += 2000
    return year, month


def expired(year: int, month: int, today: date) -> bool:
    """A card is valid to the end of its expiry month."""
    return (year, month) < (today.year, today.month)


def outcome(number: str) -> str:
    if number == SUCCEEDS:
        return OUTCOME_SUCCEEDED
    if number == CHALLENGE:
        return OUTCOME_CHALLENGE
    return OUTCOME_DECLINED

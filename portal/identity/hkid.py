"""Hong Kong Identity Card numbers: validation, normal form and masking."""

from __future__ import annotations

import re

_PATTERN = re.compile(r"^([A-Z]{1,2})([0-9]{6})\(?([0-9A])\)?$")


class InvalidHKID(ValueError):
    """Not an HKID: ``reason`` is ``"format"`` or ``"check"`` (wrong check character)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _letter_value(letter: str) -> int:
    return ord(letter) - ord("A") + 10


def check_character(prefix: str, digits: str) -> str:
    """The check character for a prefix of one or two letters and six digits.

    A one-letter prefix is padded in front with a space worth 36; weights run from 9 down
    to 2 over the eight characters; check = 11 - (sum mod 11), with 10 written ``A`` and
    11 written ``0``.
    """
    values = [36] if len(prefix) == 1 else []
    values += [_letter_value(ch) for ch in prefix]
    values += [int(d) for d in digits]
    total = sum(value * weight for value, weight in zip(values, range(9, 1, -1), strict=True))
    check = 11 - total % 11
    return {10: "A", 11: "0"}.get(check, str(check))


def normalise_hkid(raw: str) -> str:
    """Return the stored form ``A123456(3)`` or raise :class:`InvalidHKID`.

    Accepts lower case, spaces and missing brackets.
    """
    compact = re.sub(r"\s+", "", raw or "").upper()
    match = _PATTERN.match(compact)
    if not match:
        raise InvalidHKID("format")
    prefix, digits, check = match.groups()
    if check_character(prefix, digits) != check:
        raise InvalidHKID("check")
    return f"{prefix}{digits}({check})"


def mask_hkid(hkid: str) -> str:
    """``A123456(3)`` becomes ``A123***(*)``: enough to recognise, not to use."""
    match = _PATTERN.match(hkid)
    if not match:
        return "****"
    prefix, digits, _check = match.groups()
    return f"{prefix}{digits[:3]}***(*)"

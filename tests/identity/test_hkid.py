"""HKID check characters as QUALITY.md lists them."""

from __future__ import annotations

import pytest

from portal.identity.hkid import InvalidHKID, mask_hkid, normalise_hkid


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("A123456(3)", "A123456(3)"),
        ("A123458(A)", "A123458(A)"),
        ("A123466(0)", "A123466(0)"),
        ("CA182361(1)", "CA182361(1)"),
        ("AB123456(9)", "AB123456(9)"),
        ("a123456(3)", "A123456(3)"),
        ("A 123456 3", "A123456(3)"),
        ("a1234563", "A123456(3)"),
        ("a123458a", "A123458(A)"),
    ],
)
def test_valid_numbers_are_stored_in_one_form(raw, stored):
    assert normalise_hkid(raw) == stored


@pytest.mark.parametrize("raw", ["A123456(9)", "123456(3)", "", "ABC123456(1)", "A12345(3)", "A123456(B)"])
def test_invalid_numbers_are_refused(raw):
    with pytest.raises(InvalidHKID):
        normalise_hkid(raw)


def test_masking_keeps_only_the_start():
    assert mask_hkid("A123456(3)") == "A123***(*)"
    assert mask_hkid("CA182361(1)") == "CA182***(*)"

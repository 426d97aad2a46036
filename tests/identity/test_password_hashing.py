"""Passwords are hashed with argon2id at its standard cost; only the tests may lower it."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from portal import create_app
from portal.identity.passwords import HASHERS, hash_password, needs_rehash, verify_password


def test_the_standard_profile_is_argon2id_at_rfc_9106_low_memory_cost():
    standard = HASHERS["standard"]
    assert standard.type is Type.ID
    assert (standard.time_cost, standard.memory_cost, standard.parallelism) == (3, 65536, 4)
    assert standard.hash("a long enough password").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize("environment", ["production", "development", "staging"])
def test_no_environment_but_the_tests_may_lower_the_cost(environment, tmp_path):
    with pytest.raises(RuntimeError, match="PASSWORD_HASHING"):
        create_app({"ENVIRONMENT": environment, "PASSWORD_HASHING": "fast-for-tests",
                    "SECRET_KEY": "x" * 32, "INSTANCE_PATH": str(tmp_path)})


def test_an_unknown_profile_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="PASSWORD_HASHING"):
        create_app({"ENVIRONMENT": "testing", "PASSWORD_HASHING": "md5",
                    "SECRET_KEY": "x" * 32, "INSTANCE_PATH": str(tmp_path)})


def test_a_cheap_hash_is_upgraded_under_the_standard_profile(app, monkeypatch):
    cheap = hash_password("correct horse battery staple")
    assert verify_password(cheap, "correct horse battery staple")
    assert not needs_rehash(cheap)  # the tests' own profile
    monkeypatch.setitem(app.config, "PASSWORD_HASHING", "standard")
    assert verify_password(cheap, "correct horse battery staple")
    assert needs_rehash(cheap)
    assert not needs_rehash(PasswordHasher().hash("x"))

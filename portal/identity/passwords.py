"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128

#: ``PASSWORD_HASHING`` names one of these. "standard" is argon2-cffi's default: argon2id
#: with RFC 9106's low-memory profile (about 0.1 s a hash, on purpose). "fast-for-tests"
#: exists only so the test suite does not spend minutes hashing; the app refuses it
#: outside ``ENVIRONMENT="testing"``, and a hash made with it is upgraded by
#: ``needs_rehash`` at the next sign-in under the standard profile.
HASHERS = {
    "standard": PasswordHasher(),
    "fast-for-tests": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}
_dummy_hashes: dict[str, str] = {}


def _hasher() -> PasswordHasher:
    from flask import current_app, has_app_context

    name = current_app.config.get("PASSWORD_HASHING", "standard") if has_app_context() \
        else "standard"
    return HASHERS[name]


def _dummy_hash(hasher: PasswordHasher) -> str:
    # Verified against when the email is unknown, so a wrong email costs as long as a
    # wrong password and timing does not tell which accounts exist.
    key = f"{hasher.time_cost}:{hasher.memory_cost}:{hasher.parallelism}"
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hasher.hash("not-a-real-password-used-for-timing")
    return _dummy_hashes[key]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    hasher = _hasher()
    try:
        return hasher.verify(stored_hash or _dummy_hash(hasher), password) \
            and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)


def password_problem(password: str, related: list[str] | None = None) -> str | None:
    """Why a new password is refused, as a key: ``too_short``, ``too_long``, ``common``.

    "Common" means guessable in under a million tries by zxcvbn's estimate, which knows
    the 30,000 most used passwords, keyboard patterns, dates and the person's own details.
    """
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    lowered = password.lower()
    for value in related or []:
        value = value.lower().strip()
        local = value.split("@", 1)[0]
        if value and (lowered == value or (len(local) >= 4 and local in lowered
                                           and len(local) * 2 >= len(lowered))):
            return "common"
    inputs = [part for value in (related or []) for part in value.replace("@", " ").split() if part]
    if zxcvbn(password[:100], user_inputs=inputs)["score"] < 2:
        return "common"
    return None

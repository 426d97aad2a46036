"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile.
_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong email costs as long as a wrong
# password and timing does not tell which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


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

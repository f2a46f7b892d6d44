"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lms.lib.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 256
# A few of the most used passwords long enough to pass the length rule; the rest of the policy is length.
COMMON_PASSWORDS = frozenset(
    {
        "password1234",
        "123456789012",
        "qwertyuiopas",
        "passwordpassword",
        "iloveyou1234",
        "administrator",
        "welcome12345",
        "changeme1234",
        "letmein12345",
        "qwerty123456",
    }
)

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Verifying against this keeps the time of "no such user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("not a real password, only a timing decoy")


def check_password_policy(password: str, email: str, field: str = "password") -> None:
    """Raise ValidationFailed naming `field` when the password is too weak."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(f"the password needs at least {MIN_LENGTH} characters", field=field)
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(f"the password may have at most {MAX_LENGTH} characters", field=field)
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        raise ValidationFailed("this password is too easy to guess", field=field)
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        raise ValidationFailed("the password must not contain your e-mail address", field=field)


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await anyio.to_thread.run_sync(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored or _DUMMY_HASH, password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; a missing hash costs the same time and is False."""
    return await anyio.to_thread.run_sync(_verify, stored, password)

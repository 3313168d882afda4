"""Password hashing (argon2id), one-time passwords and the password policy."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults follow RFC 9106's second recommendation (argon2id, 64 MiB, t=3).
_HASHER = PasswordHasher()
# A valid hash of a random secret: unknown usernames are checked against it, so a sign-in
# attempt takes as long whether or not the user exists.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_LENGTH = 12


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Return whether ``password`` matches ``password_hash`` (``None``: compare to a dummy)."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """Return a random password to print once; its user must change it at first sign-in."""
    return secrets.token_urlsafe(12)


def policy_problem(password: str, username: str) -> str | None:
    """Return why ``password`` is not acceptable, or ``None`` when it is."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if username.lower() in password.lower():
        return "a password must not contain the user name"
    return None

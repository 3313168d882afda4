"""Password hashing (argon2id), one-time passwords and the password policy."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from security.throttle import hash_slot, password_check
from settings import get_settings

MIN_LENGTH = 12


@cache
def _hasher() -> PasswordHasher:
    """The hasher of the configured profile (``WATCHFLOOR_PASSWORD_HASH_PROFILE``)."""
    return PasswordHasher.from_parameters(getattr(profiles, get_settings().password_hash_profile))


@cache
def _dummy_hash() -> str:
    # A valid hash of a random secret: unknown usernames are checked against it, so a sign-in
    # attempt takes as long whether or not the user exists.
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password`` (holding one of the request's hash slots)."""
    with hash_slot():
        return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Return whether ``password`` matches ``password_hash`` (``None``: compare to a dummy).

    In a request the check must first be admitted by the client address's limit and then wait
    for a hash slot (:mod:`security.throttle`); either may raise
    :class:`~security.throttle.Refused` before anything is hashed. A wrong password counts
    against the address.
    """
    with password_check() as check:
        try:
            ok = _hasher().verify(password_hash or _dummy_hash(), password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            check.failed()
    return bool(ok)


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

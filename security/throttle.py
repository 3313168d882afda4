"""The guard in front of every password hash: a per-address limit and a bound on concurrent hashes.

Notes
-----
:func:`security.passwords.verify_password` runs inside :func:`password_check` and
:func:`security.passwords.hash_password` inside :func:`hash_slot`, so every password a request
checks (the sign-in form, HTTP Basic on any route, the password form) goes through the same
rules without its route doing anything:

- **Per address**: at most ``WATCHFLOOR_SIGNIN_RATE_PER_MINUTE`` failed checks per client
  address in a moving one-minute window, kept in the sign-in limiter's storage (Redis when
  ``WATCHFLOOR_REDIS_URL`` is set, so every worker and host shares one count). Once the window
  is full every check from the address, right password or not, is refused with
  :class:`Refused` (429) *before* the hash: it costs no CPU, tells nothing and is not audited.
  Only failures count, so a GIS client sending correct Basic credentials on each of its many
  requests is never throttled, while guessing is.
- **Per process**: at most ``WATCHFLOOR_PASSWORD_HASH_SLOTS`` hashes run at once; a request
  waits up to ``WATCHFLOOR_PASSWORD_HASH_WAIT_S`` for a slot, then gets :class:`Refused` (503).

Both answer with ``Retry-After``. Outside a request (the command line, jobs) nothing is limited.
Concurrent checks from one address admitted at the same instant may each fail once past the
limit: the overshoot is bounded by the hash slots.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItemPerMinute

from settings import Settings

EXTENSION = "watchfloor-password-guard"
BUSY_RETRY_S = 1


class Refused(Exception):
    """A password check refused before hashing: ``status`` 429 (address limit) or 503 (busy)."""

    def __init__(self, status: int, retry_after_s: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s
        self.message = message


class PasswordGuard:
    """One app's per-address limit on password checks and its bound on concurrent hashes.

    Parameters
    ----------
    limiter
        The app's sign-in limiter: its storage (memory or Redis) keeps the counts.
    scope
        The key prefix, so two deployments sharing one Redis count separately.
    settings
        Rate per minute, hash slots and the wait for a slot.
    """

    def __init__(self, limiter: Limiter, scope: str, settings: Settings) -> None:
        self._limiter = limiter
        self._scope = scope
        self._item = RateLimitItemPerMinute(settings.signin_rate_per_minute)
        self._slots = threading.BoundedSemaphore(settings.password_hash_slots)
        self._wait_s = settings.password_hash_wait_s

    def admit(self, address: str) -> None:
        """Raise :class:`Refused` (429) when ``address`` has no failed check left this minute."""
        strategy = self._limiter.limiter
        keys = (self._scope, address, "password")
        if strategy.test(self._item, *keys):
            return
        reset_at = strategy.get_window_stats(self._item, *keys).reset_time
        wait_s = max(1, math.ceil(reset_at - time.time()))
        raise Refused(429, wait_s, "Too many attempts; wait a minute.")

    def failed(self, address: str) -> None:
        """Count one failed password check from ``address``."""
        self._limiter.limiter.hit(self._item, self._scope, address, "password")

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one hash slot; raise :class:`Refused` (503) when none frees up in time."""
        if not self._slots.acquire(timeout=self._wait_s):
            raise Refused(503, BUSY_RETRY_S, "Sign-in is busy; try again in a moment.")
        try:
            yield
        finally:
            self._slots.release()


def install(server: flask.Flask, limiter: Limiter, scope: str, settings: Settings) -> None:
    """Give ``server`` its :class:`PasswordGuard`."""
    server.extensions[EXTENSION] = PasswordGuard(limiter, scope, settings)


def _guard() -> PasswordGuard | None:
    if not flask.has_request_context():
        return None
    return flask.current_app.extensions.get(EXTENSION)


class Check:
    """One password check of a request: call :meth:`failed` when the password was wrong."""

    def __init__(self, guard: PasswordGuard | None, address: str) -> None:
        self._guard = guard
        self._address = address

    def failed(self) -> None:
        """Count the failure against the request's address."""
        if self._guard is not None:
            self._guard.failed(self._address)


@contextmanager
def password_check() -> Iterator[Check]:
    """Admit this request's password check (address limit), then hold a hash slot."""
    guard = _guard()
    if guard is None:
        yield Check(None, "")
        return
    address = get_remote_address()
    guard.admit(address)
    with guard.slot():
        yield Check(guard, address)


def hash_slot() -> AbstractContextManager[None]:
    """Hold a hash slot of this request's app (hashing a new password: not an attempt)."""
    guard = _guard()
    return nullcontext() if guard is None else guard.slot()

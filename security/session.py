"""Who is asking, for the request being served, and the server-side record of their session.

Flask-Login keeps a session token in Flask's signed session cookie; :mod:`security.web` loads
the user on each request. Callers only ever call :func:`current_viewer`; the command line runs
as ``Viewer.system()``.

Notes
-----
The token is ``"<user id>.<auth epoch>.<secret>"``. The secret names one row of
``user_sessions`` (by its SHA-256: a copy of the database opens no session), opened at sign-in
and closed once by sign-out, idle time, the absolute lifetime or a revoked epoch. A closed row
ends the session for every copy of its cookie, wherever it was captured; the absolute lifetime
counts from the row's ``created_at``, which no cookie can move. Bumping the epoch (password
change, reset, disable) ends every session of the user at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import NamedTuple

import flask_login
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.exceptions import Unauthorized

from domain.roles import Viewer
from settings import Settings
from store.base import utcnow
from store.models import User, UserSession


@dataclass(frozen=True)
class SignedInUser(flask_login.UserMixin):  # type: ignore[misc]  # untyped base
    """The signed-in user of one request, detached from the database session.

    ``token`` is what the cookie holds (see the module notes); ``started_at`` is the session's
    sign-in time in seconds since the epoch, from the server's record.
    """

    token: str
    viewer: Viewer
    must_change_password: bool
    started_at: float

    def get_id(self) -> str:
        """Return what Flask-Login stores in the session."""
        return self.token


class Token(NamedTuple):
    """A session token taken apart: the user, their auth epoch, and the session row's id."""

    user_id: int
    epoch: int
    session_id: str


def parse_token(token: str | None) -> Token | None:
    """Return the parts of a session token, or ``None`` when it is not one.

    Examples
    --------
    >>> parse_token("7.2.abc").user_id, parse_token("7.2.abc").epoch
    (7, 2)
    >>> parse_token("7.2") is None  # a token from before server-side sessions
    True
    """
    user_id, _, rest = (token or "").partition(".")
    epoch, _, secret = rest.partition(".")
    if not (user_id.isdigit() and epoch.isdigit() and secret):
        return None
    return Token(int(user_id), int(epoch), _session_id(secret))


def _session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def open_session(*, session: Session, user: User) -> str:
    """Record a new session of ``user`` and return its token for the cookie."""
    secret = secrets.token_urlsafe(32)
    session.add(UserSession(id=_session_id(secret), user_id=user.id, created_at=utcnow()))
    session.flush()
    return f"{user.id}.{user.auth_epoch}.{secret}"


def close_session(*, session: Session, token: str | None, reason: str) -> User | None:
    """Close the open session named by ``token``; return its user, or ``None`` if none was open.

    One ``UPDATE ... RETURNING`` on a row still open: of concurrent requests carrying the same
    cookie exactly one closes it, so each session's end is recorded once.
    """
    parts = parse_token(token)
    if parts is None:
        return None
    closed = session.execute(
        update(UserSession)
        .where(UserSession.id == parts.session_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .returning(UserSession.user_id)
        .execution_options(synchronize_session=False)
    ).first()
    if closed is None:
        return None
    return session.execute(select(User).where(User.id == closed.user_id)).scalar_one_or_none()


def expiry(*, started_at: float, seen_at: float, now: float, settings: Settings) -> str | None:
    """Return why a session has ended by time (``"lifetime"``, ``"idle"``), or ``None``.

    Parameters
    ----------
    started_at
        Sign-in time (seconds since the epoch, the server's record).
    seen_at
        The session's last request as its idle clock kept it (seconds since the epoch).
    now
        The current time (seconds since the epoch).
    settings
        ``session_max_hours`` and ``session_idle_minutes``.

    Examples
    --------
    >>> s = Settings(session_max_hours=12, session_idle_minutes=30)
    >>> expiry(started_at=0, seen_at=0, now=29 * 60, settings=s) is None
    True
    >>> expiry(started_at=0, seen_at=0, now=31 * 60, settings=s)
    'idle'
    >>> expiry(started_at=0, seen_at=12 * 3600, now=12 * 3600 + 1, settings=s)
    'lifetime'
    """
    if now - started_at > settings.session_max_hours * 3600:
        return "lifetime"
    if now - seen_at > settings.session_idle_minutes * 60:
        return "idle"
    return None


def current_viewer(settings: Settings | None = None) -> Viewer:
    """Return the viewer of the current request; raise 401 when nobody is signed in."""
    user = flask_login.current_user
    if user is None or not user.is_authenticated:
        raise Unauthorized("sign-in required")
    return user.viewer  # type: ignore[no-any-return]

"""Who is calling a read API: a partner key (Bearer) or a user's name and password (Basic).

Notes
-----
- ``Authorization: Bearer KEY`` (a key from ``manage.py apikeys create AGENCY``) reads as a
  **partner viewer of the key's agency**: partner visibility (TLP:CLEAR/GREEN plus the agency's
  own reports), read-only. A key is an agency's machine account for exactly the rows its agency
  may see, so it may also export them (see README, "Export API and OGC API - Features").
- ``Authorization: Basic user:password`` goes through :func:`security.users.authenticate`, so
  failed attempts count towards the lockout and every attempt is audited; the user reads with
  their own role and agency and needs the EXPORT capability (command staff and analysts). The
  password check shares the sign-in form's per-address limit and the bound on concurrent hashes
  (:mod:`security.throttle`): past either the answer is 429 or 503 with ``Retry-After``, before
  anything is hashed.
- Anything else is 401 with a ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import ApiError
from domain.roles import Role, Viewer
from rules.capabilities import Capability, can
from security.apikeys import agency_for_key, bearer_token
from security.audit import record
from security.users import authenticate, viewer_of
from settings import Settings
from store.engine import session_scope


@dataclass(frozen=True)
class Caller:
    """An authenticated API caller: the viewer every query takes, and how it signed in."""

    viewer: Viewer
    via_key: bool


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """Return ``(user, password)`` of an ``Authorization: Basic ...`` value, else ``None``.

    Examples
    --------
    >>> basic_credentials("Basic " + base64.b64encode(b"ana:s3cret:x").decode())
    ('ana', 's3cret:x')
    >>> basic_credentials("Bearer abc") is None
    True
    """
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep and user else None


def identify(
    *, session: Session, engine: Engine, settings: Settings, authorization: str | None
) -> Caller:
    """Return the caller of a request from its ``Authorization`` header, or raise 401.

    Parameters
    ----------
    session
        The request's session (API key lookups).
    engine
        Where a Basic sign-in is checked: ``authenticate`` counts the attempt and audits it in
        its own transactions (an atomic ``UPDATE ... RETURNING``), so a refusal still counts.
    settings
        Lockout attempts and minutes.
    authorization
        The raw header value.
    """
    token = bearer_token(authorization)
    if token is not None:
        agency = agency_for_key(session=session, key=token)
        if agency is None:
            raise ApiError(401, "the API key is not valid (revoked or mistyped)")
        prefix = token.split("_", 2)[1]
        return Caller(Viewer(f"apikey:{prefix}", Role.PARTNER, agency), via_key=True)
    creds = basic_credentials(authorization)
    if creds is None:
        raise ApiError(401, "send Authorization: Bearer KEY (partner key) or Basic user:password")
    outcome = authenticate(
        engine=engine,
        username=creds[0],
        password=creds[1],
        max_attempts=settings.lockout_attempts,
        lockout=timedelta(minutes=settings.lockout_minutes),
    )
    if outcome.user is None:
        raise ApiError(401, "user name or password not accepted")
    if outcome.user.must_change_password:
        raise ApiError(403, "change the one-time password in the dashboard first")
    return Caller(viewer_of(outcome.user), via_key=False)


def require_export(*, session: Session, caller: Caller, what: str) -> None:
    """Raise 403 unless ``caller`` may take data out (EXPORT, or a partner key); audit a refusal."""
    if caller.via_key or can(caller.viewer, Capability.EXPORT):
        return
    record(
        session=session,
        viewer=caller.viewer,
        action="access.denied",
        object=what,
        outcome="denied",
        details={"needs": str(Capability.EXPORT)},
    )
    raise ApiError(403, f"{caller.viewer.role} may not export")


def authorize(
    *, engine: Engine, settings: Settings, authorization: str | None, what: str
) -> Caller:
    """Identify the caller and check it may read ``what`` out; raise 401/403 as :class:`ApiError`.

    The sign-in attempt (failure counts, lockout) and a refusal's audit entry commit even when
    the request is refused: the error is raised only after the session has committed.
    """
    refused: ApiError | None = None
    with session_scope(engine) as session:
        try:
            caller = identify(
                session=session, engine=engine, settings=settings, authorization=authorization
            )
            require_export(session=session, caller=caller, what=what)
        except ApiError as exc:
            refused = exc
    if refused is not None:
        raise refused
    return caller

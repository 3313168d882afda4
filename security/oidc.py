"""Optional OpenID Connect sign-in (Authlib) for agencies with their own identity provider.

Notes
-----
Configured by ``WATCHFLOOR_OIDC_ISSUER``, ``_CLIENT_ID`` and ``_CLIENT_SECRET``; without an issuer
nothing is registered. The provider proves who the person is (authorization code flow, state and
nonce checked, the ID token's signature, issuer, audience and expiry verified by Authlib against
the provider's published keys); what they may do stays local: the claim
``WATCHFLOOR_OIDC_USERNAME_CLAIM`` must name an existing, enabled, unlocked Watchfloor user, whose
role and agency apply. Every attempt is audited as a ``signin`` with ``{"method": "oidc"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from sqlalchemy import Engine

from domain.roles import Role, Viewer
from security.audit import record
from security.users import get_user, viewer_of
from settings import Settings
from store.base import utcnow
from store.engine import session_scope
from store.models import User

ENDPOINTS = frozenset({"oidc.start", "oidc.callback"})


def sign_in_external(*, engine: Engine, username: str, issuer: str) -> tuple[User | None, str]:
    """Return the local user an identity provider vouched for (or ``None``, and why); audited."""
    now = utcnow()
    with session_scope(engine) as session:
        user = get_user(session=session, username=username) if username else None
        reason = ""
        if user is None:
            reason = "unknown user"
        elif user.disabled:
            reason = "disabled"
        elif user.locked_until is not None and user.locked_until > now:
            reason = "locked"
        else:
            user.last_sign_in_at = now
        actor = viewer_of(user) if user else Viewer(username[:64], Role.PARTNER, agency="")
        details = {"method": "oidc", "issuer": issuer}
        record(
            session=session,
            viewer=actor,
            action="signin",
            object=username[:256],
            outcome="denied" if reason else "ok",
            details={**details, "reason": reason} if reason else details,
        )
    return (None if reason else user), reason


def blueprint(
    server: flask.Flask,
    settings: Settings,
    engine: Engine,
    start_session: Callable[[User], None],
    failed: Callable[[str], Any],
) -> flask.Blueprint | None:
    """Return the OIDC sign-in routes, or ``None`` when no issuer is configured."""
    if not settings.oidc_issuer:
        return None
    issuer = settings.oidc_issuer.rstrip("/")
    oauth = OAuth(server)
    client = oauth.register(
        "idp",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email"},
    )
    bp = flask.Blueprint("oidc", __name__)

    @bp.route("/login/oidc")
    def start() -> Any:
        callback = flask.url_for("oidc.callback", _external=True)
        return client.authorize_redirect(callback)

    @bp.route("/login/oidc/callback")
    def callback() -> Any:
        try:
            token = client.authorize_access_token()
        except (AuthlibBaseError, KeyError, ValueError) as exc:
            with session_scope(engine) as session:
                record(
                    session=session,
                    viewer=Viewer("(oidc)", Role.PARTNER, agency=""),
                    action="signin",
                    outcome="denied",
                    details={"method": "oidc", "issuer": issuer, "reason": type(exc).__name__},
                )
            return failed("The identity provider's answer could not be verified.")
        claims = token.get("userinfo") or {}
        username = str(claims.get(settings.oidc_username_claim) or "")
        user, _ = sign_in_external(engine=engine, username=username, issuer=issuer)
        if user is None:
            return failed("Sign-in failed: no usable Watchfloor account for this identity.")
        start_session(user)
        return flask.redirect("/")

    return bp

"""Server-side guards for every request: sign-in gate, idle timeout, CSRF, rate limit, headers.

Notes
-----
- Every path but the sign-in page, its stylesheet, ``/healthz``, ``/api/*`` and ``/ogc*`` needs a
  signed-in user: pages redirect to ``/login``, Dash's JSON routes and everything else get 401.
  ``/api/*`` and ``/ogc*`` routes check their own credentials (API keys, HTTP Basic; issues #3,
  #7) and never use the session cookie.
- Sessions (issue #18): the cookie names a server-side session row (:mod:`security.session`).
  The gate ends a session after ``WATCHFLOOR_SESSION_IDLE_MINUTES`` without a request or
  ``WATCHFLOOR_SESSION_MAX_HOURS`` after sign-in, and records the end (``signout``, reason
  ``idle``, ``lifetime`` or ``revoked``) once per session when its cookie next arrives.
- Password checks: every one a request makes (sign-in form, HTTP Basic, password form) is
  limited per client address and bounded per process by :mod:`security.throttle`; a refusal
  answers 429/503 with ``Retry-After``.
- CSRF: the sign-in and password forms carry a per-session token; every state-changing request
  (POST, PUT, PATCH, DELETE), Dash's ``/_dash-update-component`` included, must come from this
  origin (``Origin``, else ``Referer``). The session cookie is ``SameSite=Lax`` and Dash posts
  ``application/json``, which no cross-site form can send without a CORS preflight.
- The Content-Security-Policy allows scripts from this server and the hashes of Dash's inline
  scripts only; styles may be inline (React and Plotly set style attributes); MapLibre's workers
  are ``blob:`` URLs.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlparse

import flask
import flask_login
from dash import Dash
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from security import throttle
from security.session import SignedInUser, expiry
from settings import PLACEHOLDER_SECRET, Settings
from store.engine import get_engine

logger = logging.getLogger(__name__)
# The idle clock's resolution: a session ends between idle_minutes - 1 and idle_minutes after
# its last request, and its cookie is re-signed at most once a minute.
SEEN_EVERY_S = 60
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Routes that authenticate every request themselves (API keys, HTTP Basic) and never use the
# session cookie: the partner and export APIs, and OGC API - Features for GIS clients.
SELF_AUTH_PREFIXES = ("/api/", "/ogc")
PUBLIC_ENDPOINTS = frozenset({"signin.login", "signin.static", "healthz", "livez", "readyz"})
# Paths whose answers are static code or styles: cacheable; everything else is no-store, so the
# back button after sign-out asks the server again (and gets the sign-in page).
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/", "/signin-static/")


def signin_limiter(server: flask.Flask, settings: Settings) -> Limiter:
    """Return the Flask-Limiter extension for ``server`` that rate-limits sign-in attempts.

    With ``WATCHFLOOR_REDIS_URL`` the counts live in Redis, so the limit holds across gunicorn
    workers and hosts; without it they are in this process's memory. Keys carry a digest of the
    database URL: two deployments sharing one Redis count separately. When Redis cannot be
    reached sign-in fails (500) rather than going unlimited. Every password check of a request
    is counted here too, by :mod:`security.throttle`.
    """
    scope = limiter_scope(settings)
    limiter = Limiter(
        key_func=get_remote_address,
        app=server,
        storage_uri=settings.redis_url or "memory://",
        strategy="moving-window",
        key_prefix=scope,
        default_limits=[],
    )
    throttle.install(server, limiter, scope, settings)
    return limiter


def limiter_scope(settings: Settings) -> str:
    """Return the key prefix of this deployment's sign-in counts (a digest of its database)."""
    return "watchfloor-signin-" + hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]


def refused(exc: throttle.Refused) -> flask.Response:
    """Answer a password check refused before hashing (429 or 503, with ``Retry-After``)."""
    resp = flask.make_response(flask.jsonify(error=exc.message, code=exc.status), exc.status)
    resp.headers["Retry-After"] = str(exc.retry_after_s)
    return resp


def csrf_token() -> str:
    """Return this session's CSRF token, creating it on first use."""
    if "csrf" not in flask.session:
        flask.session["csrf"] = secrets.token_urlsafe(32)
    return str(flask.session["csrf"])


def csrf_ok() -> bool:
    """Return whether the submitted form carries this session's CSRF token."""
    sent = flask.request.form.get("csrf_token", "")
    return bool(sent) and secrets.compare_digest(sent, flask.session.get("csrf", ""))


def same_origin() -> bool:
    """Return whether a browser request comes from this site (no header: not a browser form)."""
    source = flask.request.headers.get("Origin") or flask.request.headers.get("Referer")
    if not source or source == "null":
        return source is None
    return urlparse(source).netloc == flask.request.host


def wants_json() -> bool:
    """Return whether the request is a script's (JSON, Dash) rather than a page load."""
    req = flask.request
    if req.path.startswith("/_") or req.is_json:
        return True
    accept = req.accept_mimetypes
    return accept.best_match(["text/html", "application/json"]) == "application/json"


def unauthorized(note: str | None = None) -> flask.Response:
    """Answer a request that needs a signed-in user: 401 for scripts, the sign-in page else.

    ``note="idle"`` makes the sign-in page say that the session ended.
    """
    if wants_json():
        return flask.make_response(flask.jsonify(error="sign-in required"), 401)
    nxt = flask.request.full_path.rstrip("?") if flask.request.method == "GET" else "/"
    # flask.redirect makes the app's response class; make_response hands that same object back,
    # typed as flask's Response (the stubs type redirect with werkzeug's base class).
    return flask.make_response(flask.redirect(flask.url_for("signin.login", next=nxt, note=note)))


def content_security_policy(dash_app: Dash, settings: Settings) -> str:
    """Return the CSP header value for this app (tile and style servers are allowed too)."""
    extra = " ".join(
        sorted(
            {
                f"{u.scheme}://{u.netloc}"
                for u in (urlparse(settings.tile_url or ""), urlparse(settings.map_style))
                if u.scheme in ("http", "https") and u.netloc
            }
        )
    )
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *dash_app.csp_hashes()]),
        "style-src": "'self' 'unsafe-inline'",
        "img-src": f"'self' data: blob: {extra}".strip(),
        "connect-src": f"'self' {extra}".strip(),
        "font-src": "'self' data:",
        "worker-src": "'self' blob:",
        "child-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{k} {v}" for k, v in directives.items())


def install(dash_app: Dash, settings: Settings) -> None:
    """Configure sessions, Flask-Login, the sign-in pages and the guards on ``dash_app``."""
    from security import oidc, signin

    server = dash_app.server
    secure = settings.cookie_secure
    if settings.env == "production" and settings.secret_key in ("", PLACEHOLDER_SECRET):
        raise RuntimeError("WATCHFLOOR_SECRET_KEY must be set to a real secret in production")
    secret = settings.secret_key
    if secret in ("", PLACEHOLDER_SECRET):
        # The placeholder is public: outside production sign sessions with a per-process key
        # instead (sessions end when the process restarts).
        logger.warning("WATCHFLOOR_SECRET_KEY is not set: sessions use a per-process key")
        secret = secrets.token_hex(32)
    server.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="watchfloor_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == "production" if secure is None else secure,
        # The cookie outlives the idle limit on purpose: the server decides when a session
        # ends (idle, lifetime, sign-out), and a cookie that still arrives after its session
        # ended lets the gate record that end (issue #18) instead of the browser dropping it.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        # The cookie is written when the session changes: the idle clock below moves once a
        # minute, so a page polling every few seconds does not re-sign its cookie each time.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    manager = flask_login.LoginManager()
    manager.session_protection = "basic"
    manager.init_app(server)
    engine = get_engine(settings.database_url, settings.spatialite_path)

    @manager.user_loader  # type: ignore[untyped-decorator]  # flask_login is not annotated
    def _load(token: str) -> SignedInUser | None:
        return signin.load_user(engine, token)

    limiter = signin_limiter(server, settings)
    server.register_error_handler(throttle.Refused, refused)  # Basic on /api and /ogc
    server.register_blueprint(signin.blueprint(settings, engine))
    external = oidc.blueprint(
        server, settings, engine, partial(signin.start_session, engine), signin.failed_page
    )
    if external is not None:
        server.register_blueprint(external)
        # The identity provider's routes answer without a session, limited like the form.
        limiter.limit(f"{settings.signin_rate_per_minute}/minute")(external)
    csp: dict[str, str] = {}

    @server.before_request
    def _gate() -> Any:
        req = flask.request
        if req.url_rule is not None and req.url_rule.rule.startswith(SELF_AUTH_PREFIXES):
            return None  # API keys or Basic, checked by the API's own routes (not Dash's catch-all)
        if req.method in STATE_CHANGING and not same_origin():
            return flask.make_response(flask.jsonify(error="cross-origin request refused"), 403)
        if req.endpoint in PUBLIC_ENDPOINTS or req.endpoint in oidc.ENDPOINTS:
            return None
        user = flask_login.current_user
        if not user.is_authenticated:
            if flask.session.get(signin.TOKEN_KEY):
                # A session that no longer loads: signed out (already recorded) or its epoch
                # bumped elsewhere (password, reset, disable): close and record it once.
                signin.end_session(engine, reason="revoked")
                return unauthorized(note="idle")
            return unauthorized()
        now = time.time()
        seen = float(flask.session.get("seen", 0))
        ended = expiry(started_at=user.started_at, seen_at=seen, now=now, settings=settings)
        if ended is not None:
            signin.end_session(engine, reason=ended)
            return unauthorized(note="idle")
        if now - seen >= SEEN_EVERY_S:
            flask.session["seen"] = now
        if user.must_change_password and req.endpoint not in signin.PASSWORD_ENDPOINTS:
            if wants_json():
                return flask.make_response(flask.jsonify(error="password change required"), 403)
            return flask.redirect(flask.url_for("signin.password"))
        return None

    @server.after_request
    def _headers(resp: flask.Response) -> flask.Response:
        if "csp" not in csp:  # after every callback is registered
            csp["csp"] = content_security_policy(dash_app, settings)
        resp.headers["Content-Security-Policy"] = csp["csp"]
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" makes Origin "null"
        resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        resp.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if not flask.request.path.startswith(STATIC_PREFIXES):
            resp.headers["Cache-Control"] = "no-store"
        return resp

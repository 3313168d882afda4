"""The sign-in, sign-out and password pages, and the administrators' audit log pages."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import flask
import flask_login
from sqlalchemy import Engine, select

from domain.roles import Role, Viewer
from rules.capabilities import Capability, require
from security import audit
from security.session import (
    SignedInUser,
    close_session,
    current_viewer,
    open_session,
    parse_token,
)
from security.throttle import Refused
from security.users import authenticate, change_password, get_user, viewer_of
from security.web import csrf_ok, csrf_token
from settings import Settings
from store.engine import session_scope
from store.models import User, UserSession

PASSWORD_ENDPOINTS = frozenset({"signin.password", "signin.logout", "signin.static"})
# Where Flask-Login keeps the session token (SignedInUser.get_id) in the session cookie.
TOKEN_KEY = "_user_id"
AUDIT_PAGE_ROWS = 500
AUDIT_HEADERS = {
    "id": "Id",
    "at": "Time (UTC)",
    "username": "User",
    "agency": "Agency",
    "action": "Action",
    "object": "Object",
    "outcome": "Outcome",
    "details": "Details",
}


def load_user(engine: Engine, token: str) -> SignedInUser | None:
    """Return the signed-in user for a session token, or ``None`` when it no longer holds.

    It holds while its session row is open and the user is enabled with the same auth epoch;
    idle time and the absolute lifetime are the gate's to judge (:mod:`security.web`).
    """
    parts = parse_token(token)
    if parts is None:
        return None
    # Every request of a signed-in page asks: one read-only read of the user and the session
    # row (no ORM object, no write lock on SQLite), and no cache, so signing out, disabling a
    # user or a new password ends sessions at once.
    columns = (User.username, User.role, User.agency, User.disabled, User.auth_epoch)
    stmt = (
        select(*columns, User.must_change_password, UserSession.created_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(User.id == parts.user_id, UserSession.id == parts.session_id)
        .where(UserSession.ended_at.is_(None))
    )
    with session_scope(engine, readonly=True) as session:
        row = session.execute(stmt).first()
    if row is None or row.disabled or row.auth_epoch != parts.epoch:
        return None
    return SignedInUser(
        token=token,
        viewer=Viewer(username=row.username, role=Role(row.role), agency=row.agency),
        must_change_password=row.must_change_password,
        started_at=row.created_at.timestamp(),
    )


def start_session(engine: Engine, user: User) -> None:
    """Sign ``user`` in on a fresh session (a new server-side record and a new cookie)."""
    with session_scope(engine) as session:
        # The session this browser had (another user's, or this one's before a new password)
        # ends here; the new sign-in is what the audit log records.
        close_session(session=session, token=flask.session.get(TOKEN_KEY), reason="renewed")
        token = open_session(session=session, user=user)
        started_at = time.time()
    # A fresh session on every sign-in: nothing from before it (fixation) survives.
    flask.session.clear()
    flask.session.permanent = True
    flask_login.login_user(
        SignedInUser(
            token=token,
            viewer=viewer_of(user),
            must_change_password=user.must_change_password,
            started_at=started_at,
        )
    )
    flask.session["seen"] = started_at
    csrf_token()


def end_session(engine: Engine, *, reason: str) -> None:
    """End this browser's session and forget it; audit the sign-out once per session.

    The session the cookie names is closed on the server (so every copy of the cookie is dead)
    whether or not it still loaded: a sign-out (``user``), an expiry the gate found (``idle``,
    ``lifetime``), or an epoch bumped elsewhere (``revoked``). A session already closed (signed
    out before, a second request of the same expiry) is not recorded again.
    """
    with session_scope(engine) as session:
        user = close_session(session=session, token=flask.session.get(TOKEN_KEY), reason=reason)
        if user is not None:
            audit.record(
                session=session,
                viewer=viewer_of(user),
                action="signout",
                object=user.username,
                details={"reason": reason},
            )
    flask_login.logout_user()
    flask.session.clear()


# What a browser's URL parser drops from the ends of a URL (C0 controls and space) and from
# anywhere in it (TAB, LF, CR; WHATWG URL standard, "basic URL parser").
_URL_EDGES = "".join(chr(c) for c in range(0x21))
_URL_DROPPED = str.maketrans("", "", "\t\n\r")
# Characters kept as they are in a redirect; every other one is percent-encoded.
_PATH_SAFE = "/?&=%#:@!$'()*+,;~-._"


def safe_next(value: str | None) -> str:
    r"""Return ``value`` as a path on this site, read the way a browser reads it, else ``"/"``.

    A browser drops TAB, CR and LF anywhere and spaces and control characters at the ends, and
    takes a backslash for a slash: ``"/\t/evil.example"`` and ``"/\\evil.example"`` are both
    ``//evil.example`` to it, another site. So the value is normalised first and then must be a
    path: no scheme, no host, not ``//``. What is left is percent-encoded to printable ASCII.

    Examples
    --------
    >>> safe_next("/?layer=hexes")
    '/?layer=hexes'
    >>> safe_next("/\t/evil.example"), safe_next("/\\evil.example"), safe_next("https://e.x")
    ('/', '/', '/')
    """
    path = (value or "").strip(_URL_EDGES).translate(_URL_DROPPED).replace("\\", "/")
    parts = urlsplit(path)
    if not path.startswith("/") or path.startswith("//") or parts.scheme or parts.netloc:
        return "/"
    return quote(path, safe=_PATH_SAFE)


def blueprint(settings: Settings, engine: Engine) -> flask.Blueprint:
    """Return the blueprint: sign-in, sign-out, password change and the audit pages."""
    bp = flask.Blueprint(
        "signin",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/signin-static",
    )
    lockout = timedelta(minutes=settings.lockout_minutes)

    def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
        oidc = settings.oidc_label if settings.oidc_issuer else ""
        html = flask.render_template(template, csrf_token=csrf_token(), oidc=oidc, **context)
        return html, status

    def refused(template: str, exc: Refused, **context: Any) -> flask.Response:
        resp = flask.make_response(page(template, exc.status, message=exc.message, **context))
        resp.headers["Retry-After"] = str(exc.retry_after_s)
        return resp

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        nxt = safe_next(flask.request.values.get("next"))
        if flask.request.method == "GET":
            note = {"out": "You are signed out.", "idle": "Your session ended."}.get(
                flask.request.args.get("note", ""), ""
            )
            return page("login.html", next=nxt, message=note)
        if not csrf_ok():
            return page("login.html", 400, next=nxt, message="The form expired; try again.")
        try:
            result = authenticate(
                engine=engine,
                username=flask.request.form.get("username", "").strip(),
                password=flask.request.form.get("password", ""),
                max_attempts=settings.lockout_attempts,
                lockout=lockout,
            )
        except Refused as exc:  # the address's limit, or no hash slot: refused before hashing
            return refused("login.html", exc, next=nxt)
        if result.user is None:
            # One message for every failure: it must not tell which names exist.
            msg = "Sign-in failed. After repeated failures an account is locked for a while."
            return page("login.html", 401, next=nxt, message=msg)
        start_session(engine, result.user)
        must_change = result.user.must_change_password
        return flask.redirect(flask.url_for("signin.password") if must_change else nxt)

    @bp.route("/logout", methods=["POST"])
    def logout() -> Any:
        end_session(engine, reason="user")
        return flask.redirect(flask.url_for("signin.login", note="out"))

    @bp.route("/account/password", methods=["GET", "POST"])
    def password() -> Any:
        viewer = current_viewer()
        if flask.request.method == "GET":
            return page("password.html", username=viewer.username, message="")
        if not csrf_ok():
            return page("password.html", 400, username=viewer.username, message="Try again.")
        new = flask.request.form.get("new", "")
        problem = None
        if new != flask.request.form.get("confirm", ""):
            problem = "the two new passwords differ"
        try:
            with session_scope(engine) as session:
                row = get_user(session=session, username=viewer.username)
                if row is None:
                    flask.abort(401)
                if problem is None:
                    # Checked like a sign-in: counts towards the lockout and the address limit.
                    problem = change_password(
                        session=session,
                        user=row,
                        current=flask.request.form.get("current", ""),
                        new=new,
                        max_attempts=settings.lockout_attempts,
                        lockout=lockout,
                    )
        except Refused as exc:
            return refused("password.html", exc, username=viewer.username)
        if problem:
            return page("password.html", 400, username=viewer.username, message=problem)
        start_session(engine, row)  # the new epoch ended every other session of the user
        return flask.redirect("/")

    @bp.route("/admin/audit")
    def audit_page() -> Any:
        viewer = require(Capability.READ_AUDIT, current_viewer())
        columns = [c for c in audit.columns_for(viewer) if c != "id"]
        with session_scope(engine) as session:
            rows = audit.entries(session=session, limit=AUDIT_PAGE_ROWS)
            cells = [[_audit_text(getattr(row, c)) for c in columns] for row in rows]
        headers = [AUDIT_HEADERS[c] for c in columns]
        return page("audit.html", headers=headers, rows=cells, limit=AUDIT_PAGE_ROWS)

    @bp.route("/admin/audit.csv")
    def audit_csv() -> Any:
        viewer = require(Capability.READ_AUDIT, current_viewer())
        columns = audit.columns_for(viewer)
        with session_scope(engine) as session:
            rows = audit.entries(session=session)
            audit.record(
                session=session,
                viewer=viewer,
                action="audit.export",
                details={"rows": len(rows), "format": "csv", "columns": list(columns)},
            )
            body = audit.to_csv(rows, columns)
        return flask.Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=watchfloor-audit.csv"},
        )

    return bp


def _audit_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def failed_page(message: str) -> tuple[str, int]:
    """Return the sign-in page with ``message`` and status 401 (the OIDC routes' failures)."""
    html = flask.render_template(
        "login.html", csrf_token=csrf_token(), oidc="", next="/", message=message
    )
    return html, 401

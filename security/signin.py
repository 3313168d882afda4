"""The sign-in, sign-out and password pages, and the administrators' audit log pages."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import flask
import flask_login
from flask_limiter import Limiter, RequestLimit
from sqlalchemy import Engine, select

from domain.roles import Role, Viewer
from rules.capabilities import Capability, require
from security import audit
from security.session import SignedInUser, current_viewer
from security.users import authenticate, change_password, get_user, viewer_of
from security.web import csrf_ok, csrf_token
from settings import Settings
from store.engine import session_scope
from store.models import User

PASSWORD_ENDPOINTS = frozenset({"signin.password", "signin.logout", "signin.static"})
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
    """Return the signed-in user for a session token, or ``None`` when it no longer holds."""
    user_id, _, epoch = token.partition(".")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None
    # Every request of a signed-in page asks: one read-only row read (no ORM object, no write
    # lock on SQLite), and no cache, so disabling a user or a new password ends sessions at once.
    columns = (User.username, User.role, User.agency, User.disabled, User.auth_epoch)
    stmt = select(*columns, User.must_change_password).where(User.id == int(user_id))
    with session_scope(engine, readonly=True) as session:
        row = session.execute(stmt).first()
    if row is None or row.disabled or row.auth_epoch != int(epoch):
        return None
    return SignedInUser(
        token=f"{int(user_id)}.{row.auth_epoch}",
        viewer=Viewer(username=row.username, role=Role(row.role), agency=row.agency),
        must_change_password=row.must_change_password,
    )


def _signed_in(user: User) -> SignedInUser:
    return SignedInUser(
        token=f"{user.id}.{user.auth_epoch}",
        viewer=viewer_of(user),
        must_change_password=user.must_change_password,
    )


def start_session(user: User) -> None:
    # A fresh session on every sign-in: nothing from before it (fixation) survives.
    flask.session.clear()
    flask.session.permanent = True
    flask_login.login_user(_signed_in(user))
    flask.session["seen"] = time.time()
    csrf_token()


def end_session(engine: Engine, *, reason: str) -> None:
    """Sign the current user out (audited) and forget the whole session."""
    user = flask_login.current_user
    if user.is_authenticated:
        with session_scope(engine) as session:
            audit.record(
                session=session,
                viewer=user.viewer,
                action="signout",
                object=user.viewer.username,
                details={"reason": reason},
            )
    flask_login.logout_user()
    flask.session.clear()


def _safe_next(value: str | None) -> str:
    # Only a path on this site: "//evil.example" and "https://..." would leave it.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def blueprint(settings: Settings, engine: Engine, limiter: Limiter) -> flask.Blueprint:
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

    def too_many(_limit: RequestLimit) -> flask.Response:
        nxt = _safe_next(flask.request.values.get("next"))
        msg = "Too many attempts; wait a minute."
        return flask.make_response(page("login.html", 429, next=nxt, message=msg))

    # Sign-in attempts (POSTs) per client address per minute, counted before anything else.
    per_address = limiter.limit(
        f"{settings.signin_rate_per_minute}/minute", methods=["POST"], on_breach=too_many
    )

    @bp.route("/login", methods=["GET", "POST"])
    @per_address
    def login() -> Any:
        nxt = _safe_next(flask.request.values.get("next"))
        if flask.request.method == "GET":
            note = {"out": "You are signed out.", "idle": "Your session ended."}.get(
                flask.request.args.get("note", ""), ""
            )
            return page("login.html", next=nxt, message=note)
        if not csrf_ok():
            return page("login.html", 400, next=nxt, message="The form expired; try again.")
        result = authenticate(
            engine=engine,
            username=flask.request.form.get("username", "").strip(),
            password=flask.request.form.get("password", ""),
            max_attempts=settings.lockout_attempts,
            lockout=lockout,
        )
        if result.user is None:
            # One message for every failure: it must not tell which names exist.
            msg = "Sign-in failed. After repeated failures an account is locked for a while."
            return page("login.html", 401, next=nxt, message=msg)
        start_session(result.user)
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
        with session_scope(engine) as session:
            row = get_user(session=session, username=viewer.username)
            if row is None:
                flask.abort(401)
            if problem is None:
                problem = change_password(
                    session=session,
                    user=row,
                    current=flask.request.form.get("current", ""),
                    new=new,
                )
            if problem is None:
                start_session(row)
        if problem:
            return page("password.html", 400, username=viewer.username, message=problem)
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

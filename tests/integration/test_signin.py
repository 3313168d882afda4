"""Sign-in through the real app: lockout, rate limit, CSRF, idle timeout, first-use passwords."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update

from domain.roles import Viewer
from security.users import add_user, authenticate, set_disabled
from settings import Settings
from store.base import utcnow
from store.engine import session_scope
from store.models import AuditEntry, User
from testkit.security_kit import PASSWORD, make_users, sign_in

ORIGIN = {"Origin": "http://localhost"}


def _client(settings: Settings, **overrides: object) -> FlaskClient:
    from app import create_app

    return create_app(settings.model_copy(update=overrides)).server.test_client()


def _audit(engine: Engine, action: str) -> list[tuple[str, str, str | None]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(AuditEntry.username, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_lockout_after_repeated_failures(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings, ("officer",))
    client = _client(settings)
    for _ in range(settings.lockout_attempts):
        assert sign_in(client, "officer", "wrong password!") == 401
    # Locked: even the right password is refused, with the same message as any failure.
    assert sign_in(client, "officer") == 401
    assert client.get("/_dash-layout").status_code == 401
    with session_scope(engine) as s:
        locked_until = s.execute(select(User.locked_until)).scalar_one()
        assert locked_until > utcnow() + timedelta(minutes=settings.lockout_minutes - 1)
        s.execute(update(User).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert sign_in(client, "officer") == 302
    assert client.get("/_dash-layout").status_code == 200
    outcomes = [o for _, o, _ in _audit(engine, "signin")]
    assert outcomes == ["denied"] * (settings.lockout_attempts + 1) + ["ok"]


def test_lockout_is_atomic_under_concurrent_attempts(engine: Engine, settings: Settings) -> None:
    """Wrong passwords sent at once: exactly the limit is counted, the rest meet a locked door."""
    make_users(engine, settings, ("officer",))
    limit, attempts = settings.lockout_attempts, settings.lockout_attempts + 4
    start = threading.Barrier(attempts)

    def attempt(password: str) -> str:
        start.wait()
        return authenticate(
            engine=engine,
            username="officer",
            password=password,
            max_attempts=limit,
            lockout=timedelta(minutes=settings.lockout_minutes),
        ).reason

    with ThreadPoolExecutor(attempts) as pool:
        reasons = list(pool.map(attempt, ["wrong password!"] * attempts))
    counted = [r for r in reasons if r.startswith("wrong password")]
    assert len(counted) == limit, reasons
    assert reasons.count("wrong password; locked") == 1
    assert reasons.count("locked") == attempts - limit
    with session_scope(engine) as s:
        failed, locked_until = s.execute(select(User.failed_attempts, User.locked_until)).one()
    assert failed == 0 and locked_until > utcnow()
    assert len(_audit(engine, "signin")) == attempts  # every attempt audited
    after = authenticate(
        engine=engine,
        username="officer",
        password=PASSWORD,
        max_attempts=limit,
        lockout=timedelta(minutes=settings.lockout_minutes),
    )
    assert after.user is None and after.reason == "locked"


def test_unknown_user_fails_like_a_wrong_password(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings, ("officer",))
    client = _client(settings)
    assert sign_in(client, "nobody") == 401
    wrong = client.get("/login")  # same page and message for both failures
    assert wrong.status_code == 200
    assert _audit(engine, "signin") == [("nobody", "denied", '{"reason": "unknown user"}')]


def test_sign_in_is_rate_limited_per_address(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings, ("officer",))
    client = _client(settings, signin_rate_per_minute=3)
    codes = [sign_in(client, "officer", "wrong password!") for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    # Refused before the password is checked: only three attempts reached the audit log.
    assert len(_audit(engine, "signin")) == 3
    other = _client(settings, signin_rate_per_minute=3)  # another worker, its own memory
    assert sign_in(other, "officer", "wrong password!") == 401


def test_rate_limit_in_redis_holds_across_workers(
    engine: Engine, settings: Settings, redis_url: str
) -> None:
    """Two app instances (two gunicorn workers) share one count through the real Redis."""
    import redis

    make_users(engine, settings, ("officer",))
    first = _client(settings, signin_rate_per_minute=4, redis_url=redis_url)
    second = _client(settings, signin_rate_per_minute=4, redis_url=redis_url)
    codes = [sign_in(c, "officer", "wrong password!") for c in (first, second, first, second)]
    assert codes == [401] * 4
    assert sign_in(second, "officer") == 429  # the fifth attempt, even with the right password
    assert sign_in(first, "officer") == 429
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() for k in client.keys("*watchfloor-signin-*")]
    finally:
        client.close()
    assert keys and all("127.0.0.1" in k for k in keys)  # counted in Redis, per address
    # A sign-in page view (GET) is not an attempt.
    assert first.get("/login").status_code == 200


def test_forms_need_the_csrf_token_and_this_origin(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings, ("officer",))
    client = _client(settings)
    no_token = client.post("/login", data={"username": "officer", "password": PASSWORD})
    assert no_token.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": token, "username": "officer", "password": PASSWORD}
    cross = client.post("/login", data=form, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.post("/login", data=form, headers=ORIGIN).status_code == 302


def test_idle_session_ends(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings, ("officer",))
    client = _client(settings)
    assert sign_in(client, "officer") == 302
    assert client.get("/_dash-layout").status_code == 200
    with client.session_transaction() as sess:
        sess["seen"] = time.time() - settings.session_idle_minutes * 60 - 1
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/").headers["Location"].startswith("/login")
    assert _audit(engine, "signout") == [("officer", "ok", '{"reason": "idle"}')]


def test_the_idle_clock_moves_once_a_minute(engine: Engine, settings: Settings) -> None:
    """A polling page does not re-sign its cookie on every request; the clock still moves."""
    from security.web import SEEN_EVERY_S

    make_users(engine, settings, ("officer",))
    client = _client(settings)
    assert sign_in(client, "officer") == 302
    first = client.get("/_dash-layout")
    assert first.status_code == 200 and "Set-Cookie" not in first.headers
    with client.session_transaction() as sess:
        seen = sess["seen"]
    assert client.get("/_dash-layout").status_code == 200
    with client.session_transaction() as sess:
        assert sess["seen"] == seen
        sess["seen"] = time.time() - SEEN_EVERY_S - 1
    moved = client.get("/_dash-layout")
    assert moved.status_code == 200 and "watchfloor_session=" in moved.headers["Set-Cookie"]
    with client.session_transaction() as sess:
        assert sess["seen"] > time.time() - 5


def test_one_time_password_must_be_changed_first(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as s:
        _, otp = add_user(
            session=s, actor=Viewer.system(), username="newbie", role="analyst", agency="MA-CFC"
        )
    assert otp
    client = _client(settings)
    assert sign_in(client, "newbie", otp) == 302
    assert client.get("/").headers["Location"] == "/account/password"
    assert client.get("/_dash-layout").status_code == 403
    page = client.get("/account/password").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    weak = {"csrf_token": token, "current": otp, "new": "short", "confirm": "short"}
    assert client.post("/account/password", data=weak, headers=ORIGIN).status_code == 400
    new = "a much longer passphrase"
    good = {"csrf_token": token, "current": otp, "new": new, "confirm": new}
    assert client.post("/account/password", data=good, headers=ORIGIN).status_code == 302
    assert client.get("/_dash-layout").status_code == 200
    fresh = _client(settings)
    assert sign_in(fresh, "newbie", otp) == 401
    assert sign_in(fresh, "newbie", new) == 302


def test_disabling_a_user_ends_their_session(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings, ("analyst",))
    client = _client(settings)
    assert sign_in(client, "analyst") == 302
    with session_scope(engine) as s:
        set_disabled(session=s, actor=Viewer.system(), username="analyst", disabled=True)
    assert client.get("/_dash-layout").status_code == 401
    assert sign_in(client, "analyst") == 401


def test_sign_in_returns_only_to_this_site(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings, ("officer",))
    for nxt, lands in [("/?x=1", "/?x=1"), ("//evil.example/", "/"), ("https://e.example/", "/")]:
        client = _client(settings)
        page = client.get("/login", query_string={"next": nxt}).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        hidden = re.search(r'name="next" value="([^"]*)"', page).group(1)  # type: ignore[union-attr]
        form = {"csrf_token": token, "username": "officer", "password": PASSWORD}
        resp = client.post("/login", data={**form, "next": hidden.replace("&amp;", "&")})
        assert resp.headers["Location"] == lands

"""Issue #18, sessions and passwords: each attack replayed through the real app, both backends.

- #2: a cookie captured before sign-out keeps working; sessions have no absolute lifetime.
- #3: HTTP Basic on ``/api/v1/export`` and ``/ogc`` is not rate-limited; hashes are unbounded.
- #8: the password-change form is an unlimited guessing oracle.
- #9: ``/login?next=/%09/evil.example`` redirects off the site.
- #10 (first half): a session that ends by idle time is never audited.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from security import passwords
from settings import Settings
from store.engine import session_scope
from store.models import AuditEntry
from testkit.api_kit import basic
from testkit.security_kit import PASSWORD, make_users, sign_in
from tests.unit.test_safe_next import browser_resolves

ORIGIN = {"Origin": "http://localhost"}
COOKIE = "watchfloor_session"
EXPORT = "/api/v1/export?layer=events&format=csv"


def _server(settings: Settings, **overrides: Any) -> Flask:
    from app import create_app

    return create_app(settings.model_copy(update=overrides)).server  # type: ignore[no-any-return]


def _audit(engine: Engine, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(AuditEntry.username, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()
    return [(u, o, json.loads(d) if d else {}) for u, o, d in rows]


def _copy_cookie(source: FlaskClient, target: FlaskClient) -> None:
    cookie = source.get_cookie(COOKIE)
    assert cookie is not None
    target.set_cookie(COOKIE, cookie.value)


def _change_password(client: FlaskClient, current: str, new: str) -> Any:
    page = client.get("/account/password").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": token, "current": current, "new": new, "confirm": new}
    return client.post("/account/password", data=form, headers=ORIGIN)


class _Clock:
    """``time.time`` moved forward by the test: the cookie signer and the gate read it."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    real = time.time
    fake = _Clock()
    monkeypatch.setattr(time, "time", lambda: real() + fake.offset_s)
    return fake


class _Hashes:
    """The real hasher, counting ``verify`` calls and their peak concurrency; may hold them."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = self.active = self.peak = 0
        self.lock = threading.Lock()
        self.entered = threading.Event()
        self.hold: threading.Event | None = None

    def verify(self, password_hash: str, password: str) -> bool:
        with self.lock:
            self.calls += 1
            self.active += 1
            self.peak = max(self.peak, self.active)
        self.entered.set()
        try:
            if self.hold is not None:
                self.hold.wait(timeout=30)
            return bool(self.real.verify(password_hash, password))
        finally:
            with self.lock:
                self.active -= 1

    def hash(self, password: str) -> str:
        return str(self.real.hash(password))


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Hashes]:
    counting = _Hashes(passwords._hasher())
    monkeypatch.setattr(passwords, "_hasher", lambda: counting)
    yield counting
    if counting.hold is not None:
        counting.hold.set()


# --- #2: sign-out revokes the session; every session has an absolute lifetime ---------------


def test_a_cookie_captured_before_sign_out_no_longer_works(
    engine: Engine, settings: Settings
) -> None:
    make_users(engine, settings, ("analyst",))
    server = _server(settings)
    victim, thief = server.test_client(), server.test_client()
    assert sign_in(victim, "analyst") == 302
    _copy_cookie(victim, thief)
    assert thief.get("/_dash-layout").status_code == 200  # the captured cookie, before sign-out
    assert victim.post("/logout", headers=ORIGIN).status_code == 302
    assert thief.get("/_dash-layout").status_code == 401
    assert thief.get("/").headers["Location"].startswith("/login")
    # One sign-out entry: the user's; the dead cookie's later requests add none.
    assert [d["reason"] for _, _, d in _audit(engine, "signout")] == ["user"]


def test_signing_out_on_one_device_keeps_the_others(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings, ("analyst",))
    server = _server(settings)
    desk, laptop = server.test_client(), server.test_client()
    assert sign_in(desk, "analyst") == 302 and sign_in(laptop, "analyst") == 302
    assert desk.post("/logout", headers=ORIGIN).status_code == 302
    assert desk.get("/_dash-layout").status_code == 401
    assert laptop.get("/_dash-layout").status_code == 200


def test_an_active_session_ends_at_its_absolute_lifetime(
    engine: Engine, settings: Settings, clock: _Clock
) -> None:
    assert settings.session_max_hours == 12  # the CJIS default
    make_users(engine, settings, ("analyst",))
    client = _server(settings, session_max_hours=1).test_client()
    assert sign_in(client, "analyst") == 302
    step_s = (settings.session_idle_minutes - 5) * 60  # active: never idle for long
    for _ in range(int(3600 // step_s)):
        clock.advance(step_s)
        assert client.get("/_dash-layout").status_code == 200
    clock.advance(step_s)
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/_dash-layout").status_code == 401
    assert _audit(engine, "signout") == [("analyst", "ok", {"reason": "lifetime"})]


# --- #10: a session that ended by idle time is audited when its browser comes back ----------


def test_an_idle_session_is_audited_once_when_its_browser_returns(
    engine: Engine, settings: Settings, clock: _Clock
) -> None:
    make_users(engine, settings, ("analyst",))
    server = _server(settings)
    client, copy = server.test_client(), server.test_client()
    assert sign_in(client, "analyst") == 302
    _copy_cookie(client, copy)
    clock.advance(settings.session_idle_minutes * 60 + 61)
    assert client.get("/_dash-layout").status_code == 401
    assert copy.get("/_dash-layout").status_code == 401  # the same session: no second entry
    assert _audit(engine, "signout") == [("analyst", "ok", {"reason": "idle"})]


def test_a_session_revoked_elsewhere_is_recorded_once(engine: Engine, settings: Settings) -> None:
    from domain.roles import Viewer
    from security.users import set_disabled

    make_users(engine, settings, ("analyst",))
    client = _server(settings).test_client()
    assert sign_in(client, "analyst") == 302
    with session_scope(engine) as s:
        set_disabled(session=s, actor=Viewer.system(), username="analyst", disabled=True)
    ended = client.get("/")
    assert ended.status_code == 302 and "note=idle" in ended.headers["Location"]
    assert "Your session ended." in client.get(ended.headers["Location"]).get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 401
    assert _audit(engine, "signout") == [("analyst", "ok", {"reason": "revoked"})]


# --- #3: every password check shares the per-address limit; hashes are bounded --------------


def test_basic_sign_in_to_the_apis_shares_the_address_limit(
    engine: Engine, settings: Settings, hashes: _Hashes
) -> None:
    make_users(engine, settings, ("analyst",))
    client = _server(settings, signin_rate_per_minute=3).test_client()
    for _ in range(4):  # a GIS client's many requests with the right password do not count
        assert client.get("/ogc/collections", headers=basic("analyst")).status_code == 200
    assert sign_in(client, "analyst", "wrong password!") == 401
    assert client.get(EXPORT, headers=basic("analyst", "wrong")).status_code == 401
    assert client.get("/ogc/collections", headers=basic("analyst", "wrong")).status_code == 401
    for path in (EXPORT, "/ogc/collections"):
        refused = client.get(path, headers=basic("analyst"))  # even the right password
        assert refused.status_code == 429, path
        assert int(refused.headers["Retry-After"]) >= 1
    assert sign_in(client, "analyst") == 429
    assert hashes.calls == 4 + 3  # a refused attempt costs no hash...
    assert [o for _, o, _ in _audit(engine, "signin")] == ["ok"] * 4 + ["denied"] * 3


def test_concurrent_password_hashes_are_bounded(
    engine: Engine, settings: Settings, hashes: _Hashes
) -> None:
    make_users(engine, settings, ("analyst",))
    server = _server(
        settings, signin_rate_per_minute=100, password_hash_slots=1, password_hash_wait_s=0.2
    )
    hashes.hold = threading.Event()
    attempts = 4

    def attempt(_: int) -> tuple[int, str | None]:
        resp = server.test_client().get(EXPORT, headers=basic("analyst", "wrong"))
        return resp.status_code, resp.headers.get("Retry-After")

    answers = []
    with ThreadPoolExecutor(attempts) as pool:
        futures = [pool.submit(attempt, i) for i in range(attempts)]
        assert hashes.entered.wait(timeout=10)
        try:
            for future in as_completed(futures, timeout=10):
                answers.append(future.result())
                if len(answers) == attempts - 1:  # every other request gave up while held
                    hashes.hold.set()
        finally:
            hashes.hold.set()
    assert answers[:-1] == [(503, "1")] * (attempts - 1)
    assert answers[-1][0] == 401
    assert hashes.peak == 1 and hashes.calls == 1


# --- #8: the password-change form counts like a sign-in --------------------------------------


def test_password_form_failures_lock_the_account(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings, ("analyst",))
    server = _server(settings)
    client = server.test_client()
    assert sign_in(client, "analyst") == 302
    for _ in range(settings.lockout_attempts):
        assert _change_password(client, "a guess!", "a new long passphrase").status_code == 400
    # Locked: the right current password is refused too, and so is a sign-in elsewhere.
    assert _change_password(client, PASSWORD, "a new long passphrase").status_code == 400
    assert sign_in(server.test_client(), "analyst") == 401
    denied = _audit(engine, "user.password")
    assert [o for _, o, _ in denied] == ["denied"] * (settings.lockout_attempts + 1)
    assert denied[-2][2]["reason"].endswith("locked")


def test_password_form_shares_the_address_limit(
    engine: Engine, settings: Settings, hashes: _Hashes
) -> None:
    make_users(engine, settings, ("analyst",))
    client = _server(settings, signin_rate_per_minute=3).test_client()
    assert sign_in(client, "analyst", "wrong password!") == 401
    assert sign_in(client, "analyst") == 302  # a right password does not count
    assert _change_password(client, "a guess!", "a new long passphrase").status_code == 400
    assert _change_password(client, "a guess!", "a new long passphrase").status_code == 400
    refused = _change_password(client, PASSWORD, "a new long passphrase")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert hashes.calls == 4
    assert len(_audit(engine, "user.password")) == 2


# --- #9: `next` never leaves the site, however a browser would read it -----------------------

ATTACKS = (
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "/%5Cevil.example",
    "/%5C/evil.example",
    "%5C%5Cevil.example",
    "%20//evil.example",
    "%09//evil.example",
    "/%09%5Cevil.example",
    "//evil.example",
    "https:evil.example",
    "https://evil.example/",
    "/%0b/evil.example",
)


def test_sign_in_never_redirects_off_site(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings, ("analyst",))
    server = _server(settings, signin_rate_per_minute=100)
    for attack in ATTACKS:
        client = server.test_client()
        page = client.get(f"/login?next={attack}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        hidden = re.search(r'name="next" value="([^"]*)"', page).group(1)  # type: ignore[union-attr]
        assert browser_resolves(hidden).netloc == "localhost", (attack, hidden)
        form = {"csrf_token": token, "username": "analyst", "password": PASSWORD}
        resp = client.post(f"/login?next={attack}", data=form, headers=ORIGIN)
        assert resp.status_code == 302, attack
        lands = browser_resolves(resp.headers["Location"])
        assert (lands.scheme, lands.netloc) == ("http", "localhost"), (attack, lands)

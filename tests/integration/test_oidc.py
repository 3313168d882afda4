"""OpenID Connect sign-in against a real (minimal) provider over HTTP: who it vouches for
signs in as the local user with that name; unknown, disabled or tampered answers do not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from domain.roles import Viewer
from security.users import set_disabled
from settings import Settings
from store.engine import session_scope
from store.models import AuditEntry
from testkit.oidc_idp import CLIENT_ID, CLIENT_SECRET, MiniIdP
from testkit.security_kit import make_users


@pytest.fixture()
def idp() -> Iterator[MiniIdP]:
    provider = MiniIdP().start()
    yield provider
    provider.stop()


def _client(settings: Settings, idp: MiniIdP) -> FlaskClient:
    from app import create_app

    configured = settings.model_copy(
        update={
            "oidc_issuer": idp.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
        }
    )
    return create_app(configured).server.test_client()


def _through_idp(client: FlaskClient) -> tuple[str, int, str]:
    """Follow the flow; return the callback URL, the app's answer status and its Location."""
    start = client.get("/login/oidc")
    assert start.status_code == 302 and start.headers["Location"].startswith("http://127.0.0.1")
    back = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302
    url = urlparse(back.headers["Location"])
    answer = client.get(f"{url.path}?{url.query}")
    return f"{url.path}?{url.query}", answer.status_code, answer.headers.get("Location", "")


def _signins(engine: Engine) -> list[tuple[str, str, dict[str, str]]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(AuditEntry.username, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action == "signin")
            .order_by(AuditEntry.id)
        ).all()
    return [(u, o, json.loads(d)) for u, o, d in rows]


def test_provider_vouches_for_a_local_user(
    engine: Engine, settings: Settings, idp: MiniIdP
) -> None:
    make_users(engine, settings, ("officer",))
    client = _client(settings, idp)
    assert client.get("/_dash-layout").status_code == 401
    assert 'id="signin-oidc"' in client.get("/login").get_data(as_text=True)
    callback, status, location = _through_idp(client)
    assert (status, location) == (302, "/")
    assert client.get("/_dash-layout").status_code == 200  # signed in as the local officer
    ((user, outcome, details),) = _signins(engine)
    assert (user, outcome, details["method"]) == ("officer", "ok", "oidc")
    # The code is spent: replaying the callback in a fresh browser signs nobody in.
    replay = _client(settings, idp)
    assert replay.get(callback).status_code == 401
    assert replay.get("/_dash-layout").status_code == 401


def test_unknown_disabled_and_forged_answers_are_refused(
    engine: Engine, settings: Settings, idp: MiniIdP
) -> None:
    make_users(engine, settings, ("officer",))
    idp.user = "stranger"  # the provider knows them; Watchfloor does not
    client = _client(settings, idp)
    assert _through_idp(client)[1] == 401
    assert client.get("/_dash-layout").status_code == 401
    idp.user = "officer"
    with session_scope(engine) as s:
        set_disabled(session=s, actor=Viewer.system(), username="officer", disabled=True)
    assert _through_idp(client)[1] == 401
    assert client.get("/_dash-layout").status_code == 401
    # A forged callback (a made-up code and state) never reaches the provider's token check.
    forged = _client(settings, idp)
    assert forged.get("/login/oidc/callback?code=x&state=y").status_code == 401
    reasons = [(u, o, d.get("reason")) for u, o, d in _signins(engine)]
    assert reasons[:2] == [
        ("stranger", "denied", "unknown user"),
        ("officer", "denied", "disabled"),
    ]
    assert reasons[2][1] == "denied"


def test_without_an_issuer_there_is_no_oidc_route(engine: Engine, settings: Settings) -> None:
    from app import create_app

    client = create_app(settings).server.test_client()
    assert 'id="signin-oidc"' not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/oidc").status_code in (302, 401, 404)
    assert client.get("/login/oidc").headers.get("Location", "/login").startswith("/login")

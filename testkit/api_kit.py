"""Helpers for the read-API tests: a world of users, events and a key; credentials; expectations."""

from __future__ import annotations

import base64
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from domain.roles import Role, Viewer
from security.apikeys import create_key
from settings import Settings
from store.engine import session_scope
from store.queries.exports import event_rows
from testkit.security_kit import AGENCY_A, PASSWORD, make_users, two_agency_events

ANALYST = Viewer("analyst", Role.ANALYST, "MA-CFC")
WINDOW = {"start": "2023-02-05", "end": "2023-02-25"}


def make_world(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Create users per role, two agencies' events and a key for agency A; return app and key."""
    from app import create_app

    make_users(engine, settings)
    two_agency_events(engine, settings)
    with session_scope(engine) as s:
        key, _ = create_key(session=s, agency=AGENCY_A)
    return {"client": create_app(settings).server.test_client(), "key": key}


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    """Return an HTTP Basic ``Authorization`` header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(key: str) -> dict[str, str]:
    """Return a Bearer ``Authorization`` header (a partner API key)."""
    return {"Authorization": f"Bearer {key}"}


def get(client: Any, url: str, **kwargs: Any) -> Any:
    """GET ``url``, read the whole answer and close it (a sent file stays open until then)."""
    resp = client.get(url, **kwargs)
    resp.get_data()
    resp.close()
    return resp


def expected_rows(engine: Engine, viewer: Viewer, kind: str, **window: str) -> pd.DataFrame:
    """Return the visible events of ``kind`` for ``viewer`` (as a file export selects them)."""
    from api.params import query_filter

    filters = query_filter({**window, "kinds": kind})
    with session_scope(engine) as s:
        return event_rows(session=s, viewer=viewer, filters=filters)

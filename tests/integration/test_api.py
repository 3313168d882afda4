"""The partner API on both backends: keys, 201/401/413/422, the agency from the key, idempotency."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, update

from security.apikeys import agency_for_key, create_key, revoke_key
from settings import Settings
from store.engine import session_scope
from store.models import ApiKey, Event

EVENTS: list[dict[str, Any]] = [
    {
        "id": "P-1",
        "occurred_at": "2023-03-04T14:30:00-05:00",
        "lat": 42.35,
        "lon": -71.06,
        "category": "PHOTO",
        "description": "photographing the gate",
        "source": "SOMEONE-ELSE",
    },
    {
        "id": "P-2",
        "occurred_at": "03/05/2023 9:15 AM",
        "lat": 42.36,
        "lon": -71.05,
        "category": "SURVL",
    },
]


@pytest.fixture
def client(settings: Settings) -> FlaskClient:
    from app import create_app

    return create_app(settings).server.test_client()


@pytest.fixture
def key(engine: Engine) -> str:
    with session_scope(engine) as s:
        key, _ = create_key(session=s, agency="MSP", label="test")
    return key


def _post(client: FlaskClient, key: str | None, body: Any, **kw: Any):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(
        "/api/v1/events", data=data, headers=headers, content_type="application/json", **kw
    )


def test_keys_are_stored_hashed_and_revocable(engine: Engine, key: str) -> None:
    with session_scope(engine) as s:
        stored = s.execute(select(ApiKey)).scalar_one()
        assert key not in (stored.key_hash, stored.prefix) and stored.key_hash != ""
        assert agency_for_key(session=s, key=key) == "MSP"
        assert agency_for_key(session=s, key=key + "x") is None
        assert agency_for_key(session=s, key="wf_nope_nope") is None
        assert revoke_key(session=s, prefix=stored.prefix) == 1
        assert agency_for_key(session=s, key=key) is None


def test_a_keys_last_use_is_written_once_a_minute(engine: Engine, key: str) -> None:
    from security.apikeys import LAST_USE_EVERY

    with session_scope(engine) as s:
        assert agency_for_key(session=s, key=key) == "MSP"
    with session_scope(engine) as s:
        first = s.execute(select(ApiKey.last_used_at)).scalar_one()
        assert first is not None
        assert agency_for_key(session=s, key=key) == "MSP"
        assert not s.dirty  # within the minute: the row is not written
    with session_scope(engine) as s:
        assert s.execute(select(ApiKey.last_used_at)).scalar_one() == first
        s.execute(update(ApiKey).values(last_used_at=first - LAST_USE_EVERY))
    with session_scope(engine) as s:
        assert agency_for_key(session=s, key=key) == "MSP"
    with session_scope(engine) as s:
        assert s.execute(select(ApiKey.last_used_at)).scalar_one() > first


def test_post_events_takes_the_agency_from_the_key(
    client: FlaskClient, key: str, engine: Engine
) -> None:
    assert _post(client, None, EVENTS).status_code == 401
    assert _post(client, "wf_abc_def", EVENTS).status_code == 401
    resp = _post(client, key, EVENTS)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["inserted"], body["updated"], body["unchanged"]) == (2, 0, 0)
    assert [i["external_id"] for i in body["ids"]] == ["P-1", "P-2"]
    with session_scope(engine) as s:
        rows = s.execute(select(Event).order_by(Event.external_id)).scalars().all()
        assert {r.source_agency for r in rows} == {"MSP"}
        assert [r.public_id for r in rows] == [i["id"] for i in body["ids"]]
        assert rows[0].occurred_at.isoformat() == "2023-03-04T19:30:00+00:00"
        assert rows[1].occurred_at.isoformat() == "2023-03-05T14:15:00+00:00"  # naive: Boston
    again = _post(client, key, EVENTS).get_json()
    assert (again["inserted"], again["unchanged"]) == (0, 2)


def test_geojson_feature_collection(client: FlaskClient, key: str, engine: Engine) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": f"F-{i}",
                "geometry": {"type": "Point", "coordinates": [-71.06 + i / 100, 42.35]},
                "properties": {"occurred": "2023-03-04 10:00", "type": "TESTSEC"},
            }
            for i in range(3)
        ],
    }
    resp = _post(client, key, fc, query_string={"kind": "incident"})
    assert resp.status_code == 201, resp.get_json()
    with session_scope(engine) as s:
        kinds = s.execute(select(Event.kind, func.count()).group_by(Event.kind)).all()
    assert kinds == [("incident", 3)]


def test_bad_items_answer_422_and_store_nothing(
    client: FlaskClient, key: str, engine: Engine
) -> None:
    bad = [*EVENTS, {"id": "P-3", "occurred_at": "yesterday-ish", "lat": 42.3, "lon": -71.1}]
    bad.append({"id": "P-4", "occurred_at": "2023-03-04 10:00", "lat": None, "lon": None})
    resp = _post(client, key, bad)
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert [(e["index"], e["reason"]) for e in errors] == [
        (2, "bad_time"),
        (3, "missing_coordinates"),
    ]
    assert _post(client, key, b"{not json").status_code == 400
    assert _post(client, key, {"hello": "world"}).status_code == 422
    assert _post(client, key, [1, 2]).status_code == 422
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(Event)).scalar_one() == 0


def test_oversized_bodies_answer_413(settings: Settings, key: str) -> None:
    from app import create_app

    small = settings.model_copy(update={"api_max_body_bytes": 200})
    client = create_app(small).server.test_client()
    resp = _post(client, key, EVENTS * 5)
    assert resp.status_code == 413 and "smaller batches" in resp.get_json()["error"]


def test_cli_creates_a_key_shown_once(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import manage
    from settings import get_settings

    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        assert manage.main(["apikeys", "create", "BPD", "--json"]) == 0
    finally:
        get_settings.cache_clear()
    printed = json.loads(capsys.readouterr().out)
    with session_scope(engine) as s:
        assert agency_for_key(session=s, key=printed["key"]) == "BPD"


def test_every_key_prefix_is_revocable_from_the_cli(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A prefix is hex, so the shell and argparse never read it as an option; an older prefix
    that begins with "-" is still revoked when given after ``--``."""
    import manage
    from settings import get_settings

    with session_scope(engine) as s:
        prefixes = [create_key(session=s, agency="BPD")[1].prefix for _ in range(300)]
        s.add(ApiKey(agency="BPD", prefix="-Ab3_x9", key_hash="0" * 64))
    assert all(len(p) == 12 and set(p) <= set("0123456789abcdef") for p in prefixes)
    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        assert manage.main(["apikeys", "revoke", prefixes[0], "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == {"revoked": 1}
        assert manage.main(["apikeys", "revoke", "--json", "--", "-Ab3_x9"]) == 0
        assert json.loads(capsys.readouterr().out) == {"revoked": 1}
    finally:
        get_settings.cache_clear()

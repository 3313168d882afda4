"""The dashboard's export and briefing routes: the file holds exactly the screen, and is audited."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Engine, select

from domain.roles import Role, Viewer
from layers.selection import ScreenState, screen_filter
from security.users import AccountError
from settings import Settings
from store.engine import session_scope
from store.models import AuditEntry
from store.queries.areas import filtered_events, find_area
from store.queries.hexagg import cell_counts
from testkit.security_kit import make_users, sign_in

FEB = (datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 3, 1, tzinfo=UTC))


def _client(engine: Engine, settings: Settings, name: str):  # type: ignore[no-untyped-def]
    from app import create_app

    with contextlib.suppress(AccountError):  # one demo database per module
        make_users(engine, settings, (name,))
    client = create_app(settings).server.test_client()
    assert sign_in(client, name) == 302
    return client


def test_export_route_sends_exactly_the_screen_and_audits_it(
    demo_db: tuple[Engine, Settings],
) -> None:
    engine, settings = demo_db
    client = _client(engine, settings, "analyst")
    viewer = Viewer("analyst", Role.ANALYST, settings.host_agency)
    with session_scope(engine) as s:
        suffolk = find_area(session=s, viewer=viewer, name="Suffolk")
        state = ScreenState(
            "custom",
            *FEB,
            categories=("INVESTIGATE PERSON", "SURVL", "TOWED MOTOR VEHICLE"),
            area={"type": "region", "id": suffolk},
        )
        f = screen_filter(state, session=s, viewer=viewer, tz=settings.timezone)
        on_map = cell_counts(session=s, viewer=viewer, filters=f, res=8)
        expected = filtered_events(session=s, viewer=viewer, filters=f)
    resp = client.get(
        "/export/download",
        query_string={"layer": "all", "format": "csv", "state": state.to_json()},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert 'filename="watchfloor-all.zip"' in resp.headers["Content-Disposition"]
    zf = zipfile.ZipFile(io.BytesIO(resp.get_data()))
    events = pd.concat(
        [pd.read_csv(zf.open(f"{name}.csv")) for name in ("suspicious", "incidents")]
    )
    hexes = pd.read_csv(zf.open("hexes.csv"))
    total = int(on_map["total"].sum())
    assert len(events) == len(expected) == int(hexes["total"].sum()) == total > 100
    assert set(events["category"]) == set(expected["category"])
    assert len(hexes) == len(on_map)
    meta = json.loads(zf.read("suspicious.csv.metadata.json"))
    assert meta["filters"]["area"] == "Suffolk" and meta["exported_by"]["user"] == "analyst"

    single = client.get(
        "/export/download",
        query_string={"layer": "suspicious", "format": "gpkg", "state": state.to_json()},
    )
    assert single.status_code == 200
    with session_scope(engine) as s:
        audited = s.execute(
            select(AuditEntry.action, AuditEntry.object, AuditEntry.details)
            .where(AuditEntry.action == "export", AuditEntry.username == "analyst")
            .order_by(AuditEntry.id)
        ).all()
    assert [a.object for a in audited[-2:]] == ["watchfloor-all.zip", "watchfloor-suspicious.gpkg"]
    details = audited[-2].details
    details = json.loads(details) if isinstance(details, str) else details
    assert details["rows"]["hexes"] == len(on_map) and details["format"] == "csv"
    assert details["filters"]["categories"] == list(state.categories)


def test_export_route_refuses_bad_requests(demo_db: tuple[Engine, Settings]) -> None:
    engine, settings = demo_db
    client = _client(engine, settings, "command")
    bad_area = ScreenState(area={"type": "region", "id": 10**9}).to_json()
    assert client.get("/export/download?layer=secrets").status_code == 400
    assert client.get("/export/download?format=docx").status_code == 400
    assert client.get("/export/download", query_string={"state": bad_area}).status_code == 400
    assert client.get("/briefing/download?format=doc").status_code == 400


def test_briefing_route_sends_the_screen_as_html(demo_db: tuple[Engine, Settings]) -> None:
    engine, settings = demo_db
    client = _client(engine, settings, "command")
    viewer = Viewer("command", Role.COMMAND, settings.host_agency)
    with session_scope(engine) as s:
        suffolk = find_area(session=s, viewer=viewer, name="Suffolk")
        state = ScreenState("custom", *FEB, area={"type": "region", "id": suffolk})
        f = screen_filter(state, session=s, viewer=viewer, tz=settings.timezone)
        n = len(filtered_events(session=s, viewer=viewer, filters=f))
    resp = client.get(
        "/briefing/download", query_string={"format": "html", "state": state.to_json()}
    )
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "Regional picture: Suffolk" in page and f"Events: <b>{n}</b>" in page and n > 1000
    assert page.count("TLP:AMBER") >= 2  # the marking at the top and the bottom

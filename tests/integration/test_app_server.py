"""The Flask side of the real app: /healthz and the map callback as a plain function."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from layers.view import MapConfig, build_map_view
from security.roles import Role, Viewer
from settings import Settings
from store.engine import session_scope
from store.queries import EventFilter

CONFIG = MapConfig(42.36, -71.06, 10, "white-bg", "/assets/basemap/counties.geojson")


def test_healthz_reports_backend_version_and_counts(demo_db: tuple[Engine, Settings]) -> None:
    from app import create_app

    engine, settings = demo_db
    client = create_app(settings).server.test_client()
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["backend"] == ("spatialite" if engine.dialect.name == "sqlite" else "postgis")
    assert body["schema_version"] == "i4_data_versions"
    assert body["counts"]["events"] == 12045 and body["counts"]["sites"] == 960


def test_default_view_shows_the_last_30_days_of_data(demo_db: tuple[Engine, Settings]) -> None:
    engine, settings = demo_db
    viewer = Viewer("officer", Role.WATCH_OFFICER, settings.host_agency)
    with session_scope(engine) as s:
        view = build_map_view(
            session=s,
            viewer=viewer,
            filters=EventFilter(),
            preset="30d",
            custom=None,
            visible=("hexes", "suspicious", "incidents", "sites"),
            res=8,
            max_points=1000,
            tz=settings.timezone,
            config=CONFIG,
        )
    assert view.window is not None
    assert pd.Timestamp(view.window.end_at) == pd.Timestamp("2023-03-09 05:00", tz="UTC")
    assert (
        view.counts["suspicious"] > 0 and view.counts["incidents"] > 0 and view.counts["hexes"] > 0
    )
    assert view.counts["sites"] == 960
    uids = [t["uid"] for t in view.figure["data"]]
    assert uids[0] == "hexes" and "suspicious" in uids and "incidents" in uids
    assert any(u.startswith("sites-") for u in uids)
    incidents = next(t for t in view.figure["data"] if t["uid"] == "incidents")
    assert len(incidents["lon"]) == 1000 < view.counts["incidents"]
    assert view.notes and "newest 1,000" in view.notes[0]
    assert view.marking == "TLP:AMBER"
    assert view.figure["layout"]["uirevision"] == "watchfloor-map"

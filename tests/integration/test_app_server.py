"""The Flask side of the real app: /healthz and the map callback as a plain function."""

from __future__ import annotations

import pandas as pd
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from domain.roles import Role, Viewer
from layers.view import MapConfig, MapView, build_map_view
from security.users import DEMO_PASSWORD, DEMO_USERS
from settings import Settings
from store.engine import session_scope
from store.migrate import alembic_config
from store.queries import EventFilter
from testkit.security_kit import sign_in

CONFIG = MapConfig(42.36, -71.06, 10, "white-bg", "/assets/basemap/counties.geojson")


def test_healthz_reports_backend_version_and_counts(demo_db: tuple[Engine, Settings]) -> None:
    from app import create_app

    engine, settings = demo_db
    client = create_app(settings).server.test_client()
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["backend"] == ("spatialite" if engine.dialect.name == "sqlite" else "postgis")
    assert (
        body["schema_version"] == ScriptDirectory.from_config(alembic_config()).get_current_head()
    )
    assert "counts" not in body  # volumes only for a signed-in administrator
    assert sign_in(client, "demo-officer", DEMO_PASSWORD) == 302
    assert "counts" not in client.get("/healthz").get_json()
    admin = create_app(settings).server.test_client()
    assert sign_in(admin, "demo-admin", DEMO_PASSWORD) == 302
    body = admin.get("/healthz").get_json()
    assert body["counts"]["events"] == 12045 and body["counts"]["sites"] == 960
    assert body["counts"]["users"] == len(DEMO_USERS)


def test_default_view_shows_the_last_30_days_of_data(demo_db: tuple[Engine, Settings]) -> None:
    engine, settings = demo_db
    viewer = Viewer("officer", Role.WATCH_OFFICER, settings.host_agency)

    def view_with(max_points: int) -> MapView:
        with session_scope(engine) as s:
            return build_map_view(
                session=s,
                viewer=viewer,
                filters=EventFilter(),
                preset="30d",
                custom=None,
                visible=("hexes", "suspicious", "incidents", "sites"),
                res=8,
                max_points=max_points,
                tz=settings.timezone,
                config=CONFIG,
            )

    view = view_with(1000)
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
    # More incidents than the point budget: none drawn, the notes say to zoom in.
    assert len(incidents["lon"]) == 0 < 1000 < view.counts["incidents"]
    assert "incidents" in view.hidden_points
    assert view.notes and "more than 1,000" in view.notes[0] and "zoom in" in view.notes[0]
    # Within the budget every point of the window is drawn.
    roomy = view_with(view.counts["incidents"] + view.counts["suspicious"])
    drawn = {t["uid"]: len(t["lon"]) for t in roomy.figure["data"] if "lon" in t}
    assert drawn["incidents"] == roomy.counts["incidents"] and not roomy.hidden_points
    assert drawn["suspicious"] == roomy.counts["suspicious"] and not roomy.notes
    assert view.marking == "TLP:AMBER"
    assert view.figure["layout"]["uirevision"] == "watchfloor-map"

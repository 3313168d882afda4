"""The area filter on both backends: SQL and columnar paths agree; the export is the screen."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine

from domain.roles import Role, Viewer
from exports.service import export_layers
from layers.selection import (
    ScreenState,
    SelectionError,
    resolve_selection,
    screen_filter,
    screen_filter_without_lost_area,
    screen_state,
)
from layers.timeline import timeline_frame
from layers.view import MapConfig, build_map_view
from settings import Settings
from store.engine import session_scope
from store.queries import EventFilter, event_points, hex_counts
from store.queries.areas import filtered_events, find_area, list_areas
from store.queries.exports import event_rows
from store.queries.hexagg import cell_counts

ANALYST = Viewer("ana", Role.ANALYST, "MA-CFC")
PARTNER = Viewer("pat", Role.PARTNER, "CAMBRIDGE-PD")
CONFIG = MapConfig(42.36, -71.06, 10, "white-bg", None)
FEB = (datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 3, 1, tzinfo=UTC))
LASSO = [[-71.10, 42.33], [-71.03, 42.33], [-71.03, 42.37], [-71.07, 42.39], [-71.11, 42.36]]


def _state(s: object, viewer: Viewer, **area: object) -> ScreenState:
    """February, the three commonest categories the viewer sees, every agency and caveat."""
    every = event_points(
        session=s,  # type: ignore[arg-type]
        viewer=viewer,
        filters=EventFilter(
            window=screen_filter(
                ScreenState("custom", *FEB),
                session=s,
                viewer=viewer,
                tz="UTC",  # type: ignore[arg-type]
            ).window
        ),
        limit=10**7,
    )
    top = every["category"].value_counts().index[:3].tolist()
    if viewer is ANALYST:  # one suspicious-activity category among them
        top.append(every.loc[every["kind"] == "suspicious", "category"].value_counts().index[0])
    return ScreenState(
        "custom",
        *FEB,
        categories=tuple(sorted(top)),
        agencies=tuple(sorted(every["source_agency"].unique())),
        caveats=tuple(sorted(every["handling"].unique())),
        area=dict(area),
    )


@pytest.mark.parametrize("viewer", [ANALYST, PARTNER], ids=["analyst", "partner"])
def test_filtered_export_holds_exactly_what_the_map_shows(
    demo_db: tuple[Engine, Settings], tmp_path: Path, viewer: Viewer
) -> None:
    engine, settings = demo_db
    with session_scope(engine) as s:
        suffolk = find_area(session=s, viewer=viewer, name="Suffolk")
        assert suffolk is not None
        state = _state(s, viewer, type="region", id=suffolk)
        f = screen_filter(state, session=s, viewer=viewer, tz=settings.timezone)
        assert f.area is not None and f.categories == state.categories
        view = build_map_view(
            session=s,
            viewer=viewer,
            filters=f,
            preset=state.preset,
            custom=state.custom,
            visible=("hexes",),
            res=8,
            max_points=10,
            tz=settings.timezone,
            config=CONFIG,
        )
        cached = cell_counts(session=s, viewer=viewer, filters=f, res=8)
        in_sql = hex_counts(session=s, viewer=viewer, filters=f, res=8)
        exported = export_layers(
            ["suspicious", "incidents", "hexes"],
            "csv",
            tmp_path / "screen.zip",
            session=s,
            viewer=viewer,
            filters=f,
        )
        rows = event_rows(session=s, viewer=viewer, filters=f)
        ids = filtered_events(session=s, viewer=viewer, filters=f)["id"]
        without_area = event_points(
            session=s, viewer=viewer, filters=EventFilter(**{**vars(f), "area": None}), limit=10**7
        )
        timeline = timeline_frame(session=s, viewer=viewer, filters=f, tz=settings.timezone)
    # The reference: the same filter without the area, then shapely's containment.
    inside = shapely.contains_xy(
        f.area, without_area["lon"].to_numpy(), without_area["lat"].to_numpy()
    )
    assert sorted(ids) == sorted(without_area.loc[inside, "id"])
    assert 0 < len(ids) <= len(without_area)  # Boston lies in Suffolk: the lasso test narrows
    # Columnar cache (the map) and SQL (the export) count the same cells.
    pd.testing.assert_frame_equal(
        cached.sort_values("cell").reset_index(drop=True),
        in_sql.sort_values("cell").reset_index(drop=True),
    )
    total = int(cached["total"].sum())
    assert total == len(ids) == len(rows) == int(timeline["total"].sum())
    assert view.counts["suspicious"] + view.counts["incidents"] == total
    assert exported.rows["suspicious"] + exported.rows["incidents"] == total
    assert exported.rows["hexes"] == len(cached) == view.counts["hexes"]
    assert set(rows["category"]) <= set(state.categories)
    if viewer is PARTNER:
        assert exported.rows["suspicious"] == 0 and exported.metadata["handling"] == "TLP:GREEN"
    else:
        assert exported.rows["suspicious"] > 0


def test_a_drawn_lasso_filters_sql_and_cache_alike(demo_db: tuple[Engine, Settings]) -> None:
    engine, settings = demo_db
    with session_scope(engine) as s:
        state = ScreenState("custom", *FEB, area={"type": "lasso", "points": LASSO})
        f = screen_filter(state, session=s, viewer=ANALYST, tz=settings.timezone)
        cached = cell_counts(session=s, viewer=ANALYST, filters=f, res=9)
        in_sql = hex_counts(session=s, viewer=ANALYST, filters=f, res=9)
        points = event_points(session=s, viewer=ANALYST, filters=f, limit=10**7)
        unfiltered = hex_counts(session=s, viewer=ANALYST, filters=replace(f, area=None), res=9)
    assert int(cached["total"].sum()) == int(in_sql["total"].sum()) == len(points) > 100
    assert len(points) < int(unfiltered["total"].sum())
    assert shapely.contains_xy(f.area, points["lon"].to_numpy(), points["lat"].to_numpy()).all()
    assert np.array_equal(np.sort(cached["cell"]), np.sort(in_sql["cell"]))


def test_an_area_the_viewer_may_not_see_is_refused(demo_db: tuple[Engine, Settings]) -> None:
    engine, _ = demo_db
    with session_scope(engine) as s:
        hazards = list_areas(session=s, viewer=ANALYST, kind="hazard")
        region_id = int(list_areas(session=s, viewer=ANALYST, kind="region")["id"].iloc[0])
        with pytest.raises(SelectionError):  # a region id asked for as a hazard
            resolve_selection({"type": "hazard", "id": region_id}, session=s, viewer=ANALYST)
        with pytest.raises(SelectionError):
            resolve_selection({"type": "region", "id": 10**9}, session=s, viewer=ANALYST)
        storm = resolve_selection(
            {"type": "hazard", "id": int(hazards["id"].iloc[0])}, session=s, viewer=ANALYST
        )
    assert storm is not None and storm.area > 0


def test_a_lost_area_leaves_the_other_filters_on_the_map_and_the_hexagon_list(
    demo_db: tuple[Engine, Settings],
) -> None:
    """Issue #19: the map dropped a lost area but kept the categories; the hexagon's list kept
    only the window, so it listed events its hexagon did not count. One policy now serves both.
    """
    from analytics.cells import cells_to_str
    from app import create_app
    from testkit.security_kit import callback_payload, make_users, sign_in

    engine, settings = demo_db
    window = {"preset": "custom", "start": "2023-02-01", "end": "2023-03-01"}
    with session_scope(engine) as s:  # the window as the app reads it (the center's zone)
        feb = screen_filter(
            screen_state(window, {}), session=s, viewer=ANALYST, tz=settings.timezone
        )
        every = event_points(session=s, viewer=ANALYST, filters=feb, limit=10**7)
        category = str(every["category"].value_counts().index[0])
        one = replace(feb, categories=(category,))
        counts = hex_counts(session=s, viewer=ANALYST, filters=feb, res=8).set_index("cell")
        of_one = hex_counts(session=s, viewer=ANALYST, filters=one, res=8).set_index("cell")
    # The busiest hexagon of that category that also holds others (where the policies differ).
    both = of_one["total"][of_one["total"] < counts["total"].reindex(of_one.index)]
    cell = both.idxmax()
    expected = int(both.max())
    cell = cell if isinstance(cell, str) else str(cells_to_str(np.array([cell]))[0])

    make_users(engine, settings, ("analyst",))
    client = create_app(settings).server.test_client()
    assert sign_in(client, "analyst") == 302
    deps = client.get("/_dash-dependencies").get_json()
    lost = {"categories": [category], "area": {"type": "region", "id": 10**9}}
    values = {
        "map-graph.clickData": {"points": [{"location": cell}]},
        "window-store.data": window,
        "filter-store.data": lost,
    }
    cb = next(c for c in deps if "cell-title.children" in c["output"])
    payload = callback_payload(cb, values, ["map-graph.clickData"])
    resp = client.post(
        "/_dash-update-component", json=payload, headers={"Origin": "http://localhost"}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    title = resp.get_json()["response"]["cell-title"]["children"]
    assert title.endswith(f": {expected:,} events"), title
    with session_scope(engine) as s:
        filters, problem = screen_filter_without_lost_area(
            ScreenState("custom", *FEB, categories=(category,), area=lost["area"]),
            session=s,
            viewer=ANALYST,
            tz="UTC",
        )
    assert problem is not None and problem.startswith("Area ignored")
    assert filters.categories == (category,) and filters.area is None

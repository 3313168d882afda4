"""Read paths on the demo kit: hex counts equal a brute-force reference; visibility holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from analytics.cells import cells_to_parent, children_range
from analytics.timebuckets import TimeWindow
from domain.roles import Role, Viewer
from settings import Settings
from store.engine import session_scope
from store.queries import EventFilter, event_points, event_time_range, hex_counts, site_points

CENTER = Viewer("officer", Role.WATCH_OFFICER, "MA-CFC")
PARTNER = Viewer("partner", Role.PARTNER, "CAMBRIDGE-PD")
SOURCE_PARTNER = Viewer("bpd-user", Role.PARTNER, "BPD")
WINDOW = TimeWindow(pd.Timestamp("2023-02-01", tz="UTC"), pd.Timestamp("2023-03-01", tz="UTC"))


def _all_points(engine: Engine, viewer: Viewer, filters: EventFilter) -> pd.DataFrame:
    with session_scope(engine) as s:
        pts = event_points(session=s, viewer=viewer, filters=filters, limit=10**7)
    from sqlalchemy import select

    from store.models import Event

    with session_scope(engine) as s:
        cells = dict(s.execute(select(Event.id, Event.cell)).all())
    pts["cell"] = pts["id"].map(cells).astype("int64")
    return pts


@pytest.mark.parametrize("res", [7, 8, 9])
def test_hex_counts_equal_brute_force_reference(demo_db: tuple[Engine, Settings], res: int) -> None:
    engine, _ = demo_db
    filters = EventFilter(window=WINDOW)
    with session_scope(engine) as s:
        got = hex_counts(session=s, viewer=CENTER, filters=filters, res=res)
    pts = _all_points(engine, CENTER, filters)
    pts["hex"] = cells_to_parent(pts["cell"].to_numpy(), res)
    ref = pts.groupby("hex").agg(
        total=("id", "size"),
        suspicious=("kind", lambda k: int((k == "suspicious").sum())),
        severity_sum=("severity", "sum"),
    )
    got = got.set_index("cell").sort_index()
    assert got.index.tolist() == ref.index.tolist()
    assert got["total"].tolist() == ref["total"].tolist()
    assert got["suspicious"].tolist() == ref["suspicious"].tolist()
    assert got["severity_sum"].tolist() == ref["severity_sum"].astype(int).tolist()
    assert int(got["total"].sum()) == len(pts) > 1000


def test_window_edges_are_half_open(demo_db: tuple[Engine, Settings]) -> None:
    engine, _ = demo_db
    pts = _all_points(engine, CENTER, EventFilter())
    t = pts["occurred_at"].sort_values().iloc[len(pts) // 2]
    at_t = int((pts["occurred_at"] == t).sum())
    before = TimeWindow(pd.Timestamp("2022-01-01", tz="UTC"), t)
    after = TimeWindow(t, pd.Timestamp("2024-01-01", tz="UTC"))
    with session_scope(engine) as s:
        n_before = int(
            hex_counts(session=s, viewer=CENTER, filters=EventFilter(window=before), res=8)[
                "total"
            ].sum()
        )
        n_after = int(
            hex_counts(session=s, viewer=CENTER, filters=EventFilter(window=after), res=8)[
                "total"
            ].sum()
        )
    assert n_before == int((pts["occurred_at"] < t).sum())
    assert n_after == int((pts["occurred_at"] >= t).sum()) and at_t >= 1
    assert n_before + n_after == len(pts)


def test_empty_window_gives_empty_frames(demo_db: tuple[Engine, Settings]) -> None:
    engine, _ = demo_db
    empty = TimeWindow(pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2020-01-02", tz="UTC"))
    with session_scope(engine) as s:
        assert hex_counts(session=s, viewer=CENTER, filters=EventFilter(window=empty), res=8).empty
        assert event_points(
            session=s, viewer=CENTER, filters=EventFilter(window=empty), limit=10
        ).empty
        assert event_time_range(session=s, viewer=CENTER, filters=EventFilter(window=empty)) is None


def test_partner_counts_exclude_amber_reports(demo_db: tuple[Engine, Settings]) -> None:
    engine, _ = demo_db
    with session_scope(engine) as s:
        center = hex_counts(session=s, viewer=CENTER, filters=EventFilter(), res=8)
        partner = hex_counts(session=s, viewer=PARTNER, filters=EventFilter(), res=8)
        source = hex_counts(session=s, viewer=SOURCE_PARTNER, filters=EventFilter(), res=8)
        partner_points = event_points(session=s, viewer=PARTNER, filters=EventFilter(), limit=10**6)
    # Demo SARs are TLP:AMBER: another agency's partner sees none of them, not even as a count.
    assert int(center["suspicious"].sum()) > 2000
    assert int(partner["suspicious"].sum()) == 0
    assert set(partner_points["handling"]) == {"TLP:GREEN"}
    assert int(partner["incident"].sum()) == int(center["incident"].sum())
    # The source agency's own partner user sees its own AMBER reports.
    assert int(source["suspicious"].sum()) == int(center["suspicious"].sum())


def test_children_range_selects_the_events_of_one_hexagon(demo_db: tuple[Engine, Settings]) -> None:
    engine, settings = demo_db
    pts = _all_points(engine, CENTER, EventFilter())
    busiest = int(pd.Series(cells_to_parent(pts["cell"].to_numpy(), 8)).value_counts().index[0])
    lo, hi = children_range(busiest, settings.h3_store_res)
    inside = pts[(pts["cell"] >= lo) & (pts["cell"] <= hi)]
    assert (cells_to_parent(inside["cell"].to_numpy(), 8) == busiest).all()
    assert len(inside) == int((cells_to_parent(pts["cell"].to_numpy(), 8) == busiest).sum())


def test_time_range_and_point_order(demo_db: tuple[Engine, Settings]) -> None:
    engine, _ = demo_db
    with session_scope(engine) as s:
        first, last = event_time_range(session=s, viewer=CENTER)  # type: ignore[misc]
        newest = event_points(session=s, viewer=CENTER, filters=EventFilter(), limit=5)
    assert str(last) == "2023-03-09 02:48:00+00:00"
    assert str(first) == "2023-01-01 00:00:00+00:00"
    assert newest["occurred_at"].is_monotonic_decreasing
    assert newest["occurred_at"].iloc[0] == pd.Timestamp(last)


def test_sites_by_bbox_and_tier(demo_db: tuple[Engine, Settings]) -> None:
    engine, _ = demo_db
    boston = (-71.2, 42.22, -70.95, 42.42)
    with session_scope(engine) as s:
        everything = site_points(session=s, viewer=CENTER)
        in_box = site_points(session=s, viewer=CENTER, bbox=boston)
        tier1 = site_points(session=s, viewer=CENTER, max_tier=1)
    assert len(everything) == 960
    lon, lat = everything["lon"].to_numpy(), everything["lat"].to_numpy()
    expected = (lon >= boston[0]) & (lon <= boston[2]) & (lat >= boston[1]) & (lat <= boston[3])
    assert len(in_box) == int(expected.sum()) > 100
    assert set(tier1["tier"]) == {1}
    assert {"Gen Edw L Logan Intl", "Boston Police Headquarters"} <= set(tier1["name"])
    assert np.all(np.diff(everything["tier"].to_numpy()) >= 0)

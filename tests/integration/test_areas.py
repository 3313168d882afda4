"""Regions and hazards on both backends: containment matches shapely; visibility holds."""

from __future__ import annotations

import pandas as pd
import shapely
from sqlalchemy import Engine

from analytics.timebuckets import TimeWindow
from domain.roles import Role, Viewer
from reports.regional import previous_window, regional_picture
from settings import Settings
from store.engine import session_scope
from store.queries import EventFilter, event_points, site_points
from store.queries.areas import area_shape, events_in_area, find_area, list_areas, sites_in_area

COMMAND = Viewer("cmd", Role.COMMAND, "MA-CFC")
PARTNER = Viewer("pat", Role.PARTNER, "CAMBRIDGE-PD")
FEBRUARY = TimeWindow(pd.Timestamp("2023-02-01", tz="UTC"), pd.Timestamp("2023-03-01", tz="UTC"))


def test_demo_areas_are_the_counties_and_storms(demo_db: tuple[Engine, Settings]) -> None:
    engine, _ = demo_db
    with session_scope(engine) as s:
        areas = list_areas(session=s, viewer=COMMAND)
    assert sorted(areas.loc[areas["kind"] == "hazard", "name"]) == [
        "Bob 1991",
        "Gloria 1985",
        "Irma 2017",
        "Sandy 2012",
    ]
    assert (areas["subtype"] == "county").sum() == 14


def test_events_and_sites_in_area_match_a_shapely_reference(
    demo_db: tuple[Engine, Settings],
) -> None:
    engine, _ = demo_db
    with session_scope(engine) as s:
        suffolk = find_area(session=s, viewer=COMMAND, name="suffolk")
        assert suffolk is not None
        shape = area_shape(session=s, viewer=COMMAND, area_id=suffolk)
        got = events_in_area(
            session=s, viewer=COMMAND, area_id=suffolk, filters=EventFilter(window=FEBRUARY)
        )
        every = event_points(
            session=s, viewer=COMMAND, filters=EventFilter(window=FEBRUARY), limit=10**7
        )
        sites = sites_in_area(session=s, viewer=COMMAND, area_id=suffolk)
        all_sites = site_points(session=s, viewer=COMMAND)
    inside = shapely.contains_xy(shape, every["lon"].to_numpy(), every["lat"].to_numpy())
    assert sorted(got["id"]) == sorted(every.loc[inside, "id"]) and 0 < len(got) < len(every)
    site_inside = shapely.contains_xy(
        shape, all_sites["lon"].to_numpy(), all_sites["lat"].to_numpy()
    )
    assert sorted(sites["id"]) == sorted(all_sites.loc[site_inside, "id"])
    assert "Gen Edw L Logan Intl" in set(sites["name"])


def test_regional_picture_counts_add_up_and_respect_visibility(
    demo_db: tuple[Engine, Settings],
) -> None:
    engine, _ = demo_db
    with session_scope(engine) as s:
        bob = find_area(session=s, viewer=COMMAND, name="Bob 1991")
        assert bob is not None
        command = regional_picture(session=s, viewer=COMMAND, area_id=bob, window=FEBRUARY)
        partner = regional_picture(session=s, viewer=PARTNER, area_id=bob, window=FEBRUARY)
        before = events_in_area(
            session=s,
            viewer=COMMAND,
            area_id=bob,
            filters=EventFilter(window=previous_window(FEBRUARY)),
        )
    assert int(command.categories["now"].sum()) == command.totals["events_now"] > 1000
    assert int(command.categories["before"].sum()) == command.totals["events_before"] == len(before)
    assert command.totals["suspicious_now"] > 0 and partner.totals["suspicious_now"] == 0
    assert "suspicious" not in set(partner.categories["kind"])
    assert int(command.sites["sites"].sum()) == command.totals["sites"] > 100
    assert int(command.busiest["events"].iloc[0]) >= int(command.busiest["events"].iloc[-1])


def test_unknown_or_ambiguous_area_names_find_nothing(demo_db: tuple[Engine, Settings]) -> None:
    engine, _ = demo_db
    with session_scope(engine) as s:
        assert find_area(session=s, viewer=COMMAND, name="Atlantis") is None
        assert events_in_area(session=s, viewer=COMMAND, area_id=10**9, filters=EventFilter()).empty

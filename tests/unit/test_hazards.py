"""HURDAT2 parsing and wind-radii footprints."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

import analytics.hazards as hz
from analytics.hazards import fix_footprint, parse_hurdat2, track_footprint
from data_loaders.demo import DEMO_DIR

GEOD = Geod(ellps="WGS84")


def test_doctests_pass() -> None:
    result = doctest.testmod(hz)
    assert result.attempted > 0 and result.failed == 0


def test_demo_file_parses_every_fix() -> None:
    text = (DEMO_DIR / "hurdat2_selected_storms.txt").read_text()
    fixes = parse_hurdat2(text)
    # Header lines give each storm's number of fixes; the parser must find exactly those.
    headers = [
        line.split(",") for line in text.splitlines() if line.count(",") <= 4 and line.strip()
    ]
    assert {h[0].strip(): int(h[2]) for h in headers} == fixes.groupby("storm_id").size().to_dict()
    bob = fixes[fixes["name"] == "BOB"]
    assert bob["time"].is_monotonic_increasing and bob["lon"].lt(0).all()
    assert fixes.filter(like="r34_").isna().all(axis=None) == False  # noqa: E712  (Irma, Sandy)


def test_quadrant_radii_are_geodesic_distances() -> None:
    fix = pd.Series(
        {
            "lon": -70.0,
            "lat": 40.0,
            "status": "HU",
            "r34_ne": 120.0,
            "r34_se": 80.0,
            "r34_sw": 40.0,
            "r34_nw": 60.0,
        }
    )
    shape = fix_footprint(fix)
    for azimuth, radius_nm in [(45, 120.0), (135, 80.0), (225, 40.0), (315, 60.0)]:
        inside_lon, inside_lat, _ = GEOD.fwd(-70.0, 40.0, azimuth, radius_nm * 1852 * 0.97)
        outside_lon, outside_lat, _ = GEOD.fwd(-70.0, 40.0, azimuth, radius_nm * 1852 * 1.03)
        assert shape.contains(shapely.Point(inside_lon, inside_lat))
        assert not shape.contains(shapely.Point(outside_lon, outside_lat))


def test_fixes_without_radii_use_the_status_fallback() -> None:
    fix = pd.Series(
        {"lon": -70.0, "lat": 40.0, "status": "TS", **{f"r34_{q}": np.nan for q in hz.QUADRANTS}}
    )
    shape = fix_footprint(fix, fallback_km={"TS": 80.0})
    north_in = GEOD.fwd(-70.0, 40.0, 0, 78_000)[:2]
    north_out = GEOD.fwd(-70.0, 40.0, 0, 82_000)[:2]
    assert shape.contains(shapely.Point(*north_in)) and not shape.contains(
        shapely.Point(*north_out)
    )


def test_track_footprint_covers_the_path_between_fixes() -> None:
    fixes = parse_hurdat2((DEMO_DIR / "hurdat2_selected_storms.txt").read_text())
    bob = fixes[fixes["name"] == "BOB"]
    footprint = track_footprint(bob)
    # Every point on the straight segment between consecutive fixes lies inside the swept area.
    for (_, a), (_, b) in zip(bob.iterrows(), bob.iloc[1:].iterrows(), strict=False):
        for t in (0.25, 0.5, 0.75):
            assert footprint.contains(
                shapely.Point(a.lon + t * (b.lon - a.lon), a.lat + t * (b.lat - a.lat))
            )
    assert footprint.contains(shapely.Point(-71.06, 42.36))  # Bob passed over Boston


def test_bad_hurdat2_lines_are_refused() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_hurdat2("AL011999, TEST, 1,\n19990101, 0000, , HU, 40N\n")

"""Distances to sites in metres, protection radii, and flag fingerprints, scores, visibility."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

import analytics.flags as fl
import analytics.proximity as px
from analytics.cells import cell_centres, points_to_cells
from analytics.hotspots import DetectionParams, scan
from testkit import detection_scenarios as sc

UNTIL = pd.Timestamp("2023-06-01", tz="UTC")
SITE = (42.3656, -71.0096)  # Logan airport


def test_doctests_pass() -> None:
    for module in (px, fl):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0


def test_distance_in_metres_matches_geodesic() -> None:
    cell = int(points_to_cells([42.36], [-71.06], 15)[0])  # ~1 m across: a point
    lat, lon = cell_centres([cell])
    geod = Geod(ellps="GRS80")
    lon2, lat2, _ = geod.fwd(lon[0], lat[0], 60.0, 1500.0)
    hits = px.sites_near([cell], [lon2], [lat2], np.array([2000.0]))
    assert len(hits) == 1
    assert hits[0].distance_m == pytest.approx(1500.0, rel=0.003)
    assert px.sites_near([cell], [lon2], [lat2], np.array([1400.0])) == []


def test_radii_by_sector_and_tier_with_site_override() -> None:
    sites = pd.DataFrame(
        {
            "sector": [
                "Nuclear Reactors, Materials and Waste",
                "Energy",
                "Commercial Facilities",
                "Energy",
                "Unknown",
            ],
            "tier": [2, 2, 2, 1, 2],
            "protection_radius_m": [None, None, None, None, 750.0],
        }
    )
    r = px.protection_radii(sites)
    assert r[0] > r[1] > r[2]
    assert r[3] == pytest.approx(r[1] * px.DEFAULT_TIER_FACTOR[1])
    assert r[4] == 750.0
    custom = px.protection_radii(sites.iloc[:1], sector_radius_m={}, default_radius_m=10.0)
    assert custom.tolist() == [10.0]


def test_priority_grows_with_each_part() -> None:
    base = {"q_value": 1e-3, "tier": 2, "distance_m": 200.0, "radius_m": 1000.0}
    base |= {"age_s": 86_400.0, "share": 0.5}
    score = fl.priority_score(**base)
    for key, better in [
        ("q_value", 1e-5),
        ("tier", 1),
        ("distance_m", 50.0),
        ("age_s", 0.0),
        ("share", 0.9),
    ]:
        assert fl.priority_score(**(base | {key: better})) > score
    assert 0 <= score <= 100


@pytest.mark.parametrize(
    ("handlings", "agencies", "expected"),
    [
        (["TLP:GREEN", "TLP:CLEAR"], ["A", "A"], ("TLP:GREEN", "A")),
        (["TLP:GREEN", "LES"], ["A", "B"], ("LES", "B")),
        (["TLP:AMBER", "TLP:RED"], ["A", "A"], ("TLP:RED", "A")),
        (["TLP:AMBER", "TLP:RED"], ["A", "B"], ("TLP:RED", "")),
        (["BOGUS"], ["A"], ("TLP:RED", "A")),
    ],
)
def test_flag_visibility_is_most_restrictive(
    handlings: list[str], agencies: list[str], expected: tuple[str, str]
) -> None:
    assert fl.flag_visibility(handlings, agencies) == expected


def _sites() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2],
            "name": ["Logan", "Far away"],
            "sector": ["Transportation Systems", "Energy"],
            "tier": [1, 2],
            "lon": [SITE[1], -73.0],
            "lat": [SITE[0], 42.5],
            "handling": ["TLP:CLEAR", "TLP:CLEAR"],
            "source_agency": ["FAA", "EIA"],
        }
    )


def test_build_flags_near_site_only_and_explains_itself() -> None:
    bg = sc.background(20_000, seed=21, days=180)
    near = sc.plant(*SITE, n=10, until=UNTIL, seed=1)
    decoy = sc.plant(42.05, -72.2, n=10, until=UNTIL, seed=2)  # no site within reach
    events = sc.with_ids(pd.concat([bg, near, decoy], ignore_index=True), prefix="f")
    params = DetectionParams()
    result = scan(events, until=UNTIL, params=params)
    assert len(result.clusters) >= 2
    sites = _sites()
    flags = fl.build_flags(result.clusters, events, sites, px.protection_radii(sites), params)
    assert len(flags) == 1
    flag = flags[0]
    assert flag.nearest_site_id == 1 and flag.site_ids == (1,)
    assert flag.nearest_distance_m < px.protection_radii(sites)[0]
    ex = flag.explanation
    assert ex["observed"] == flag.observed == len(flag.event_ids)
    assert ex["sites"][0]["name"] == "Logan" and ex["sites"][0]["tier"] == 1
    assert set(ex["by_category"]) >= {"SURVL"} or set(ex["by_category"]) >= {"PHOTO"}
    assert ex["parameters"]["res"] == 9 and ex["distance_crs"] == "EPSG:26986"
    assert "Kulldorff" in ex["method"] and "Benjamini" in ex["method"]
    # Same data, same fingerprint.
    again = fl.build_flags(
        scan(events, until=UNTIL, params=params).clusters,
        events,
        sites,
        px.protection_radii(sites),
        params,
    )
    assert [f.fingerprint for f in again] == [flag.fingerprint]

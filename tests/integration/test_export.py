"""Exports on both backends: every format reads back; exactly the filter on screen; round trip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from sqlalchemy import Engine

from data_loaders.ingest import ingest_path
from data_loaders.profiles import load_profile
from domain.roles import Role, Viewer
from exports.formats import FORMATS, SUFFIX, sidecar_path
from exports.service import build_filter, export_layers
from layers.view import MapConfig, build_map_view
from settings import Settings
from store.engine import session_scope
from store.queries import EventFilter, event_points

ANALYST = Viewer("ana", Role.ANALYST, "MA-CFC")
PARTNER = Viewer("pat", Role.PARTNER, "CAMBRIDGE-PD")
FEBRUARY = build_filter(since="2023-02-01", until="2023-03-01")
CONFIG = MapConfig(42.36, -71.06, 10, "white-bg", None)


def _read(path: Path, fmt: str, layer: str) -> pd.DataFrame:
    if fmt == "shp":
        return pyogrio.read_dataframe(f"/vsizip/{path}/{layer}.shp")
    if fmt == "kmz":
        return pyogrio.read_dataframe(f"/vsizip/{path}/doc.kml")
    return pyogrio.read_dataframe(path, layer=layer if fmt == "gpkg" else None)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_reads_back_with_rows_geometry_and_metadata(
    demo_db: tuple[Engine, Settings], tmp_path: Path, fmt: str
) -> None:
    engine, _ = demo_db
    out = tmp_path / f"suspicious{SUFFIX[fmt]}"
    with session_scope(engine) as s:
        result = export_layers(
            ["suspicious"], fmt, out, session=s, viewer=ANALYST, filters=FEBRUARY
        )
        expected = event_points(
            session=s,
            viewer=ANALYST,
            filters=EventFilter(window=FEBRUARY.window, kinds=("suspicious",)),
            limit=10**6,
        )
    back = _read(out, fmt, "suspicious")
    assert len(back) == len(expected) == result.rows["suspicious"] > 500
    assert set(back.geometry.geom_type) == {"Point"}
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["handling"] == "TLP:AMBER" and meta["rows"] == {"suspicious": len(expected)}
    assert meta["filters"]["start_at"].startswith("2023-02-01")
    assert meta["exported_by"] == {"user": "ana", "role": "analyst", "agency": "MA-CFC"}
    if fmt in ("kml", "kmz"):
        # GDAL's KML reader gives name and geometry back; the attributes are in ExtendedData.
        assert set(back["Name"]) == set(expected["id"].map(str)) or len(set(back["Name"])) == len(
            back
        )
        return
    ids = "ext_id" if fmt == "shp" else "external_id"
    assert back[ids].nunique() == len(back)
    if fmt == "geojson":
        assert json.loads(out.read_text())["watchfloor"]["handling"] == "TLP:AMBER"
    if fmt == "gpkg":
        inside = pyogrio.read_info(out, layer="suspicious")["layer_metadata"]["watchfloor"]
        assert json.loads(inside)["rows"] == {"suspicious": len(expected)}
    if fmt == "shp":
        assert "suspicious.metadata.json" in zipfile.ZipFile(out).namelist()


def test_export_holds_exactly_what_the_screen_counts(
    demo_db: tuple[Engine, Settings], tmp_path: Path
) -> None:
    engine, settings = demo_db
    with session_scope(engine) as s:
        view = build_map_view(
            session=s,
            viewer=ANALYST,
            filters=EventFilter(),
            preset="30d",
            custom=None,
            visible=("hexes",),
            res=8,
            max_points=10,
            tz=settings.timezone,
            config=CONFIG,
        )
        on_screen = EventFilter(window=view.window)
        result = export_layers(
            ["all"], "gpkg", tmp_path / "all.gpkg", session=s, viewer=ANALYST, filters=on_screen
        )
    assert result.rows["suspicious"] == view.counts["suspicious"]
    assert result.rows["incidents"] == view.counts["incidents"]
    assert result.rows["hexes"] == view.counts["hexes"]
    hexes = pyogrio.read_dataframe(tmp_path / "all.gpkg", layer="hexes")
    assert int(hexes["total"].sum()) == view.counts["suspicious"] + view.counts["incidents"]
    assert set(hexes.geometry.geom_type) == {"Polygon"}
    assert sorted(pyogrio.list_layers(tmp_path / "all.gpkg")[:, 0]) == [
        "flags",
        "hazards",
        "hexes",
        "incidents",
        "regions",
        "sites",
        "suspicious",
    ]
    # Regions and hazards are layers like any other: the 14 counties and the 4 demo storms.
    regions = pyogrio.read_dataframe(tmp_path / "all.gpkg", layer="regions")
    hazards = pyogrio.read_dataframe(tmp_path / "all.gpkg", layer="hazards")
    assert len(regions) == result.rows["regions"] == 14 and "Suffolk" in set(regions["name"])
    assert len(hazards) == result.rows["hazards"] == 4
    assert hazards["valid_from"].notna().all()
    assert set(regions.geometry.geom_type) <= {"Polygon", "MultiPolygon"}


def test_partner_export_holds_nothing_restricted(
    demo_db: tuple[Engine, Settings], tmp_path: Path
) -> None:
    engine, _ = demo_db
    with session_scope(engine) as s:
        result = export_layers(
            ["all"], "geojson", tmp_path / "all.zip", session=s, viewer=PARTNER, filters=FEBRUARY
        )
    assert result.rows["suspicious"] == 0 and result.rows["incidents"] > 1000
    assert result.metadata["handling"] == "TLP:GREEN"
    members = zipfile.ZipFile(tmp_path / "all.zip").namelist()
    assert "incidents.geojson" in members and "hexes.geojson.metadata.json" in members


@pytest.mark.parametrize(
    ("fmt", "profile"),
    [
        ("geojson", "watchfloor_export"),
        ("csv", "watchfloor_export"),
        ("gpkg", "watchfloor_export"),
        ("shp", "watchfloor_export_shp"),
    ],
)
def test_round_trip_through_ingest_changes_nothing(
    demo_db: tuple[Engine, Settings], tmp_path: Path, fmt: str, profile: str
) -> None:
    engine, settings = demo_db
    out = tmp_path / f"suspicious{SUFFIX[fmt]}"
    with session_scope(engine) as s:
        result = export_layers(
            ["suspicious"], fmt, out, session=s, viewer=ANALYST, filters=FEBRUARY
        )
    summary = ingest_path(
        engine, out, load_profile(profile), area=None, store_res=settings.h3_store_res
    )
    assert summary.rows_read == result.rows["suspicious"]
    assert (summary.inserted, summary.updated, summary.quarantined) == (0, 0, 0)
    assert summary.unchanged == result.rows["suspicious"]


def test_build_filter_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="four numbers"):
        build_filter(bbox="1,2,3")
    with pytest.raises(ValueError, match="time window"):
        build_filter(since="yesterday-ish")


def test_flags_export_as_polygons_of_their_cells(
    demo_db: tuple[Engine, Settings], tmp_path: Path
) -> None:
    from jobs.detection import run_detection
    from store.queries.flags import flag_rows

    engine, settings = demo_db
    run_detection(engine, settings, since=pd.Timestamp("2023-01-01", tz="UTC").to_pydatetime())
    with session_scope(engine) as s:
        stored = flag_rows(session=s, viewer=ANALYST)
        result = export_layers(
            ["flags"],
            "geojson",
            tmp_path / "flags.geojson",
            session=s,
            viewer=ANALYST,
            filters=EventFilter(),
        )
        partner = export_layers(
            ["flags"], "csv", tmp_path / "p.csv", session=s, viewer=PARTNER, filters=EventFilter()
        )
    back = pyogrio.read_dataframe(tmp_path / "flags.geojson")
    assert len(back) == len(stored) == result.rows["flags"] > 0
    assert set(back.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    assert sorted(back["id"]) == sorted(stored["id"])
    # Demo flags are built from AMBER reports: another agency's partner gets none of them.
    assert partner.rows["flags"] == 0


def test_area_layers_follow_the_area_filter(
    demo_db: tuple[Engine, Settings], tmp_path: Path
) -> None:
    from store.queries.areas import area_shape, find_area

    engine, _ = demo_db
    with session_scope(engine) as s:
        suffolk = find_area(session=s, viewer=ANALYST, name="Suffolk")
        assert suffolk is not None
        shape = area_shape(session=s, viewer=ANALYST, area_id=suffolk)
        result = export_layers(
            ["regions", "hazards", "sites"],
            "geojson",
            tmp_path / "areas.zip",
            session=s,
            viewer=ANALYST,
            filters=EventFilter(area=shape),
            area_name="Suffolk",
        )
    # Suffolk touches its neighbours (shared borders intersect), not the whole state.
    assert 1 < result.rows["regions"] < 14 and result.rows["sites"] > 100
    assert result.metadata["filters"]["area"] == "Suffolk"
    assert result.metadata["filters"]["area_bounds"] == list(shape.bounds)

"""Hostile files through `manage.py ingest`: a clear message or a quarantine, never a traceback.

The files are generated in a temporary folder; each is read through the real command line
(``manage.main``) into a real SpatiaLite file (reading does not depend on the backend; the
backend-specific paths are covered in test_ingest_cli.py on both).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point
from sqlalchemy import select

import manage
from settings import get_settings
from store.engine import dispose_engines, make_engine, session_scope
from store.models import Event, QuarantinedRow, Site

Run = Callable[..., tuple[int, dict, str]]
N = 20


@pytest.fixture
def db(tmp_path: Path, spatialite_template: Path) -> Iterator[str]:
    path = tmp_path / "hostile.sqlite"
    shutil.copy(spatialite_template, path)
    yield f"sqlite:///{path}"
    dispose_engines()


@pytest.fixture
def run(db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db)
    monkeypatch.setenv("WATCHFLOOR_LOG_LEVEL", "WARNING")

    def _run(path: Path, *extra: str, kind: str = "incident") -> tuple[int, dict, str]:
        get_settings.cache_clear()
        argv = ["ingest", str(path), "--kind", kind, "--source", "TEST", "--json", *extra]
        rc = manage.main(argv)
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        payload = json.loads(out) if out.strip() else {}
        if payload:
            counted = sum(payload[k] for k in ("inserted", "updated", "unchanged", "quarantined"))
            assert counted == payload["rows_read"]
        return rc, payload, err

    yield _run
    get_settings.cache_clear()


def _events(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "report_id": [f"R{seed}-{i}" for i in range(n)],
            "latitude": (42.36 + rng.normal(0, 0.02, n)).round(6),
            "longitude": (-71.06 + rng.normal(0, 0.02, n)).round(6),
            "occurred": pd.date_range("2023-02-01 08:00", periods=n, freq="7h").strftime(
                "%Y-%m-%d %H:%M"
            ),
            "type": rng.choice(["VANDALISM", "LARCENY"], n),
            "narrative": "seen near the gate",
        }
    )


def _stored(db: str, model: type = Event) -> list:
    engine = make_engine(db)
    with session_scope(engine) as s:
        rows = s.execute(select(model)).scalars().all()
    engine.dispose()
    return list(rows)


def test_empty_header_only_and_binary_files_fail_with_a_message(tmp_path: Path, run: Run) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header = tmp_path / "header.csv"
    header.write_text("id,lat,lon,date\n")
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    unknown = tmp_path / "report.docx"
    unknown.write_bytes(b"PK\x03\x04")
    for path, message in [
        (empty, "is empty"),
        (garbage, "looks binary"),
        (unknown, "unknown format"),
        (tmp_path / "missing.csv", "no file"),
    ]:
        rc, payload, err = run(path)
        assert rc == 1 and payload == {} and message in err, (path.name, err)
    rc, payload, _ = run(header)
    assert rc == 1 and payload["rows_read"] == 0


def test_unrecognisable_columns_say_what_the_file_has(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "spaces.csv"
    _events().to_csv(path, index=False, sep=" ")  # a delimiter the sniffer is not offered
    rc, _, err = run(path)
    assert rc == 1 and "no position found" in err and "the file has the columns" in err
    no_time = tmp_path / "no_time.csv"
    _events().rename(columns={"occurred": "stamp"}).to_csv(no_time, index=False)
    rc, _, err = run(no_time)
    assert rc == 1 and "no time column found" in err
    rc, payload, _ = run(no_time, "--time-column", "stamp")
    assert rc == 0 and payload["inserted"] == N


def test_delimiters_bom_and_latin1_all_read(tmp_path: Path, run: Run, db: str) -> None:
    frame = _events()
    frame.loc[0, "narrative"] = "café près de la gare"
    semicolon = tmp_path / "semi.csv"
    frame.to_csv(semicolon, index=False, sep=";")
    tsv = tmp_path / "tabs.txt"
    frame.assign(report_id=frame["report_id"] + "t").to_csv(tsv, index=False, sep="\t")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(
        b"\xef\xbb\xbf"
        + frame.assign(report_id=frame["report_id"] + "b").to_csv(index=False).encode()
    )
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(
        frame.assign(report_id=frame["report_id"] + "l").to_csv(index=False).encode("latin-1")
    )
    for path in (semicolon, tsv, bom, latin):
        rc, payload, err = run(path)
        assert rc == 0 and payload["inserted"] == N, (path.name, err)
        assert payload["columns"]["external_id"] == "report_id"
    texts = {e.external_id: e.description for e in _stored(db)}
    assert texts["R0-0"] == texts["R0-0l"] == texts["R0-0b"] == "café près de la gare"


def test_quoted_newlines_mixed_dates_and_malformed_lines(tmp_path: Path, run: Run, db: str) -> None:
    path = tmp_path / "messy.csv"
    path.write_text(
        "id,lat,lon,date,street\n"
        '1,42.35,-71.05,2023-03-04 14:30,"GENEVA AVE\nBOSTON MA"\n'
        "2,42.35,-71.05,03/04/2023 2:30 PM,A ST\n"
        "3,42.35,-71.05,2023-03-04T19:30:00Z,B ST\n"
        "4,42.35,-71.05,1677958200,C ST\n"
        '5,42.35,-71.05,"March 4, 2023 2:30pm",D ST,EXTRA,FIELDS\n'
        '6,42.35,-71.05,"Mar 4 2023 14:30",E ST\n'
    )
    rc, payload, _ = run(path)
    assert rc == 0 and payload["rows_read"] == 6
    assert payload["inserted"] == 5 and payload["reasons"] == {"malformed_row": 1}
    events = {e.external_id: e for e in _stored(db)}
    assert events["1"].location_text == "GENEVA AVE\nBOSTON MA"
    # 14:30 in Boston on 4 March 2023 is 19:30 UTC, whichever way it was written.
    assert {pd.Timestamp(e.occurred_at) for e in events.values()} == {
        pd.Timestamp("2023-03-04 19:30", tz="UTC")
    }
    (bad,) = _stored(db, QuarantinedRow)
    assert bad.reason == "malformed_row" and "line 6" in bad.detail


def test_swapped_and_non_numeric_coordinates(tmp_path: Path, run: Run, db: str) -> None:
    frame = _events()
    frame.loc[[0, 1], ["latitude", "longitude"]] = frame.loc[
        [0, 1], ["longitude", "latitude"]
    ].to_numpy()
    frame["latitude"] = frame["latitude"].astype(object)
    frame.loc[2, "latitude"] = "north-ish"
    path = tmp_path / "swapped.csv"
    frame.to_csv(path, index=False)
    _, payload, _ = run(path)
    assert payload["notes"] == {"swapped_coordinates_fixed": 2}
    assert payload["reasons"] == {"bad_coordinates": 1} and payload["inserted"] == N - 1
    fixed = {e.external_id: e for e in _stored(db)}["R0-0"]
    assert 42 < fixed.lat < 43 and -72 < fixed.lon < -70
    # The same file with a profile that quarantines suspected swaps instead.
    profile = tmp_path / "strict.yaml"
    profile.write_text(
        "name: strict\nsource: STRICT\nkind: incident\nswapped_coordinates: quarantine\n"
        "columns: {external_id: report_id, lat: latitude, lon: longitude, occurred_at: occurred}\n"
    )
    _, payload, _ = run(path, "--profile", str(profile))
    assert payload["reasons"] == {"bad_coordinates": 1, "swapped_coordinates": 2}


def test_a_ten_megabyte_field_is_cut_with_a_note_and_the_row_kept(
    tmp_path: Path, run: Run, db: str
) -> None:
    frame = _events(3)
    frame.loc[1, "narrative"] = "x" * 10_000_000
    path = tmp_path / "huge.csv"
    frame.to_csv(path, index=False)
    _, payload, _ = run(path)
    assert payload["inserted"] == 3 and payload["notes"] == {"truncated_fields": 1}
    lengths = sorted(len(e.description) for e in _stored(db))
    assert lengths == [18, 18, 100_000]


def test_location_wkt_and_split_date_time_columns(tmp_path: Path, run: Run, db: str) -> None:
    base = _events(4)
    loc = pd.DataFrame(
        {
            "Case Number": base["report_id"],
            "Location": "("
            + base["latitude"].astype(str)
            + ", "
            + base["longitude"].astype(str)
            + ")",
            "Incident Date": "03/04/2023",
            "Incident Time": ["2:30 PM", "14:30", "02:30 PM", "14:30:00"],
        }
    )
    path = tmp_path / "location.csv"
    loc.to_csv(path, index=False)
    _, payload, _ = run(path)
    assert payload["inserted"] == 4
    assert payload["columns"]["occurred_at"] == ["Incident Date", "Incident Time"]
    wkt = pd.DataFrame(
        {
            "id": ["w1", "w2", "w3"],
            "WKT": [
                "POINT (-71.06 42.36)",
                '{"type": "Point", "coordinates": [-71.0, 42.3]}',
                "nope",
            ],
            "timestamp": ["1677958200", "1677958200", "1677958200"],
        }
    )
    path = tmp_path / "wkt.csv"
    wkt.to_csv(path, index=False)
    _, payload, _ = run(path)
    assert payload["inserted"] == 2 and payload["reasons"] == {"bad_coordinates": 1}
    stored = {e.external_id: e for e in _stored(db)}
    assert (stored["w1"].lon, stored["w1"].lat) == (-71.06, 42.36)
    assert {pd.Timestamp(stored[k].occurred_at) for k in ("w1", loc["Case Number"][0])} == {
        pd.Timestamp("2023-03-04 19:30", tz="UTC")
    }


def _gdf(n: int = 5, *, crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    frame = _events(n, seed=5)
    geometry = [Point(x, y) for x, y in zip(frame["longitude"], frame["latitude"], strict=True)]
    gdf = gpd.GeoDataFrame(frame.drop(columns=["latitude", "longitude"]), geometry=geometry)
    return gdf.set_crs("EPSG:4326").to_crs(crs) if crs else gdf


def test_spatial_formats_and_reprojection(tmp_path: Path, run: Run, db: str) -> None:
    reference = _events(5, seed=5)
    gpkg = tmp_path / "events.gpkg"
    _gdf().to_file(gpkg, driver="GPKG")
    state_plane = tmp_path / "stateplane.geojson"
    _gdf(crs="EPSG:26986").assign(report_id=lambda f: f["report_id"] + "s").to_file(
        state_plane, driver="GeoJSON"
    )
    for path in (gpkg, state_plane):
        rc, payload, err = run(path)
        assert rc == 0 and payload["inserted"] == 5, (path.name, err)
    stored = {e.external_id: e for e in _stored(db)}
    for i in range(5):
        want = (reference["longitude"][i], reference["latitude"][i])
        got = (stored[f"R5-{i}s"].lon, stored[f"R5-{i}s"].lat)
        assert np.allclose(got, want, atol=1e-7), (got, want)


def test_kml_and_kmz_sites(tmp_path: Path, run: Run, db: str) -> None:
    # GDAL's KML driver (no LIBKML here) reads Name, Description and the geometry.
    sites = _gdf(3)[["report_id", "geometry"]].rename(columns={"report_id": "Name"})
    kml = tmp_path / "sites.kml"
    sites.to_file(kml, driver="KML")
    kmz = tmp_path / "sites.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.writestr("doc.kml", kml.read_text().replace("R5-", "Z5-"))
    not_kmz = tmp_path / "broken.kmz"
    not_kmz.write_bytes(b"not a zip at all")
    for path in (kml, kmz):
        rc, payload, err = run(path, "--sector", "Dams", kind="site")
        assert rc == 0 and payload["inserted"] == 3, (path.name, err)
    rc, _, err = run(not_kmz, "--sector", "Dams", kind="site")
    assert rc == 1 and "not a KMZ" in err
    assert sorted(s.name for s in _stored(db, Site))[:2] == ["R5-0", "R5-1"]


def test_null_geometries_and_shapefile_without_prj(tmp_path: Path, run: Run, db: str) -> None:
    gdf = _gdf(4)
    gdf.loc[[1, 2], "geometry"] = None
    nulls = tmp_path / "nulls.geojson"
    gdf.to_file(nulls, driver="GeoJSON")
    rc, payload, _ = run(nulls)
    assert payload["inserted"] == 2 and payload["reasons"] == {"missing_coordinates": 2}

    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    _gdf(3).assign(report_id=lambda f: f["report_id"] + "p").to_file(shp_dir / "events.shp")
    zipped = tmp_path / "events.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for part in shp_dir.iterdir():
            if part.suffix != ".prj":
                zf.write(part, part.name)
    rc, payload, err = run(zipped)
    assert rc == 1 and ".prj" in err and "--crs" in err
    rc, payload, _ = run(zipped, "--crs", "EPSG:4326")
    assert rc == 0 and payload["inserted"] == 3


def test_sites_go_in_with_a_sector(tmp_path: Path, run: Run, db: str) -> None:
    sites = pd.DataFrame(
        {
            "Facility Name": ["Pump A", "Pump B"],
            "lat": [42.3, 42.4],
            "lon": [-71.1, -71.2],
            "tier": ["1", "2"],
        }
    )
    path = tmp_path / "sites.csv"
    sites.to_csv(path, index=False)
    rc, _, err = run(path, kind="site")
    assert rc == 1 and "sector" in err
    rc, payload, _ = run(path, "--sector", "Water and Wastewater Systems", kind="site")
    assert rc == 0 and payload["inserted"] == 2
    stored = sorted((s.name, s.tier, s.sector) for s in _stored(db, Site))
    assert stored == [
        ("Pump A", 1, "Water and Wastewater Systems"),
        ("Pump B", 2, "Water and Wastewater Systems"),
    ]


def test_big_spatial_files_are_read_in_pages(tmp_path: Path) -> None:
    from data_loaders.readers import iter_tables

    gpkg = tmp_path / "many.gpkg"
    _gdf(25).to_file(gpkg, driver="GPKG")
    pages = list(iter_tables(gpkg, chunk_rows=10))
    assert [len(p) for p in pages] == [10, 10, 5]
    whole = next(iter_tables(gpkg, chunk_rows=100))
    assert pd.concat([p.frame for p in pages], ignore_index=True).equals(whole.frame)
    assert np.array_equal(np.concatenate([p.lon for p in pages]), whole.lon)

"""Chunked export writers: the same rows as one write, and long text keyed across chunks."""

from __future__ import annotations

import gc
import io
import json
import weakref
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from exports.chunked import write_layers_chunked
from exports.formats import DBF_MAX_CHARS, write_layers


def _frame(start: int, n: int, long_at: int | None = None) -> gpd.GeoDataFrame:
    text = [f"row {i}" for i in range(start, start + n)]
    if long_at is not None:
        text[long_at - start] = "x" * (DBF_MAX_CHARS + 50)
    return gpd.GeoDataFrame(
        {"external_id": [f"e{i}" for i in range(start, start + n)], "description": text},
        geometry=[Point(-71 + i / 1000, 42.3) for i in range(start, start + n)],
        crs="EPSG:4326",
    )


def test_write_layers_chunked_shapefile_keys_long_text_by_fid_across_chunks(
    tmp_path: Path,
) -> None:
    chunks = [_frame(0, 3), _frame(3, 3, long_at=4)]
    path = tmp_path / "incidents.zip"
    write_layers_chunked({"incidents": lambda: iter(chunks)}, "shp", path, {"generator": "t"})
    back = pyogrio.read_dataframe(f"/vsizip/{path}/incidents.shp")
    assert back["ext_id"].tolist() == [f"e{i}" for i in range(6)]
    with zipfile.ZipFile(path) as zf:
        full = pd.read_csv(io.BytesIO(zf.read("incidents.long_fields.csv")))
        meta = json.loads(zf.read("incidents.metadata.json"))
    # The row with fid 4 (second chunk, second row) keeps its whole text.
    assert full["fid"].tolist() == [4]
    assert len(full.loc[0, "description"]) == DBF_MAX_CHARS + 50
    assert "incidents.long_fields.csv" in meta["dbf_long_fields"]["description"]


def _read(path: Path, fmt: str) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(f"/vsizip/{path}/doc.kml" if fmt == "kmz" else path)


def _kml_rows(path: Path, fmt: str) -> list[dict[str, str]]:
    """Each placemark's name and ExtendedData values (GDAL's KML reader, without LIBKML, reads
    only Name and Description back)."""
    if fmt == "kmz":
        with zipfile.ZipFile(path) as zf:
            text = zf.read("doc.kml")
    else:
        text = path.read_bytes()
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    return [
        {
            "Name": mark.findtext("k:name", namespaces=ns) or "",
            **{d.get("name", ""): d.text or "" for d in mark.iterfind(".//k:SimpleData", ns)},
        }
        for mark in ElementTree.fromstring(text).iterfind(".//k:Placemark", ns)
    ]


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg", "kml", "kmz"])
def test_write_layers_chunked_reads_back_like_one_write(tmp_path: Path, fmt: str) -> None:
    chunks = [_frame(0, 4), _frame(4, 3), _frame(7, 0)]
    whole = pd.concat(chunks[:2], ignore_index=True)
    meta = {"generator": "t", "rows": {"incidents": 7}}
    one = write_layers(
        {"incidents": gpd.GeoDataFrame(whole, crs="EPSG:4326")}, fmt, tmp_path / f"one.{fmt}", meta
    )[0]
    chunked = write_layers_chunked(
        {"incidents": lambda: iter(chunks)}, fmt, tmp_path / f"chunked.{fmt}", meta
    )[0]
    a, b = _read(one, fmt), _read(chunked, fmt)
    assert list(a.columns) == list(b.columns) and len(b) == 7
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    )
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-7).all()
    if fmt in ("kml", "kmz"):  # the attributes, which GDAL's KML reader does not give back
        assert _kml_rows(chunked, fmt) == _kml_rows(one, fmt)
        assert [r["narrative"] for r in _kml_rows(chunked, fmt)] == whole["description"].tolist()


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_kml_chunks_with_a_column_missing_in_the_first_chunk_read_back_whole(
    tmp_path: Path, fmt: str
) -> None:
    first = _frame(0, 2)
    first["caveat"] = None  # no value in the first chunk: Arrow's null type, text later
    second = _frame(2, 2)
    second["caveat"] = ["TLP:AMBER", None]
    path = tmp_path / f"x.{fmt}"
    write_layers_chunked({"incidents": lambda: iter([first, second])}, fmt, path, {"g": "t"})
    rows = _kml_rows(path, fmt)
    assert [r["external_id"] for r in rows] == ["e0", "e1", "e2", "e3"]
    assert [r.get("caveat") for r in rows] == [None, None, "TLP:AMBER", None]


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_kml_of_a_layer_without_rows_is_written(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"empty.{fmt}"
    files = write_layers_chunked({"incidents": lambda: iter([_frame(0, 0)])}, fmt, path, {})
    assert files[0].exists() and len(_read(path, fmt)) == 0


def test_kml_is_written_as_the_chunks_come_not_gathered_first(tmp_path: Path) -> None:
    # A gathering writer holds every chunk until the end; the streamed one lets a chunk go once
    # GDAL has written it: when chunk k is made, chunk k-2 is gone.
    made: list[weakref.ref[gpd.GeoDataFrame]] = []
    alive_when_made: list[bool] = []

    def source() -> Iterator[gpd.GeoDataFrame]:
        for k in range(6):
            gc.collect()
            alive_when_made.append(k >= 3 and made[k - 2]() is not None)
            frame = _frame(k * 50, 50)
            made.append(weakref.ref(frame))
            yield frame

    path = tmp_path / "stream.kml"
    write_layers_chunked({"incidents": source}, "kml", path, {})
    assert len(_read(path, "kml")) == 300
    assert alive_when_made[3:] == [False, False, False]

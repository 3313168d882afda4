"""Chunked export writers: the same rows as one write, and long text keyed across chunks."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

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


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg", "kml"])
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
    a, b = pyogrio.read_dataframe(one), pyogrio.read_dataframe(chunked)
    assert list(a.columns) == list(b.columns) and len(b) == 7
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    )
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-7).all()

"""Format limits in exports: a Shapefile's 254-character text fields lose nothing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry import Point

from exports.formats import DBF_MAX_CHARS, write_layers


def test_shapefile_keeps_text_longer_than_a_dbf_field_in_a_sidecar(tmp_path: Path) -> None:
    cells = ",".join(f"89283082{i:07x}ffff" for i in range(40))  # a big flag's cell list
    assert len(cells) > DBF_MAX_CHARS
    frame = gpd.GeoDataFrame(
        {"flag_id": [1, 2], "h3_cells": [cells, "8928308280fffff"], "note": ["short", None]},
        geometry=[Point(-71.06, 42.36), Point(-71.1, 42.3)],
        crs="EPSG:4326",
    )
    path = tmp_path / "flags.zip"
    write_layers({"flags": frame}, "shp", path, {"generator": "test"})
    back = pyogrio.read_dataframe(f"/vsizip/{path}/flags.shp")
    assert len(back["h3_cells"].iloc[0]) <= DBF_MAX_CHARS < len(cells)  # the .dbf cuts it
    with zipfile.ZipFile(path) as zf:
        full = pd.read_csv(io.BytesIO(zf.read("flags.long_fields.csv")))
        meta = json.loads(zf.read("flags.metadata.json"))
    assert list(full.columns) == ["fid", "h3_cells"]  # only the column that overflowed
    assert full.loc[full["fid"] == 0, "h3_cells"].item() == cells
    assert full.loc[full["fid"] == 1, "h3_cells"].item() == "8928308280fffff"
    assert "flags.long_fields.csv" in meta["dbf_long_fields"]["h3_cells"]


def test_shapefile_without_long_text_has_no_sidecar(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(-71.06, 42.36)], crs="EPSG:4326")
    path = tmp_path / "sites.zip"
    write_layers({"sites": frame}, "shp", path, {"generator": "test"})
    with zipfile.ZipFile(path) as zf:
        assert not [n for n in zf.namelist() if n.endswith(".long_fields.csv")]
        assert "dbf_long_fields" not in json.loads(zf.read("sites.metadata.json"))

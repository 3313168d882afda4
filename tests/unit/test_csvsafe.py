"""The one CSV-cell rule (OWASP CSV injection) and the writers that use it (issue #18, #5)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from exports.csvsafe import FORMULA_PREFIXES, safe_cell, safe_frame
from exports.formats import write_layers
from exports.stream import csv_chunks


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_every_dangerous_start_gets_a_quote(prefix: str) -> None:
    assert safe_cell(prefix + "cmd|' /C calc'!A0") == "'" + prefix + "cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "value", ["-71.06", "+1", "-1e5", ".5", -71.06, 3, None, "Boston", "", "'=already text"]
)
def test_numbers_and_plain_text_are_kept(value: object) -> None:
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", ["-1+2", "-71.06 ", "=1", "@A1", "-", "+"])
def test_text_that_only_looks_numeric_is_quoted(value: str) -> None:
    assert safe_cell(value) == "'" + value


def test_safe_frame_changes_text_columns_only() -> None:
    frame = pd.DataFrame(
        {
            "lon": [-71.1, -71.2, np.nan],
            "n": [1, 2, 3],
            "text": ["=SUM(A1)", None, "ok"],
            "mixed": [-5, "@x", "-5"],
            "=name": ["a", "b", "c"],
        }
    )
    out = safe_frame(frame)
    assert out["lon"].dtype == np.float64 and out["n"].dtype == frame["n"].dtype
    assert out["text"].tolist()[0] == "'=SUM(A1)" and out["text"].isna().tolist()[1]
    assert out["mixed"].tolist() == [-5, "'@x", "-5"]
    assert list(out.columns)[-1] == "'=name"
    assert frame["text"].tolist()[0] == "=SUM(A1)"  # a copy: the caller's frame is untouched


def _frame(texts: list[str]) -> gpd.GeoDataFrame:
    n = len(texts)
    return gpd.GeoDataFrame(
        {"description": texts, "lon": np.linspace(-71.2, -71.0, n)},
        geometry=list(shapely.points(np.linspace(-71.2, -71.0, n), np.full(n, 42.3))),
        crs=4326,
    )


def test_streamed_csv_quotes_a_cr_inside_a_value() -> None:
    text = b"".join(csv_chunks(iter([_frame(["note\r=cmd()", "@x"])]))).decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[1] for r in rows[1:]] == ["note\r=cmd()", "'@x"]
    assert [float(r[2]) for r in rows[1:]] == [-71.2, -71.0]


def test_shapefile_long_text_sidecar_is_neutralised(tmp_path: Path) -> None:
    path = tmp_path / "incidents.zip"
    write_layers({"incidents": _frame(["=" + "x" * 300, "short"])}, "shp", path, {})
    with zipfile.ZipFile(path) as zf:
        text = zf.read("incidents.long_fields.csv").decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1][1] == "'=" + "x" * 300

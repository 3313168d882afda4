"""Pure parts of the read APIs: parameters, credentials, chunked GeoJSON and CSV text."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from api.auth import basic_credentials
from api.errors import ApiError
from api.params import int_param, query_filter
from exports.formats import write_layers
from exports.stream import csv_chunks, geojson_chunks


def _frame(n: int, start: int = 0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "external_id": [f"E{i}" for i in range(start, start + n)],
            "severity": [None if i % 3 == 0 else float(i) / 3 for i in range(start, start + n)],
            "occurred_at": pd.to_datetime(
                [f"2023-02-0{1 + i % 9}T12:00:00Z" for i in range(start, start + n)], utc=True
            ),
            "description": ['say "hi", then\nleave' for _ in range(n)],
        },
        geometry=[shapely.Point(-71.0 - i / 1e4, 42.3 + i / 1e5) for i in range(start, start + n)],
        crs="EPSG:4326",
    )


def test_query_filter_reads_datetime_intervals_and_open_ends() -> None:
    closed = query_filter({"datetime": "2023-02-01T00:00:00Z/2023-03-01T00:00:00Z"})
    assert closed.window is not None
    assert closed.window.start_at.isoformat() == "2023-02-01T00:00:00+00:00"
    # OGC intervals are closed: an event at the end instant is in it (end + 1 us, exclusive).
    assert closed.window.end_at.isoformat() == "2023-03-01T00:00:00.000001+00:00"
    open_start = query_filter({"datetime": "../2023-03-01"})
    assert open_start.window is not None and open_start.window.start_at.year == 1900
    instant = query_filter({"datetime": "2023-02-01T10:00:00Z"})
    assert instant.window is not None
    assert (instant.window.end_at - instant.window.start_at).total_seconds() == 1e-6


@pytest.mark.parametrize(
    "args",
    [
        {"datetime": "a/b"},
        {"datetime": "2023-01-01", "start": "2023-01-01"},
        {"bbox": "1,2,3,x"},
        {"bbox": "0,50,1,40"},
        {"kinds": "suspicious,alien"},
        {"area": "Suffolk County"},
    ],
)
def test_query_filter_refuses_bad_values_with_400(args: dict[str, str]) -> None:
    with pytest.raises(ApiError) as err:
        query_filter(args)
    assert err.value.status == 400


def test_int_param_bounds() -> None:
    assert int_param({}, "limit", 10, 1, 100) == 10
    assert int_param({"limit": "5"}, "limit", 10, 1, 100) == 5
    for bad in ("0", "101", "five"):
        with pytest.raises(ApiError):
            int_param({"limit": bad}, "limit", 10, 1, 100)


def test_basic_credentials_refuse_other_schemes_and_garbage() -> None:
    token = base64.b64encode(b"ana:pa:ss").decode()
    assert basic_credentials(f"Basic {token}") == ("ana", "pa:ss")
    assert basic_credentials("Basic !!!") is None
    assert basic_credentials("Basic " + base64.b64encode(b"nocolon").decode()) is None
    assert basic_credentials(None) is None


def test_chunked_geojson_reads_back_like_the_file_writer(tmp_path: Path) -> None:
    chunks = [_frame(4), _frame(0, 4), _frame(5, 4)]
    text = b"".join(geojson_chunks(iter(chunks), {"handling": "TLP:AMBER"}, name="x"))
    assert json.loads(text)["watchfloor"] == {"handling": "TLP:AMBER"}
    (tmp_path / "s.geojson").write_bytes(text)
    written = write_layers({"x": pd.concat(chunks)}, "geojson", tmp_path / "f.geojson", {})
    streamed = pyogrio.read_dataframe(tmp_path / "s.geojson")
    filed = pyogrio.read_dataframe(written[0])
    pd.testing.assert_frame_equal(streamed, filed)


def test_chunked_csv_has_one_header_and_quotes_text(tmp_path: Path) -> None:
    text = b"".join(csv_chunks(iter([_frame(3), _frame(4, 3)])))
    (tmp_path / "s.csv").write_bytes(text)
    back = pd.read_csv(tmp_path / "s.csv")
    assert list(back.columns) == ["WKT", "external_id", "severity", "occurred_at", "description"]
    assert len(back) == 7 and back["description"].iloc[0] == 'say "hi", then\nleave'
    assert back["occurred_at"].iloc[1] == "2023-02-02T12:00:00Z"
    assert shapely.from_wkt(back["WKT"].iloc[2]).equals(_frame(3).geometry.iloc[2])

"""No user text reaches a plotly figure as pseudo-HTML: every layer's traces escape it (#18)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import shapely

from analytics.cells import points_to_cells
from analytics.timebuckets import TimeWindow
from domain.roles import Role, Viewer
from layers.base import LayerRequest
from layers.registry import LAYERS
from layers.timeline import timeline_figure
from layers.view import MapConfig, map_figure
from store.queries.filters import EventFilter

LINK = '<a href="http://evil.example">x</a>'
N = 4


def _frame(key: str) -> pd.DataFrame:
    """Rows of the layer ``key`` whose every text field holds a link."""
    lon, lat = np.linspace(-71.2, -71.0, N), np.linspace(42.2, 42.4, N)
    at = pd.Timestamp("2023-02-01", tz="UTC") + pd.to_timedelta(np.arange(N), unit="h")
    text = [LINK] * N
    if key in ("incidents", "suspicious"):
        kind = "incident" if key == "incidents" else "suspicious"
        return pd.DataFrame(
            {
                "id": np.arange(N),
                "kind": kind,
                "category": text,
                "occurred_at": at,
                "lon": lon,
                "lat": lat,
                "severity": 1,
                "source_agency": text,
                "handling": text,
                "location_text": text,
            }
        )
    if key == "sites":
        return pd.DataFrame(
            {
                "id": np.arange(N),
                "name": text,
                "sector": [LINK, LINK + "2", "Energy", LINK],
                "subtype": text,
                "tier": [1, 2, 3, 1],
                "lon": lon,
                "lat": lat,
                "address": text,
            }
        )
    if key == "flags":
        cells = points_to_cells(lat, lon, 8)
        return pd.DataFrame(
            {
                "id": np.arange(N),
                "priority": np.full(N, 5.0),
                "status": text,
                "summary": text,
                "cells": [[int(c)] for c in cells],
                "lon": lon,
                "lat": lat,
                "site_lon": lon + 0.01,
                "site_lat": lat + 0.01,
            }
        )
    if key in ("regions", "hazards"):
        return pd.DataFrame(
            {
                "id": np.arange(N),
                "kind": "region" if key == "regions" else "hazard",
                "subtype": text,
                "name": text,
                "source_agency": text,
                "valid_from": at,
                "valid_to": at + pd.Timedelta(days=1),
                "geometry": list(shapely.box(lon, lat, lon + 0.01, lat + 0.01)),
            }
        )
    assert key == "hexes"
    cells = np.sort(points_to_cells(lat, lon, 8))
    return pd.DataFrame(
        {
            "cell": cells,
            "total": np.arange(1, N + 1),
            "suspicious": np.ones(N, dtype=np.int64),
            "incident": np.arange(N),
            "severity_sum": np.arange(1, N + 1),
        }
    )


def _unescaped(obj: object) -> list[str]:
    dumped = json.dumps(obj, ensure_ascii=False, default=str)
    return [s for s in ("<a", "</a") if s in dumped]


REQUEST = LayerRequest(
    viewer=Viewer("u", Role.ANALYST, "MA-CFC"),
    filters=EventFilter(),
    res=8,
    max_points=100,
    tz="America/New_York",
)


@pytest.mark.parametrize("key", list(LAYERS))
def test_every_layer_escapes_user_text_in_its_traces(key: str) -> None:
    traces = LAYERS[key].to_traces(_frame(key), request=REQUEST)
    assert traces, key
    assert not _unescaped(traces), (key, _unescaped(traces))
    # The text is still there, as text (not dropped).
    if key != "hexes":
        assert "&lt;a href=" in json.dumps(traces, ensure_ascii=False)


def test_the_map_and_timeline_figures_carry_no_link() -> None:
    traces = [t for key in LAYERS for t in LAYERS[key].to_traces(_frame(key), request=REQUEST)]
    figure = map_figure(traces, MapConfig(42.36, -71.06, 10, "white-bg", None))
    assert not _unescaped(figure)
    day = pd.Timestamp("2023-02-01", tz="UTC")
    window = TimeWindow(datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 2, 2, tzinfo=UTC))
    frame = pd.DataFrame({"bucket_start": [day], "incident": [1], "suspicious": [2]})
    assert not _unescaped(timeline_figure(frame, window, "America/New_York"))

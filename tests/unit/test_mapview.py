"""Viewport, zoom-to-resolution and timeline window helpers of the map panel."""

from __future__ import annotations

import doctest

import pandas as pd
import pytest

import layers.viewport as vp
from analytics.timebuckets import TimeWindow
from layers.timeline import brushed_window, step_window, timeline_figure

TZ = "America/New_York"


def test_doctests_pass() -> None:
    result = doctest.testmod(vp)
    assert result.failed == 0 and result.attempted > 0


def test_resolution_never_gets_coarser_when_zooming_in() -> None:
    zooms = [z / 4 for z in range(0, 80)]
    res = [vp.res_for_zoom(z) for z in zooms]
    assert res == sorted(res) and res[0] == 5 and res[-1] == vp.FINEST_AUTO_RES
    assert vp.res_for_zoom(20, finest=9) == 9


def test_relayout_view_reads_corners_and_padding_contains_the_view() -> None:
    corners = [[-71.2, 42.4], [-70.9, 42.4], [-70.9, 42.2], [-71.2, 42.2]]
    zoom, bbox = vp.relayout_view({"map.zoom": 10.5, "map._derived": {"coordinates": corners}})
    assert zoom == 10.5 and bbox == (-71.2, 42.2, -70.9, 42.4)
    assert vp.contains(vp.padded(bbox), bbox) and not vp.contains(bbox, vp.padded(bbox))
    assert vp.relayout_view({"autosize": True}) is None
    centred = vp.relayout_view({"map.zoom": 9, "map.center": {"lat": 42.3, "lon": -71.0}})
    assert centred is not None and centred[1][0] < -71.0 < centred[1][2]


def test_brushed_window_takes_whole_local_days_across_the_spring_change() -> None:
    w = brushed_window({"range": {"x": ["2023-03-11 10:00", "2023-03-12 06:00"]}}, TZ)
    assert w is not None
    assert pd.Timestamp(w.start_at) == pd.Timestamp("2023-03-11 05:00", tz="UTC")  # EST midnight
    assert pd.Timestamp(w.end_at) == pd.Timestamp("2023-03-13 04:00", tz="UTC")  # EDT midnight
    assert brushed_window(None, TZ) is None and brushed_window({"points": []}, TZ) is None


def test_step_window_keeps_local_midnights_over_dst() -> None:
    w = TimeWindow(
        pd.Timestamp("2023-03-11 05:00", tz="UTC").to_pydatetime(),
        pd.Timestamp("2023-03-12 05:00", tz="UTC").to_pydatetime(),
    )
    moved = step_window(w, TZ)
    assert pd.Timestamp(moved.start_at) == pd.Timestamp("2023-03-12 05:00", tz="UTC")
    assert pd.Timestamp(moved.end_at) == pd.Timestamp("2023-03-13 04:00", tz="UTC")


@pytest.mark.parametrize("tz", ["America/New_York", "Australia/Lord_Howe", "UTC"])
def test_timeline_days_are_the_local_dates_of_the_day_starts(tz: str) -> None:
    # Local midnights across both DST changes of a year, as the day buckets start.
    starts = pd.date_range("2023-01-01", "2024-01-05", freq="D", tz=tz).tz_convert("UTC")
    frame = pd.DataFrame({"bucket_start": starts, "suspicious": 0, "incident": 1})
    days = timeline_figure(frame, None, tz)["data"][0]["x"]
    assert days == [t.tz_convert(tz).strftime("%Y-%m-%d") for t in starts]
    assert all(type(d) is str for d in days)
    assert timeline_figure(frame.iloc[:0], None, tz)["data"][0]["x"] == []


def test_timeline_figure_stacks_kinds_and_shades_the_window() -> None:
    frame = pd.DataFrame(
        {
            "bucket_start": pd.DatetimeIndex(["2023-03-11 05:00", "2023-03-12 05:00"], tz="UTC"),
            "total": [3, 4],
            "suspicious": [1, 0],
            "incident": [2, 4],
            "severity_sum": [5, 6],
        }
    )
    fig = timeline_figure(frame, None, TZ)
    assert [t["y"] for t in fig["data"]] == [[2, 4], [1, 0]]
    assert fig["data"][0]["x"] == ["2023-03-11", "2023-03-12"] and fig["layout"]["shapes"] == []

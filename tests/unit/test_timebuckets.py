"""Time buckets in local time across daylight-saving changes, and trailing windows."""

from __future__ import annotations

import doctest

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analytics.timebuckets as tb
from analytics.timebuckets import TimeWindow, bucket_edges, bucket_starts, trailing_window

NY = "America/New_York"


def test_doctests_pass() -> None:
    result = doctest.testmod(tb)
    assert result.attempted > 0 and result.failed == 0


def test_day_buckets_follow_local_midnight_across_spring_change() -> None:
    times = pd.DatetimeIndex(
        ["2023-03-12 04:59", "2023-03-12 05:00", "2023-03-13 03:59", "2023-03-13 04:00"], tz="UTC"
    )
    starts = bucket_starts(times, "day", NY)
    assert [str(s) for s in starts] == [
        "2023-03-11 05:00:00+00:00",  # 23:59 EST on the 11th
        "2023-03-12 05:00:00+00:00",  # local midnight of the 23-hour day
        "2023-03-12 05:00:00+00:00",
        "2023-03-13 04:00:00+00:00",  # midnight EDT
    ]


def test_autumn_day_is_25_hours() -> None:
    w = TimeWindow(
        pd.Timestamp("2023-11-05 04:00", tz="UTC"), pd.Timestamp("2023-11-07 05:00", tz="UTC")
    )
    edges = bucket_edges(w, "day", NY)
    assert (edges[1] - edges[0]) == pd.Timedelta(hours=25)


def test_hour_buckets_in_the_repeated_autumn_hour_stay_distinct() -> None:
    times = pd.DatetimeIndex(
        ["2023-11-05 05:30", "2023-11-05 06:30"], tz="UTC"
    )  # 01:30 EDT, 01:30 EST
    starts = bucket_starts(times, "hour", NY)
    assert starts[0] != starts[1]
    assert [str(s) for s in starts] == ["2023-11-05 05:00:00+00:00", "2023-11-05 06:00:00+00:00"]


def test_week_buckets_start_on_local_monday() -> None:
    starts = bucket_starts(pd.DatetimeIndex(["2023-03-16 12:00"], tz="UTC"), "week", NY)
    local = starts[0].tz_convert(NY)
    assert local.dayofweek == 0 and local.hour == 0


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.integers(1_600_000_000, 1_800_000_000),
    bucket=st.sampled_from(["hour", "day", "week"]),
)
def test_each_instant_lies_in_its_bucket(seconds: int, bucket: tb.Bucket) -> None:
    t = pd.DatetimeIndex([pd.Timestamp(seconds, unit="s", tz="UTC")])
    start = bucket_starts(t, bucket, NY)[0]
    assert start <= t[0]
    longest = {"hour": 1, "day": 25, "week": 7 * 24 + 1}[bucket]
    assert t[0] - start < pd.Timedelta(hours=longest)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        bucket_starts(pd.DatetimeIndex(["2023-01-01"]), "day", NY)


def test_unknown_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown bucket"):
        bucket_starts(pd.DatetimeIndex(["2023-01-01"], tz="UTC"), "month", NY)  # type: ignore[arg-type]


def test_trailing_window_ends_at_end_of_local_day() -> None:
    w = trailing_window(pd.Timestamp("2023-03-09 02:48", tz="UTC"), 30, NY)  # 21:48 EST on the 8th
    assert str(pd.Timestamp(w.end_at)) == "2023-03-09 05:00:00+00:00"
    assert str(pd.Timestamp(w.start_at)) == "2023-02-07 05:00:00+00:00"
    assert w.duration_s == 30 * 86400


def test_time_window_validates() -> None:
    with pytest.raises(ValueError):
        TimeWindow(pd.Timestamp("2023-01-02", tz="UTC"), pd.Timestamp("2023-01-01", tz="UTC"))
    with pytest.raises(ValueError):
        TimeWindow(
            pd.Timestamp("2023-01-01").to_pydatetime(), pd.Timestamp("2023-01-02").to_pydatetime()
        )

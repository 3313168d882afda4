"""Time buckets and time windows in the center's local time zone, vectorised.

Notes
-----
Buckets are aligned to local wall-clock time (America/New_York by default), so a "day" is a local
calendar day: 23 hours long on the spring daylight-saving change and 25 on the autumn one. Every
input and output instant is a timezone-aware UTC timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd

Bucket = Literal["hour", "day", "week"]
BUCKETS: tuple[Bucket, ...] = ("hour", "day", "week")


@dataclass(frozen=True)
class TimeWindow:
    """A half-open UTC interval ``[start_at, end_at)``."""

    start_at: datetime
    end_at: datetime

    def __post_init__(self) -> None:
        for value in (self.start_at, self.end_at):
            if value.tzinfo is None:
                raise ValueError("TimeWindow needs timezone-aware datetimes")
        if self.end_at < self.start_at:
            raise ValueError("TimeWindow ends before it starts")

    @property
    def duration_s(self) -> float:
        """Length of the window in seconds."""
        return (self.end_at - self.start_at).total_seconds()


def _as_utc_index(times: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(times)
    if idx.tz is None:
        raise ValueError("times must be timezone-aware")
    return idx.tz_convert("UTC")


def bucket_starts(times: pd.Series | pd.DatetimeIndex, bucket: Bucket, tz: str) -> pd.DatetimeIndex:
    """Return the start (UTC) of the local-time bucket holding each instant.

    Parameters
    ----------
    times
        Timezone-aware instants.
    bucket
        ``"hour"``, ``"day"`` (local midnight) or ``"week"`` (local Monday midnight).
    tz
        IANA time zone of the center.

    Returns
    -------
    pandas.DatetimeIndex
        UTC bucket starts, one per input instant.

    Examples
    --------
    >>> t = pd.DatetimeIndex(["2023-03-12 07:30"], tz="UTC")  # 03:30 EDT, after the spring change
    >>> str(bucket_starts(t, "day", "America/New_York")[0])
    '2023-03-12 05:00:00+00:00'
    """
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}; use one of {BUCKETS}")
    utc = _as_utc_index(times)
    local = utc.tz_convert(tz)
    if bucket == "hour":
        # Floor the local wall clock, then undo each instant's own UTC offset: offsets only change
        # on the hour, so the repeated autumn hour stays two buckets, and half-hour zones work.
        wall = local.tz_localize(None)
        offset = wall - utc.tz_localize(None)
        return (wall.floor("h") - offset).tz_localize("UTC")
    else:
        naive = local.tz_localize(None).normalize()
        if bucket == "week":
            naive = naive - pd.to_timedelta(naive.dayofweek, unit="D")
    # A local midnight or hour never falls in a DST gap in America/New_York (changes at 02:00);
    # 'shift_forward' keeps other zones safe, and ambiguous hours take the first occurrence.
    ambiguous = np.ones(len(naive), dtype=bool)
    starts = naive.tz_localize(tz, ambiguous=ambiguous, nonexistent="shift_forward")
    return starts.tz_convert("UTC")


def bucket_edges(window: TimeWindow, bucket: Bucket, tz: str) -> pd.DatetimeIndex:
    """Return every bucket start (UTC) that overlaps ``window``, in order.

    Examples
    --------
    >>> w = TimeWindow(pd.Timestamp("2023-03-11 05:00", tz="UTC"),
    ...                pd.Timestamp("2023-03-14 04:00", tz="UTC"))
    >>> [str(t) for t in bucket_edges(w, "day", "America/New_York")]
    ['2023-03-11 05:00:00+00:00', '2023-03-12 05:00:00+00:00', '2023-03-13 04:00:00+00:00']
    """
    first = bucket_starts(pd.DatetimeIndex([window.start_at]), bucket, tz)[0]
    if bucket == "hour":
        # Local hours are not a local date_range: the repeated autumn hour is two buckets. Every
        # offset in use is a multiple of 15 minutes, so sampling UTC quarter hours finds them all.
        quarters = pd.date_range(first, pd.Timestamp(window.end_at), freq="15min", inclusive="left")
        starts = bucket_starts(quarters, "hour", tz).unique() if len(quarters) else []
        return pd.DatetimeIndex(starts if len(starts) else [first]).tz_convert("UTC")
    step = {"hour": "h", "day": "D", "week": "W-MON"}[bucket]
    local = pd.date_range(
        first.tz_convert(tz).tz_localize(None),
        pd.Timestamp(window.end_at).tz_convert(tz).tz_localize(None),
        freq=step,
        inclusive="left",
    )
    if len(local) == 0:
        local = pd.DatetimeIndex([first.tz_convert(tz).tz_localize(None)])
    ambiguous = np.ones(len(local), dtype=bool)
    return local.tz_localize(tz, ambiguous=ambiguous, nonexistent="shift_forward").tz_convert("UTC")


def trailing_window(end_at: datetime, days: float, tz: str) -> TimeWindow:
    """Return the window of ``days`` ending at the end of the local day holding ``end_at``.

    Parameters
    ----------
    end_at
        The newest instant of interest (usually the newest event), timezone-aware.
    days
        Window length in days.
    tz
        IANA time zone of the center.

    Returns
    -------
    TimeWindow
        ``[end_of_day - days, end_of_day)`` in UTC.

    Examples
    --------
    >>> w = trailing_window(pd.Timestamp("2023-03-17 03:12", tz="UTC"), 30, "America/New_York")
    >>> str(w.end_at), str(w.start_at)
    ('2023-03-17 04:00:00+00:00', '2023-02-15 05:00:00+00:00')
    """
    day_start = bucket_starts(pd.DatetimeIndex([end_at]), "day", tz)[0]
    local_start = day_start.tz_convert(tz)
    local_end = (local_start.tz_localize(None) + pd.Timedelta(days=1)).tz_localize(tz)
    local_begin = (local_end.tz_localize(None) - timedelta(days=days)).tz_localize(
        tz, ambiguous=True, nonexistent="shift_forward"
    )
    return TimeWindow(
        local_begin.tz_convert("UTC").to_pydatetime(), local_end.tz_convert("UTC").to_pydatetime()
    )

"""The timeline under the map: visible events per local day, with the window highlighted."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from analytics.timebuckets import TimeWindow
from domain.roles import Viewer
from rules.visibility import visibility_class
from store.cache import SharedCache, bind_cache, cached
from store.queries import EventFilter, cell_bucket_counts


def timeline_frame(
    *,
    session: Session,
    viewer: Viewer,
    filters: EventFilter,
    tz: str,
    cache: SharedCache | None = None,
) -> pd.DataFrame:
    """Return visible events per local day over all time (``bucket_start``, counts per kind).

    With ``cache``, the frame is shared by every viewer of the same visibility class until the
    data version changes (``store.cache``).
    """
    bound = bind_cache(cache, session=session, visibility=visibility_class(viewer))
    return cached(
        bound,
        "timeline",
        {"filters": filters, "tz": tz},
        lambda: cell_bucket_counts(
            session=session, viewer=viewer, filters=filters, res=None, bucket="day", tz=tz
        ),
    )


def _local_naive(ts: Any, tz: str) -> str:
    text: str = pd.Timestamp(ts).tz_convert(tz).strftime("%Y-%m-%d %H:%M")
    return text


def timeline_figure(frame: pd.DataFrame, window: TimeWindow | None, tz: str) -> dict[str, Any]:
    """Return the bar chart dict: stacked suspicious / incident bars per day, window shaded.

    The x axis is the center's local time (naive strings), so a day's bar sits on its local date
    and a brushed range reads back in local time.
    """
    # The local date of each day's start, written by numpy (not strftime per day).
    local = (
        pd.to_datetime(frame["bucket_start"], utc=True, cache=False)
        .dt.tz_convert(tz)
        .dt.tz_localize(None)
    )
    days = np.datetime_as_string(local.to_numpy().astype("datetime64[D]"), unit="D").tolist()
    shapes = []
    if window is not None:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": _local_naive(window.start_at, tz),
                "x1": _local_naive(window.end_at, tz),
                "y0": 0,
                "y1": 1,
                "fillcolor": "rgba(253,141,60,0.18)",
                "line": {"width": 1, "color": "#fd8d3c"},
                "layer": "below",
            }
        )
    bar = {"type": "bar", "x": days, "xperiod": 86_400_000, "xperiodalignment": "start"}
    return {
        "data": [
            {
                **bar,
                "name": "Incidents",
                "y": frame["incident"].tolist(),
                "marker": {"color": "#8c99a6"},
            },
            {
                **bar,
                "name": "Suspicious",
                "y": frame["suspicious"].tolist(),
                "marker": {"color": "#d7191c"},
            },
        ],
        "layout": {
            "barmode": "stack",
            "bargap": 0.05,
            "dragmode": "select",
            "selectdirection": "h",
            "margin": {"l": 40, "r": 10, "t": 6, "b": 24},
            "xaxis": {"type": "date", "fixedrange": True},
            "yaxis": {"fixedrange": True, "title": {"text": "per day"}},
            "showlegend": False,
            "shapes": shapes,
            "uirevision": "timeline",
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
        },
    }


def brushed_window(selected: dict[str, Any] | None, tz: str) -> TimeWindow | None:
    """Return the whole local days covered by a brushed x range, or ``None`` if none."""
    if not selected or "range" not in selected or "x" not in selected["range"]:
        return None
    lo, hi = sorted(pd.Timestamp(v) for v in selected["range"]["x"][:2])
    start = lo.normalize()
    end = hi.normalize() + pd.Timedelta(days=1) if hi != hi.normalize() else hi
    if end <= start:
        end = start + pd.Timedelta(days=1)
    return TimeWindow(
        start.tz_localize(tz).tz_convert("UTC").to_pydatetime(),
        end.tz_localize(tz).tz_convert("UTC").to_pydatetime(),
    )


def step_window(window: TimeWindow, tz: str, days: int = 1) -> TimeWindow:
    """Return ``window`` moved ``days`` local days later (same local wall-clock edges)."""

    def move(ts: Any) -> Any:
        local = pd.Timestamp(ts).tz_convert(tz).tz_localize(None) + pd.Timedelta(days=days)
        return local.tz_localize(tz, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC")

    return TimeWindow(move(window.start_at).to_pydatetime(), move(window.end_at).to_pydatetime())

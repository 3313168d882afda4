"""Hexagon and timeline counts from the columnar cache, through the visibility rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from analytics.cells import IntArray, check_res
from analytics.hexagg import bucket_index, count_cells
from analytics.timebuckets import Bucket, TimeWindow, bucket_edges
from security.roles import Viewer
from security.visibility import may_see
from store.columnar import EventColumns, event_columns
from store.models.vocab import EVENT_KINDS
from store.queries.events import HEX_COLUMNS
from store.queries.filters import EventFilter

BUCKET_COLUMNS = ("bucket_start", "total", "suspicious", "incident", "severity_sum")
CELL_BUCKET_COLUMNS = ("cell", *BUCKET_COLUMNS)
_SUSPICIOUS = EVENT_KINDS.index("suspicious")
_PRESENT: dict[tuple[object, ...], IntArray] = {}


def _us(when: object) -> int:
    return int(pd.Timestamp(when).value // 1_000)  # type: ignore[arg-type]


def _member(
    codes: npt.NDArray[np.int32], vocab: tuple[str, ...], wanted: tuple[str, ...]
) -> npt.NDArray[np.bool_]:
    table = np.array([v in set(wanted) for v in vocab] + [False], dtype=bool)
    return table[codes]


def visible_mask(cols: EventColumns, viewer: Viewer, lo: int, hi: int) -> npt.NDArray[np.bool_]:
    """Return which rows ``lo:hi`` of ``cols`` ``viewer`` may see.

    Notes
    -----
    ``security.visibility.may_see`` (the Python twin of the SQL rule) decides once per distinct
    (handling, agency) pair; numpy then looks the answer up per row.
    """
    table = np.array(
        [
            [may_see(viewer, handling=h, source_agency=a) for a in cols.agencies]
            for h in cols.handlings
        ],
        dtype=bool,
    ).reshape(len(cols.handlings), len(cols.agencies))
    return table[cols.handling[lo:hi], cols.agency[lo:hi]]


def select_rows(
    cols: EventColumns, viewer: Viewer, filters: EventFilter
) -> tuple[int, int, npt.NDArray[np.bool_]]:
    """Return ``(lo, hi, mask)``: rows ``lo:hi`` are in the window, ``mask`` keeps the rest.

    Every filter of ``EventFilter`` is applied with the same semantics as its SQL clauses
    (half-open window, inclusive bounding box), and the visibility rule always is.
    """
    lo, hi = 0, len(cols)
    if filters.window is not None:
        lo = int(np.searchsorted(cols.t_us, _us(filters.window.start_at), side="left"))
        hi = int(np.searchsorted(cols.t_us, _us(filters.window.end_at), side="left"))
        hi = max(hi, lo)
    mask = visible_mask(cols, viewer, lo, hi)
    if set(filters.kinds) != set(EVENT_KINDS):
        wanted = np.array([k in filters.kinds for k in EVENT_KINDS], dtype=bool)
        mask &= wanted[cols.kind[lo:hi]]
    if filters.categories is not None:
        mask &= _member(cols.category[lo:hi], cols.categories, filters.categories)
    if filters.agencies is not None:
        mask &= _member(cols.agency[lo:hi], cols.agencies, filters.agencies)
    if filters.caveats is not None:
        mask &= _member(cols.handling[lo:hi], cols.handlings, filters.caveats)
    if filters.bbox is not None:
        west, south, east, north = filters.bbox
        lon, lat = cols.lon[lo:hi], cols.lat[lo:hi]
        mask &= (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if filters.area is not None:
        mask &= area_mask(filters.area, cols.lon[lo:hi], cols.lat[lo:hi], mask)
    return lo, hi, mask


def area_mask(
    area: BaseGeometry,
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    candidates: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """Return which points lie strictly inside ``area`` (EPSG:4326), as ``ST_Contains`` decides.

    Only the ``candidates`` inside the area's bounding box are tested (``shapely.contains_xy``,
    vectorised on a prepared polygon); the others are ``False``.
    """
    west, south, east, north = area.bounds
    test = candidates & (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    out = np.zeros(len(lon), dtype=bool)
    if test.any():
        shapely.prepare(area)
        out[test] = shapely.contains_xy(area, lon[test], lat[test])
    return out


def cell_counts(
    *, session: Session, viewer: Viewer, filters: EventFilter, res: int
) -> pd.DataFrame:
    """Count visible events per H3 cell at ``res`` from the columnar cache.

    Parameters
    ----------
    session
        Open session (reads the data version; reloads the cache when it changed).
    viewer
        Who is asking: only events the viewer may see are counted.
    filters
        Window, kinds, categories, agencies, caveats and bounding box.
    res
        H3 resolution, not finer than the stored one.

    Returns
    -------
    pandas.DataFrame
        Columns ``HEX_COLUMNS`` (as ``store.queries.hex_counts``), sorted by cell.
    """
    check_res(res)
    cols = event_columns(session=session)
    lo, hi, mask = select_rows(cols, viewer, filters)
    groups = cols.groups(res)
    code, _, total, susp, sev = count_cells(
        groups.codes[lo:hi][mask],
        len(groups.cells),
        suspicious=cols.kind[lo:hi][mask] == _SUSPICIOUS,
        severity=cols.severity[lo:hi][mask],
    )
    return pd.DataFrame(
        {
            "cell": groups.cells[code],
            "total": total,
            "suspicious": susp,
            "incident": total - susp,
            "severity_sum": sev,
        },
        columns=list(HEX_COLUMNS),
    )


def _edges(
    cols: EventColumns, lo: int, hi: int, window: TimeWindow | None, bucket: Bucket, tz: str
) -> pd.DatetimeIndex:
    if window is None:
        if hi <= lo:
            return pd.DatetimeIndex([], tz="UTC")
        window = TimeWindow(
            pd.Timestamp(int(cols.t_us[lo]) * 1000, tz="UTC").to_pydatetime(),
            pd.Timestamp(int(cols.t_us[hi - 1]) * 1000 + 1000, tz="UTC").to_pydatetime(),
        )
    return bucket_edges(window, bucket, tz)


def cell_bucket_counts(
    *,
    session: Session,
    viewer: Viewer,
    filters: EventFilter,
    res: int | None,
    bucket: Bucket,
    tz: str,
) -> pd.DataFrame:
    """Count visible events per (H3 cell at ``res``, local-time bucket), or per bucket only.

    Parameters
    ----------
    session, viewer, filters
        As for :func:`cell_counts`.
    res
        H3 resolution, or ``None`` for one count per bucket over all cells (the timeline).
    bucket
        ``"hour"``, ``"day"`` or ``"week"`` in the center's local time ``tz``.
    tz
        IANA time zone of the center.

    Returns
    -------
    pandas.DataFrame
        Columns ``CELL_BUCKET_COLUMNS`` (without ``cell`` when ``res`` is ``None``); only
        non-empty slots; ``bucket_start`` is the UTC start of the local bucket.
    """
    cols = event_columns(session=session)
    lo, hi, mask = select_rows(cols, viewer, filters)
    edges = _edges(cols, lo, hi, filters.window, bucket, tz)
    names = list(CELL_BUCKET_COLUMNS if res is not None else BUCKET_COLUMNS)
    if len(edges) == 0 or not mask.any():
        return _empty(names)
    edges_us = edges.asi8 // 1000
    b = bucket_index(cols.t_us[lo:hi][mask], edges_us)
    if res is None:
        codes, cells = np.zeros(len(b), dtype=np.int64), np.zeros(1, dtype=np.int64)
    else:
        check_res(res)
        groups = cols.groups(res)
        codes, cells = groups.codes[lo:hi][mask], groups.cells
    code, bidx, total, susp, sev = count_cells(
        codes,
        len(cells),
        suspicious=cols.kind[lo:hi][mask] == _SUSPICIOUS,
        severity=cols.severity[lo:hi][mask],
        buckets=b,
        n_buckets=len(edges),
    )
    assert bidx is not None
    frame = pd.DataFrame(
        {
            "cell": cells[code],
            "bucket_start": edges[bidx],
            "total": total,
            "suspicious": susp,
            "incident": total - susp,
            "severity_sum": sev,
        }
    )
    return frame[names].reset_index(drop=True)


def _empty(names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({n: pd.Series(dtype="int64") for n in names})
    if "bucket_start" in frame:
        frame["bucket_start"] = pd.Series(pd.DatetimeIndex([], tz="UTC"))
    return frame


def present_cells(*, session: Session, viewer: Viewer, filters: EventFilter, res: int) -> IntArray:
    """Return the sorted cells at ``res`` holding any visible event matching ``filters``.

    With the window left out of ``filters`` this is the stable cell set of a viewport: its
    geometry goes to the browser once, and later updates only send values in its order.
    """
    check_res(res)
    cols = event_columns(session=session)
    key = (cols.token, viewer, filters, res)
    found = _PRESENT.get(key)
    if found is None:
        lo, hi, mask = select_rows(cols, viewer, filters)
        groups = cols.groups(res)
        seen = np.zeros(len(groups.cells), dtype=bool)
        seen[groups.codes[lo:hi][mask]] = True
        found = groups.cells[seen]
        # Every value update of a viewport asks again: keep the last few answers.
        while len(_PRESENT) >= 32:
            _PRESENT.pop(next(iter(_PRESENT)))
        _PRESENT[key] = found
    return found


def trailing_cell_counts(
    *, session: Session, viewer: Viewer, filters: EventFilter, res: int, windows: int
) -> pd.DataFrame:
    """Count visible events per cell in each of the ``windows`` windows before ``filters.window``.

    Returns
    -------
    pandas.DataFrame
        Index: cells present in any trailing window; one column per window (``0`` is the nearest),
        zeros where a cell had no event.
    """
    window = filters.window
    if window is None:
        raise ValueError("trailing windows need a window")
    length = window.end_at - window.start_at
    series = {}
    for k in range(windows):
        shifted = TimeWindow(window.start_at - length * (k + 1), window.end_at - length * (k + 1))
        counts = cell_counts(
            session=session, viewer=viewer, filters=replace(filters, window=shifted), res=res
        )
        series[k] = counts.set_index("cell")["total"]
    return pd.DataFrame(series).fillna(0).astype(np.int64)


def _edge_row(cols: EventColumns, viewer: Viewer, *, last: bool) -> int | None:
    """Index of the first (or last) visible row, scanning outward in growing chunks."""
    n, chunk = len(cols), 4096
    done = 0
    while done < n:
        size = min(chunk, n - done)
        lo, hi = (n - done - size, n - done) if last else (done, done + size)
        hits = np.flatnonzero(visible_mask(cols, viewer, lo, hi))
        if hits.size:
            return lo + int(hits[-1] if last else hits[0])
        done += size
        chunk *= 8
    return None


def visible_time_range(*, session: Session, viewer: Viewer) -> tuple[datetime, datetime] | None:
    """Return the first and last ``occurred_at`` of the events ``viewer`` may see (cached).

    The columnar twin of ``store.queries.event_time_range`` without filters: that one scans the
    table (hundreds of milliseconds at a million rows); this one reads the ends of the sorted
    cache.
    """
    cols = event_columns(session=session)
    first, last = _edge_row(cols, viewer, last=False), _edge_row(cols, viewer, last=True)
    if first is None or last is None:
        return None
    return (
        pd.Timestamp(int(cols.t_us[first]) * 1000, tz="UTC").to_pydatetime(),
        pd.Timestamp(int(cols.t_us[last]) * 1000, tz="UTC").to_pydatetime(),
    )


def visible_caveats(*, session: Session, viewer: Viewer, filters: EventFilter) -> list[str]:
    """Return the distinct handling caveats of the visible events matching ``filters`` (cached)."""
    cols = event_columns(session=session)
    lo, hi, mask = select_rows(cols, viewer, filters)
    present = np.unique(cols.handling[lo:hi][mask])
    return sorted(cols.handlings[int(code)] for code in present)


def visible_values(*, session: Session, viewer: Viewer) -> dict[str, list[str]]:
    """Return the categories, source agencies and caveats among the events ``viewer`` may see.

    The filter menus offer only these, so a menu never names what the viewer cannot open.
    """
    cols = event_columns(session=session)
    mask = visible_mask(cols, viewer, 0, len(cols))
    out = {}
    for name, codes, vocab in (
        ("categories", cols.category, cols.categories),
        ("agencies", cols.agency, cols.agencies),
        ("caveats", cols.handling, cols.handlings),
    ):
        present = np.unique(codes[mask])
        out[name] = sorted(vocab[i] for i in present if 0 <= i < len(vocab))
    return out


def visible_count(*, session: Session, viewer: Viewer, filters: EventFilter) -> int:
    """Return how many visible events match ``filters`` (from the columnar cache, no SQL scan).

    The map asks this before the point query: a layer with more events in view than its budget
    draws no points, so the (costlier) SQL point query is skipped.
    """
    cols = event_columns(session=session)
    _, _, mask = select_rows(cols, viewer, filters)
    return int(np.count_nonzero(mask))

"""Hexagon and timeline counts from the columnar cache, through the visibility rule.

Notes
-----
The counts are taken per block of the snapshot (``store.snapshot``: the large main block and the
small tail of recent rows) and added. The main block does not change while new rows stream into
the tail, so its part of each answer is kept (``_per_block``, a few hundred answers per process,
keyed by the block, the viewer's visibility and the filter): a live redraw every few seconds
counts only the tail. The kept answers go with the block when the tail is merged into it.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from analytics.cells import IntArray, check_res
from analytics.hexagg import bucket_index, count_cells
from analytics.timebuckets import Bucket, TimeWindow, bucket_edges
from domain.roles import Viewer
from domain.vocab import EVENT_KINDS
from rules.visibility import may_see
from store.columnar import EventColumns, event_columns
from store.kept import keeps
from store.queries.events import HEX_COLUMNS
from store.queries.filters import EventFilter
from store.snapshot import Block

BUCKET_COLUMNS = ("bucket_start", "total", "suspicious", "incident", "severity_sum")
CELL_BUCKET_COLUMNS = ("cell", *BUCKET_COLUMNS)
_SUSPICIOUS = EVENT_KINDS.index("suspicious")
# Answers for the main block of a snapshot (see the module notes): key -> (block, answer,
# bytes). At most this many, and this many bytes (a statewide res-10 count is megabytes).
MAIN_ANSWERS_KEPT = 256
MAIN_ANSWERS_BYTES = 64 << 20
_MAIN: OrderedDict[tuple[Any, ...], tuple[weakref.ref[Block], Any, int]] = OrderedDict()
_MAIN_LOCK = threading.Lock()
_main_bytes = 0
T = TypeVar("T")


def _us(when: object) -> int:
    return int(pd.Timestamp(when).value // 1_000)


def _member(
    codes: npt.NDArray[np.int32], vocab: tuple[str, ...], wanted: tuple[str, ...]
) -> npt.NDArray[np.bool_]:
    table = np.array([v in set(wanted) for v in vocab] + [False], dtype=bool)
    return table[codes]


def _visibility_table(cols: EventColumns, viewer: Viewer) -> npt.NDArray[np.bool_]:
    """Whether ``viewer`` may see each (handling, agency) code pair of ``cols``.

    Notes
    -----
    ``rules.visibility.may_see`` (the Python twin of the SQL rule) decides once per distinct
    (handling, agency) pair; numpy then looks the answer up per row.
    """
    return np.array(
        [
            [may_see(viewer, handling=h, source_agency=a) for a in cols.agencies]
            for h in cols.handlings
        ],
        dtype=bool,
    ).reshape(len(cols.handlings), len(cols.agencies))


@dataclass(frozen=True)
class Selection:
    """The rows of a snapshot that match a filter: per block, a window ``lo:hi`` and a mask.

    ``spans`` holds ``(part, block, lo, hi, mask)`` for each non-empty block (``part`` 0 is the
    main block, 1 the tail); an empty snapshot keeps one empty span.
    """

    cols: EventColumns
    spans: tuple[tuple[int, Block, int, int, npt.NDArray[np.bool_]], ...]

    def take(self, name: str) -> npt.NDArray[Any]:
        """Return column ``name`` of the selected rows (main block first, then the tail)."""
        parts = [getattr(b, name)[lo:hi][mask] for _, b, lo, hi, mask in self.spans]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def codes(self, res: int) -> tuple[npt.NDArray[np.int32], IntArray]:
        """Return the selected rows' codes into the snapshot's sorted cells at ``res``, and
        those cells."""
        index = self.cols.cell_index(res)
        parts = [index.codes(part, slice(lo, hi), mask) for part, _, lo, hi, mask in self.spans]
        return (parts[0] if len(parts) == 1 else np.concatenate(parts)), index.cells

    def count(self) -> int:
        """How many rows are selected."""
        return sum(int(np.count_nonzero(mask)) for *_, mask in self.spans)

    def time_span(self) -> tuple[int, int] | None:
        """First and last ``t_us`` in the windows (masks not applied), or ``None`` if empty."""
        ends = [(int(b.t_us[lo]), int(b.t_us[hi - 1])) for _, b, lo, hi, _ in self.spans if hi > lo]
        if not ends:
            return None
        return min(e[0] for e in ends), max(e[1] for e in ends)


def _select_block(
    cols: EventColumns,
    block: Block,
    table: npt.NDArray[np.bool_],
    filters: EventFilter,
) -> tuple[Block, int, int, npt.NDArray[np.bool_]]:
    lo, hi = 0, len(block)
    if filters.window is not None:
        lo = int(np.searchsorted(block.t_us, _us(filters.window.start_at), side="left"))
        hi = int(np.searchsorted(block.t_us, _us(filters.window.end_at), side="left"))
        hi = max(hi, lo)
    # Center staff see every pair: no per-row lookup over the window.
    mask = np.ones(hi - lo, dtype=bool) if table.all() else block.visible(table)[lo:hi].copy()
    if set(filters.kinds) != set(EVENT_KINDS):
        wanted = np.array([k in filters.kinds for k in EVENT_KINDS], dtype=bool)
        mask &= wanted[block.kind[lo:hi]]
    if filters.categories is not None:
        mask &= _member(block.category[lo:hi], cols.categories, filters.categories)
    if filters.agencies is not None:
        mask &= _member(block.agency[lo:hi], cols.agencies, filters.agencies)
    if filters.caveats is not None:
        mask &= _member(block.handling[lo:hi], cols.handlings, filters.caveats)
    if filters.bbox is not None:
        west, south, east, north = filters.bbox
        lon, lat = block.lon[lo:hi], block.lat[lo:hi]
        mask &= (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if filters.area is not None:
        mask &= area_mask(filters.area, block.lon[lo:hi], block.lat[lo:hi], mask)
    return block, lo, hi, mask


def _per_block(
    cols: EventColumns,
    viewer: Viewer,
    filters: EventFilter,
    what: tuple[Any, ...],
    compute: Callable[[Selection], T],
) -> list[T]:
    """Return ``compute`` of the matching rows of each block of ``cols`` (main block first);
    the main block's answer is kept and reused while that block lives (module notes).

    ``compute`` must answer in terms that do not depend on the other block (cell ids, times),
    and ``what`` must name it and every parameter it uses besides the filter.
    """
    table = _visibility_table(cols, viewer)
    parts = [(i, b) for i, b in enumerate(cols.parts) if len(b)] or [(0, cols.main)]
    out = []
    for part, block in parts:

        def one(part: int = part, block: Block = block) -> T:
            return compute(Selection(cols, ((part, *_select_block(cols, block, table, filters)),)))

        if part != 0:
            out.append(one())
            continue
        key = (id(block), table.shape, table.tobytes(), filters, what)
        with _MAIN_LOCK:
            held = _MAIN.get(key)
            if held is not None and held[0]() is block:
                _MAIN.move_to_end(key)
                out.append(held[1])
                continue
        found = one()
        _keep(key, block, found)
        out.append(found)
    return out


@keeps("hexagon answers")
def forget_kept_answers() -> None:
    """Drop every kept main-block answer (tests; they go with their blocks anyway)."""
    global _main_bytes
    with _MAIN_LOCK:
        _MAIN.clear()
        _main_bytes = 0


def kept_bytes() -> int:
    """The bytes of the kept main-block answers of this process."""
    with _MAIN_LOCK:
        return _main_bytes


def _keep(key: tuple[Any, ...], block: Block, answer: Any) -> None:
    """Keep a main block's answer, the oldest dropped past the count or byte bound."""
    global _main_bytes
    if isinstance(answer, pd.DataFrame):
        size = int(answer.memory_usage(index=True).sum())
    else:
        size = int(getattr(answer, "nbytes", 64))
    with _MAIN_LOCK:
        old = _MAIN.pop(key, None)
        _main_bytes += size - (old[2] if old is not None else 0)
        _MAIN[key] = (weakref.ref(block), answer, size)
        while _MAIN and (len(_MAIN) > MAIN_ANSWERS_KEPT or _main_bytes > MAIN_ANSWERS_BYTES):
            _main_bytes -= _MAIN.popitem(last=False)[1][2]


def _added(frames: list[pd.DataFrame], keys: list[str], columns: list[str]) -> pd.DataFrame:
    """The per-block count frames added up by ``keys`` (sorted by them, as each frame is)."""
    if len(frames) == 1:
        return frames[0].copy()  # a kept answer: the caller may change its copy
    frames = [f for f in frames if len(f)] or frames[:1]
    if len(frames) == 1:
        return frames[0].copy()
    summed = pd.concat(frames, ignore_index=True).groupby(keys, sort=True).sum().reset_index()
    return summed[columns]


def select_rows(cols: EventColumns, viewer: Viewer, filters: EventFilter) -> Selection:
    """Return the rows of ``cols`` (main block and tail) that ``viewer`` may see and match.

    Every filter of ``EventFilter`` is applied with the same semantics as its SQL clauses
    (half-open window, inclusive bounding box), and the visibility rule always is.
    """
    table = _visibility_table(cols, viewer)
    parts = [(i, b) for i, b in enumerate(cols.parts) if len(b)] or [(0, cols.main)]
    return Selection(cols, tuple((i, *_select_block(cols, b, table, filters)) for i, b in parts))


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

    def counts(rows: Selection) -> pd.DataFrame:
        codes, cells = rows.codes(res)
        code, _, total, susp, sev = count_cells(
            codes,
            len(cells),
            suspicious=rows.take("kind") == _SUSPICIOUS,
            severity=rows.take("severity"),
        )
        return pd.DataFrame(
            {
                "cell": cells[code],
                "total": total,
                "suspicious": susp,
                "incident": total - susp,
                "severity_sum": sev,
            },
            columns=list(HEX_COLUMNS),
        )

    cols = event_columns(session=session)
    frames = _per_block(cols, viewer, filters, ("cell_counts", res), counts)
    return _added(frames, ["cell"], list(HEX_COLUMNS))


def _edges(rows: Selection, window: TimeWindow | None, bucket: Bucket, tz: str) -> pd.DatetimeIndex:
    if window is None:
        span = rows.time_span()
        if span is None:
            return pd.DatetimeIndex([], tz="UTC")
        window = TimeWindow(
            pd.Timestamp(span[0] * 1000, tz="UTC").to_pydatetime(),
            pd.Timestamp(span[1] * 1000 + 1000, tz="UTC").to_pydatetime(),
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
    names = list(CELL_BUCKET_COLUMNS if res is not None else BUCKET_COLUMNS)
    if res is not None:
        check_res(res)

    def counts(rows: Selection) -> pd.DataFrame:
        # Buckets are calendar-aligned (local days, weeks): a block's own edges give its rows
        # the same bucket starts as the edges of the whole snapshot would.
        edges = _edges(rows, filters.window, bucket, tz)
        if len(edges) == 0 or not rows.count():
            return _empty(names)
        edges_us = edges.asi8 // 1000
        b = bucket_index(rows.take("t_us"), edges_us)
        codes: npt.NDArray[np.integer[Any]]  # int32 codes from the snapshot, int64 zeros here
        cells: IntArray
        if res is None:
            codes, cells = np.zeros(len(b), dtype=np.int64), np.zeros(1, dtype=np.int64)
        else:
            codes, cells = rows.codes(res)
        code, bidx, total, susp, sev = count_cells(
            codes,
            len(cells),
            suspicious=rows.take("kind") == _SUSPICIOUS,
            severity=rows.take("severity"),
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

    cols = event_columns(session=session)
    frames = _per_block(cols, viewer, filters, ("cell_bucket_counts", res, bucket, tz), counts)
    keys = ["bucket_start", "cell"] if res is not None else ["bucket_start"]
    return _added(frames, keys, names)


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

    def present(rows: Selection) -> IntArray:
        codes, cells = rows.codes(res)
        seen = np.zeros(len(cells), dtype=bool)
        seen[codes] = True
        kept: IntArray = cells[seen]
        return kept

    # Every value update of a viewport asks again: the main block's cells are kept
    # (``_per_block``), the tail's found anew. (A per-token dict kept here before was evicted
    # by concurrent request threads at once: a KeyError, an HTTP 500 under the load bench.)
    parts = _per_block(event_columns(session=session), viewer, filters, ("present", res), present)
    return parts[0].copy() if len(parts) == 1 else np.union1d(*parts)


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


def _edge_time(block: Block, table: npt.NDArray[np.bool_], *, last: bool) -> int | None:
    """``t_us`` of the first (or last) visible row of ``block``, scanning in growing chunks."""
    n, chunk = len(block), 4096
    done = 0
    while done < n:
        size = min(chunk, n - done)
        lo, hi = (n - done - size, n - done) if last else (done, done + size)
        hits = np.flatnonzero(table[block.handling[lo:hi], block.agency[lo:hi]])
        if hits.size:
            return int(block.t_us[lo + int(hits[-1] if last else hits[0])])
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
    table = _visibility_table(cols, viewer)
    firsts = [t for b in cols.parts if (t := _edge_time(b, table, last=False)) is not None]
    lasts = [t for b in cols.parts if (t := _edge_time(b, table, last=True)) is not None]
    if not firsts or not lasts:
        return None
    return (
        pd.Timestamp(min(firsts) * 1000, tz="UTC").to_pydatetime(),
        pd.Timestamp(max(lasts) * 1000, tz="UTC").to_pydatetime(),
    )


def visible_caveats(*, session: Session, viewer: Viewer, filters: EventFilter) -> list[str]:
    """Return the distinct handling caveats of the visible events matching ``filters`` (cached)."""
    cols = event_columns(session=session)

    def caveats(rows: Selection) -> frozenset[str]:
        # A count per code, not np.unique: the window's codes are not sorted for it.
        seen = np.bincount(rows.take("handling"), minlength=1)
        return frozenset(cols.handlings[int(code)] for code in np.flatnonzero(seen))

    return sorted(frozenset().union(*_per_block(cols, viewer, filters, ("caveats",), caveats)))


def visible_values(*, session: Session, viewer: Viewer) -> dict[str, list[str]]:
    """Return the categories, source agencies and caveats among the events ``viewer`` may see.

    The filter menus offer only these, so a menu never names what the viewer cannot open.
    """
    rows = select_rows(event_columns(session=session), viewer, EventFilter())
    out = {}
    for name, column, vocab in (
        ("categories", "category", rows.cols.categories),
        ("agencies", "agency", rows.cols.agencies),
        ("caveats", "handling", rows.cols.handlings),
    ):
        present = np.unique(rows.take(column))
        out[name] = sorted(vocab[i] for i in present if 0 <= i < len(vocab))
    return out


def visible_count(*, session: Session, viewer: Viewer, filters: EventFilter) -> int:
    """Return how many visible events match ``filters`` (from the columnar cache, no SQL scan).

    The map asks this before the point query: a layer with more events in view than its budget
    draws no points, so the (costlier) SQL point query is skipped.
    """
    cols = event_columns(session=session)
    return sum(_per_block(cols, viewer, filters, ("count",), Selection.count))

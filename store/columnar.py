"""The in-process columnar cache of events, keyed by the database's data-version token.

Notes
-----
Aggregating a 30-day window of a million events with SQL ``GROUP BY`` costs 70-100 ms; the
same counts from numpy arrays sorted by time cost a few milliseconds. So each process keeps one
snapshot of the events' aggregate columns (no descriptions, no geometry) per database, and reads
the one-row ``data_versions`` token (replaced by a trigger on every write) before each use: a new
token means a refresh. The token is read *before* the rows, so a snapshot is never older than its
token. Memory: about 50 bytes per event (50 MB per million) per worker process.

A refresh reads only the new rows when nothing was updated or deleted since the snapshot (the
``events_rewrite`` token, replaced only by updates and deletes, is unchanged): the rows with an
id above the snapshot's largest, merged in time order. Ids are not handed out in commit order
on PostgreSQL (concurrent API posts and imports commit in any order), so the refresh then counts
the events with an id up to the snapshot's largest: when rows committed late, it compares the ids
just below that largest one (1,000, then ``LATE_ID_WINDOW``) with the snapshot's and reads and
merges the missing rows; only when they do not account for the whole difference (a row
committed very late) is the snapshot reloaded in full. Under a steady stream of concurrent small
batches the late rows are near the top, so a refresh stays cheap instead of a full scan a write.
Updates, deletes, a purge, a category never seen before: full reload, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from analytics.cells import IntArray, cells_to_parent
from analytics.hexagg import CellGroups, group_cells
from store.models import DataVersion, Event
from store.models.vocab import EVENT_KINDS
from store.spatial import bulk_rows, epoch_us_sql

logger = logging.getLogger(__name__)

_TEXT = frozenset({"kind", "category", "agency", "handling"})
_MAX_DATABASES = 4  # snapshots kept per process (tests open many databases; the app one)
# How far below the snapshot's largest id late-committed rows are looked for (ids, not rows).
LATE_ID_WINDOW = 100_000
_CACHE: OrderedDict[str, EventColumns] = OrderedDict()
_LOADING: dict[str, threading.Lock] = {}
_LOCK = threading.Lock()


@dataclass
class EventColumns:
    """Every event's aggregate columns as numpy arrays, sorted by ``t_us``.

    String columns are codes into the sorted vocabularies ``categories``, ``agencies`` and
    ``handlings``; ``kind`` indexes ``store.models.vocab.EVENT_KINDS``.
    """

    token: int
    rewrite: int  # the events_rewrite token at load: unchanged means only inserts since
    id: IntArray
    cell: IntArray
    t_us: IntArray
    kind: npt.NDArray[np.int8]
    severity: npt.NDArray[np.int8]
    category: npt.NDArray[np.int32]
    agency: npt.NDArray[np.int32]
    handling: npt.NDArray[np.int32]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    categories: tuple[str, ...]
    agencies: tuple[str, ...]
    handlings: tuple[str, ...]
    _groups: dict[int, CellGroups] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __len__(self) -> int:
        return len(self.t_us)

    def groups(self, res: int) -> CellGroups:
        """Return every event's cell at ``res`` as codes into the distinct cells (memoised)."""
        with self._lock:
            found = self._groups.get(res)
            if found is None:
                found = self._groups[res] = group_cells(self.cell, res)
            return found


def data_version(*, session: Session) -> int:
    """Return the current data-version token of the events table."""
    stmt = select(DataVersion.token).where(DataVersion.name == "events")
    return int(session.execute(stmt).scalar_one())


def rewrite_version(*, session: Session) -> int:
    """Return the token replaced only by updates and deletes of events."""
    stmt = select(DataVersion.token).where(DataVersion.name == "events_rewrite")
    return int(session.execute(stmt).scalar_one())


def event_columns(*, session: Session) -> EventColumns:
    """Return the cached columns of every event, reloading them if the data changed.

    Parameters
    ----------
    session
        Open session; its bind identifies the database.

    Returns
    -------
    EventColumns
        All events (no visibility applied: callers must apply it, see
        ``store.queries.hexagg``).
    """
    token = data_version(session=session)
    key = session.get_bind().url.render_as_string(hide_password=True)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.token == token:
            _CACHE.move_to_end(key)
            return cached
        loading = _LOADING.setdefault(key, threading.Lock())
    # One refresh per database at a time: the request threads of a worker (and the warming
    # thread) would otherwise each load the same million rows at once. The others wait, then
    # take the fresh snapshot or refresh from it (cheap).
    with loading:
        with _LOCK:
            cached = _CACHE.get(key)
            if cached is not None and cached.token == token:
                return cached
        return _refresh(session, key, token, cached)


def _refresh(session: Session, key: str, token: int, cached: EventColumns | None) -> EventColumns:
    rewrite = rewrite_version(session=session)
    columns = None
    if cached is not None and cached.rewrite == rewrite:
        columns = append_new_events(cached, session=session, token=token)
    if columns is None:
        columns = load_event_columns(session=session, token=token, rewrite=rewrite)
    with _LOCK:
        _CACHE[key] = columns
        _CACHE.move_to_end(key)
        while len(_CACHE) > _MAX_DATABASES:
            _CACHE.popitem(last=False)
    return columns


def clear_cache() -> None:
    """Forget every snapshot (tests, and after restoring a database from a backup)."""
    with _LOCK:
        _CACHE.clear()


def _codes(values: npt.ArrayLike) -> tuple[npt.NDArray[np.int32], tuple[str, ...]]:
    """Codes into the sorted vocabulary; only the few distinct values are sorted."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=False)
    vocab = [str(u) for u in uniques]
    order = sorted(range(len(vocab)), key=vocab.__getitem__)
    remap = np.empty(len(vocab), dtype=np.int32)
    remap[order] = np.arange(len(vocab), dtype=np.int32)
    return remap[codes], tuple(vocab[i] for i in order)


def _read_rows(
    session: Session, after_id: int | None, ids: list[int] | None = None
) -> dict[str, npt.NDArray[Any]]:
    """Read the aggregate columns of the events (with an id above ``after_id``, or in ``ids``)."""
    dialect = session.get_bind().dialect.name
    stmt = select(
        Event.id,
        Event.cell,
        epoch_us_sql(Event.occurred_at, dialect),
        Event.kind,
        Event.category,
        Event.source_agency,
        Event.handling,
        Event.severity,
        Event.lon,
        Event.lat,
    )
    if after_id is not None:
        stmt = stmt.where(Event.id > after_id)
    if ids is not None:
        stmt = stmt.where(Event.id.in_(ids))
    # Straight through the DB-API (COPY on PostgreSQL): SQLAlchemy's per-row Result processing
    # costs more than the scan itself at a million rows.
    sql = str(
        stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    )
    names = ["id", "cell", "t_us", "kind", "category", "agency", "handling", "sev", "lon", "lat"]
    dtypes = {
        n: object if n in _TEXT else np.float64 if n in ("lon", "lat") else np.int64 for n in names
    }
    raw = bulk_rows(session.connection(), sql, names)
    if isinstance(raw, list):
        columns_t = list(zip(*raw, strict=True)) if raw else [()] * len(names)
        del raw
        data = {n: np.array(v, dtype=dtypes[n]) for n, v in zip(names, columns_t, strict=True)}
        del columns_t
    else:
        frame = pd.read_csv(raw, dtype=dtypes, keep_default_na=False, na_filter=False)
        data = {n: frame[n].to_numpy() for n in names}
    return data


def load_event_columns(*, session: Session, token: int, rewrite: int = 0) -> EventColumns:
    """Read the aggregate columns of every event into numpy arrays (one full scan)."""
    started = time.perf_counter()
    data = _read_rows(session, None)
    # Strings become small integer codes first, then every column is put in time order.
    kind_codes, kinds = _codes(data["kind"])
    kind_map = np.array([EVENT_KINDS.index(k) if k in EVENT_KINDS else -1 for k in kinds] + [-1])
    category, categories = _codes(data["category"])
    agency, agencies = _codes(data["agency"])
    handling, handlings = _codes(data["handling"])
    order = np.lexsort((data["id"], data["t_us"]))
    columns = EventColumns(
        token=token,
        rewrite=rewrite,
        id=data["id"].astype(np.int64)[order],
        cell=data["cell"].astype(np.int64)[order],
        t_us=data["t_us"].astype(np.int64)[order],
        kind=kind_map[kind_codes].astype(np.int8)[order],
        severity=data["sev"].astype(np.int8)[order],
        category=category[order],
        agency=agency[order],
        handling=handling[order],
        lon=data["lon"].astype(np.float64)[order],
        lat=data["lat"].astype(np.float64)[order],
        categories=categories,
        agencies=agencies,
        handlings=handlings,
    )
    logger.info(
        "loaded %d events into the columnar cache in %.2f s",
        len(columns),
        time.perf_counter() - started,
    )
    return columns


def _recode(values: npt.ArrayLike, vocab: tuple[str, ...]) -> npt.NDArray[np.int32] | None:
    """Codes of ``values`` in the sorted ``vocab``, or ``None`` if one is not in it."""
    array = np.asarray(values, dtype=object).astype(str)
    if not len(array):
        return np.zeros(0, dtype=np.int32)
    known = np.asarray(vocab, dtype=str)
    pos = np.searchsorted(known, array)
    if (
        len(known) == 0
        or (pos >= len(known)).any()
        or (known[np.minimum(pos, len(known) - 1)] != array).any()
    ):
        return None
    return pos.astype(np.int32)


def append_new_events(cached: EventColumns, *, session: Session, token: int) -> EventColumns | None:
    """Return ``cached`` plus the events inserted since, or ``None`` if a full load is needed.

    Only valid while the ``events_rewrite`` token is unchanged (no update or delete since).
    """
    started = time.perf_counter()
    last_id = int(cached.id.max()) if len(cached) else 0
    data = _read_rows(session, last_id)
    # Rows committed late with an id below ``last_id`` (PostgreSQL): the count tells.
    older = session.execute(
        select(func.count()).select_from(Event).where(Event.id <= last_id)
    ).scalar_one()
    late = int(older) - len(cached)
    if late < 0:
        return None  # rows gone without a rewrite token change: never expected, reload
    if late:
        found = _late_rows(cached, session=session, last_id=last_id, expected=late)
        if found is None:
            logger.info("columnar cache: rows committed out of id order, reloading")
            return None
        logger.info("columnar cache: %d rows committed out of id order, merged", late)
        data = {name: np.concatenate([data[name], found[name]]) for name in data}
    # Codes into the vocabularies; a value never seen before extends them (old codes remapped).
    category, categories, old_category = _extend(
        data["category"], cached.categories, cached.category
    )
    agency, agencies, old_agency = _extend(data["agency"], cached.agencies, cached.agency)
    handling, handlings, old_handling = _extend(data["handling"], cached.handlings, cached.handling)
    kinds = np.array(
        [EVENT_KINDS.index(k) if k in EVENT_KINDS else -1 for k in data["kind"]], dtype=np.int8
    )
    new = {
        "id": data["id"].astype(np.int64),
        "cell": data["cell"].astype(np.int64),
        "t_us": data["t_us"].astype(np.int64),
        "kind": kinds,
        "severity": data["sev"].astype(np.int8),
        "category": category,
        "agency": agency,
        "handling": handling,
        "lon": data["lon"].astype(np.float64),
        "lat": data["lat"].astype(np.float64),
    }
    old = {name: getattr(cached, name) for name in new}
    old.update(category=old_category, agency=old_agency, handling=old_handling)
    # The memoised cell codes of each resolution follow the rows (a new cell extends the sorted
    # distinct cells, old codes remapped): recomputing them costs ~0.1 s a resolution at 1M rows.
    with cached._lock:
        known = dict(cached._groups)
    group_codes: dict[int, npt.NDArray[np.int32]] = {}
    for res, groups in list(known.items()):
        parents = cells_to_parent(new["cell"], res)
        pos = np.searchsorted(groups.cells, parents)
        hit = pos < len(groups.cells)
        hit[hit] = groups.cells[pos[hit]] == parents[hit]
        if not hit.all():
            # Insert the few new cells in order; each old code moves up by the new cells before
            # it (no sort of the hundreds of thousands of known cells).
            fresh = np.unique(parents[~hit])
            shift = np.searchsorted(fresh, groups.cells)
            remap = (np.arange(len(groups.cells)) + shift).astype(np.int32)
            cells = np.insert(groups.cells, np.searchsorted(groups.cells, fresh), fresh)
            known[res] = CellGroups(res, cells, remap[groups.codes])
            pos = np.searchsorted(cells, parents)
        group_codes[res] = pos.astype(np.int32)
    if late:
        # Late rows have ids below cached ones: the full (time, id) order, as a full load.
        both = {name: np.concatenate([old[name], values]) for name, values in new.items()}
        order = np.lexsort((both["id"], both["t_us"]))
        merged = {name: values[order] for name, values in both.items()}
        codes = {
            res: np.concatenate([known[res].codes, c])[order] for res, c in group_codes.items()
        }
    else:
        order = np.lexsort((new["id"], new["t_us"]))
        # New ids are larger than every cached id: after the equal times already there.
        at = np.searchsorted(cached.t_us, new["t_us"][order], side="right")
        merged = {name: np.insert(old[name], at, values[order]) for name, values in new.items()}
        codes = {res: np.insert(known[res].codes, at, c[order]) for res, c in group_codes.items()}
    columns = EventColumns(
        token=token,
        rewrite=cached.rewrite,
        categories=categories,
        agencies=agencies,
        handlings=handlings,
        _groups={res: CellGroups(res, known[res].cells, c) for res, c in codes.items()},
        **merged,
    )
    logger.info(
        "appended %d events to the columnar cache in %.3f s",
        len(new["id"]),
        time.perf_counter() - started,
    )
    return columns


def _extend(
    values: npt.ArrayLike, vocab: tuple[str, ...], codes: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.int32], tuple[str, ...], npt.NDArray[np.int32]]:
    """Codes of ``values``, the vocabulary, and ``codes`` remapped if it had to grow."""
    found = _recode(values, vocab)
    if found is not None:
        return found, vocab, codes
    grown = tuple(sorted(set(vocab) | {str(v) for v in np.asarray(values, dtype=object)}))
    remap = np.searchsorted(np.asarray(grown, dtype=str), np.asarray(vocab, dtype=str))
    # ``codes`` may index one past the vocabulary (unknown kinds); none of these do.
    remapped = remap.astype(np.int32)[codes] if len(vocab) else codes
    new_codes = _recode(values, grown)
    assert new_codes is not None
    return new_codes, grown, remapped


def _late_rows(
    cached: EventColumns, *, session: Session, last_id: int, expected: int
) -> dict[str, npt.NDArray[Any]] | None:
    """The ``expected`` rows with an id up to ``last_id`` missing from ``cached``, or ``None``.

    The ids just below ``last_id`` are compared first (an index range), then up to
    ``LATE_ID_WINDOW`` ids; ``None`` when the missing rows are not all there.
    """
    for window in sorted({min(1_000, LATE_ID_WINDOW), LATE_ID_WINDOW}):
        low = max(last_id - window, 0)
        ids = np.fromiter(
            session.execute(select(Event.id).where(Event.id > low, Event.id <= last_id)).scalars(),
            dtype=np.int64,
        )
        missing = ids[~np.isin(ids, cached.id[cached.id > low])]
        if len(missing) == expected:
            return _read_rows(session, None, ids=missing.tolist())
    return None


def warm_cache(engine: Engine, resolutions: tuple[int, ...] = (7, 8, 9)) -> None:
    """Load the snapshot and the cell codes of ``resolutions`` before the first request needs them.

    Run it in a background thread when a server process starts (``app.main``, gunicorn's
    ``post_worker_init``): the first map then costs milliseconds, not the full load.
    """
    try:
        with Session(engine) as session:
            columns = event_columns(session=session)
        for res in resolutions:
            columns.groups(res)
    except Exception:  # a cold cache is slower, never wrong: log and go on
        logger.exception("could not warm the columnar cache")

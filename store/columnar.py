"""The in-process columnar cache of events, keyed by the database's data-version token.

Notes
-----
Aggregating a 30-day window of a million events with SQL ``GROUP BY`` costs 70-100 ms; the
same counts from numpy arrays sorted by time cost a few milliseconds. So each process keeps one
snapshot of the events' aggregate columns (no descriptions, no geometry) per database
(``store.snapshot``), checked against the one-row ``data_versions`` token (replaced by a trigger
on every write): a new token means a refresh. The token is read *before* the rows, so a snapshot
is never older than its token. Memory: about 50 bytes per event (50 MB per million) per worker
process.

**Bounded lag.** A session whose engine carries the execution option ``LAG_OPTION`` (seconds;
``with_snapshot_lag``, set by the dashboard from ``WATCHFLOOR_SNAPSHOT_MAX_LAG``) takes a
snapshot whose token was checked less than that long ago without reading the token, and keeps
that one snapshot for the rest of the session (one request reads one version). When the token
changed, one thread refreshes while the others go on with the current snapshot. A session that
was told of a version (``want_version``: the live poll handed it on, and the redraw it fires
must show it) takes only a snapshot known to be at least as new (``EventColumns.covers``: its
own token, its predecessors', versions asked for before the refresh that made it); otherwise it
reads the token and refreshes, or waits for the refresh under way. The poll hands on the token of
its worker's snapshot (``store.queries.feed.live_version``), so the versions asked for are few
(about one per worker per lag) and each costs a worker at most one refresh. Without the
option (0: command line, exports, tests) the token is read before every use, as before; and a
process that imported a file through the dashboard marks its snapshot stale (``mark_stale``), so
the uploader sees the rows at once.

**Refresh.** When nothing was updated or deleted since the snapshot (the ``events_rewrite``
token, replaced only by updates and deletes, is unchanged), a refresh reads only the rows with
an id above the snapshot's largest and merges them into the small *tail* (``store.snapshot``);
the tail is merged into the main arrays when it passes ``TAIL_MAX_ROWS`` rows or
``TAIL_MAX_AGE_S`` seconds. Ids are not handed out in commit order on PostgreSQL (concurrent API
posts and imports commit in any order), so the refresh then counts the events among the
``NEAR_ID_WINDOW`` ids below the snapshot's largest, and among all ids up to it at least every
``FULL_COUNT_S`` seconds (always for a session without a lag; such a session also refreshes a
snapshot that was not counted in full, ``EventColumns.exact``): when rows committed late, it
compares the ids just below that largest one (1,000, then ``LATE_ID_WINDOW``) with the
snapshot's and reads and merges the missing rows; only when they do not account for the whole
difference (a row committed very late) is the snapshot reloaded in full. Updates, deletes, a
purge: full reload. A category, agency or caveat never seen before grows the vocabularies (the
codes of both blocks are remapped).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from analytics.codes import factorize
from domain.vocab import EVENT_KINDS
from store.kept import keeps
from store.models import DataVersion, Event
from store.models.version import EVENT_VERSION_SLOTS, combined_token
from store.snapshot import CODED, Block, EventColumns, merge_blocks, sorted_block
from store.spatial import bulk_rows, epoch_us_sql

__all__ = [
    "LAG_OPTION",
    "EventColumns",
    "clear_cache",
    "data_version",
    "event_columns",
    "load_event_columns",
    "mark_stale",
    "rewrite_version",
    "want_version",
    "warm_cache",
    "warming",
    "with_snapshot_lag",
]

logger = logging.getLogger(__name__)

_TEXT = frozenset({"kind", "category", "agency", "handling"})
_MAX_DATABASES = 4  # snapshots kept per process (tests open many databases; the app one)
# How far below the snapshot's largest id late-committed rows are looked for (ids, not rows).
LATE_ID_WINDOW = 100_000
# Rows committed out of id order are counted among the ids just below the snapshot's largest on
# every refresh (an index range), and among all ids at least every FULL_COUNT_S seconds and by
# every session without a lag: on PostgreSQL a count of a million ids costs the server a scan.
NEAR_ID_WINDOW = 1_000
FULL_COUNT_S = 10.0
# The tail is merged into the main arrays past this many rows or this age: it costs one copy of
# the main arrays (~0.2 s a million events), and every aggregation reads the whole tail.
TAIL_MAX_ROWS = 50_000
TAIL_MAX_AGE_S = 300.0
COVERS_KEPT = 512  # tokens a snapshot remembers being at least as new as (EventColumns.covers)
LAG_OPTION = "watchfloor_snapshot_max_lag_s"
_PINNED = "watchfloor_snapshots"  # session.info key: the snapshot a lagging session keeps
_WANTED = "watchfloor_wanted_version"  # session.info key: a token the session must not predate
_CACHE: OrderedDict[str, EventColumns] = OrderedDict()
_LOADING: dict[str, threading.Lock] = {}
_STALE: set[str] = set()
_WARMING: set[str] = set()  # databases whose first snapshot this process is loading
_LOCK = threading.Lock()
_now = time.monotonic  # the clock of the lag (tests replace it)


def data_version(*, session: Session) -> int:
    """Return the current data-version token of the events table.

    One indexed read of its slots (``store.models.version.EVENT_VERSION_SLOTS``), combined.
    """
    stmt = select(DataVersion.token).where(DataVersion.name.in_(EVENT_VERSION_SLOTS))
    tokens = list(session.execute(stmt).scalars())
    if not tokens:
        raise LookupError("no events data version: is the database migrated?")
    return combined_token(tokens)


def rewrite_version(*, session: Session) -> int:
    """Return the token replaced only by updates and deletes of events."""
    stmt = select(DataVersion.token).where(DataVersion.name == "events_rewrite")
    return int(session.execute(stmt).scalar_one())


@lru_cache(maxsize=16)
def with_snapshot_lag(engine: Engine, max_lag_s: float) -> Engine:
    """Return ``engine`` whose sessions may use a snapshot up to ``max_lag_s`` seconds old.

    ``0`` reads the data version before every use (every write is seen at once).
    """
    if max_lag_s <= 0:
        return engine
    return engine.execution_options(**{LAG_OPTION: float(max_lag_s)})


def want_version(*, session: Session, token: str | int | None) -> None:
    """Make ``session``'s snapshot at least as new as the events data version ``token``.

    A live redraw calls this with the version its poll handed on (possibly read in another
    worker): a lagging session then takes the cached snapshot only if it is known to cover that
    version, and otherwise reads the token and refreshes (waiting for a refresh under way),
    instead of drawing older data and showing the new rows one poll later. Must be called before
    the session's first use of the snapshot; ``None`` or an unparsable token asks for nothing.
    """
    try:
        wanted = int(str(token).split(".", 1)[0]) if token is not None else None
    except ValueError:
        wanted = None
    if wanted is not None:
        session.info[_WANTED] = wanted


def _database(bind: Any) -> str:
    return str(bind.url.render_as_string(hide_password=True))


def mark_stale(engine: Engine) -> None:
    """Make the next use of this process's snapshot of ``engine``'s database read the token.

    A process that wrote events and shows them next (an upload in the dashboard) calls this, so
    its own users never wait for the lag.
    """
    with _LOCK:
        _STALE.add(_database(engine))


def event_columns(*, session: Session) -> EventColumns:
    """Return the cached columns of every event, refreshed if the data changed.

    Parameters
    ----------
    session
        Open session; its bind identifies the database, and its execution option
        ``LAG_OPTION`` how old the snapshot may be (see the module notes).

    Returns
    -------
    EventColumns
        All events (no visibility applied: callers must apply it, see
        ``store.queries.hexagg``).
    """
    bind = session.get_bind()
    key = _database(bind)
    max_lag_s = float(bind.get_execution_options().get(LAG_OPTION, 0.0))
    if max_lag_s <= 0:
        return _current(session, key, 0.0)
    pinned: dict[str, EventColumns] = session.info.setdefault(_PINNED, {})
    found = pinned.get(key)
    if found is None:
        found = pinned[key] = _current(session, key, max_lag_s, session.info.get(_WANTED))
    return found


def _current(
    session: Session, key: str, max_lag_s: float, wanted: int | None = None
) -> EventColumns:
    with _LOCK:
        cached = _CACHE.get(key)
        covered = cached is not None and (wanted is None or wanted in cached.covers)
        if (
            cached is not None  # (covered says so; mypy does not follow it)
            and covered
            and key not in _STALE
            and _now() - cached.checked_at < max_lag_s
        ):
            _CACHE.move_to_end(key)
            return cached
        _STALE.discard(key)  # the token read below sees every write made before this line
        loading = _LOADING.setdefault(key, threading.Lock())
    checked_at = _now()
    token = data_version(session=session)
    exact = max_lag_s <= 0  # every row committed before the token read, however late
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.token == token and _counted(cached, checked_at, exact):
            cached.checked_at = max(cached.checked_at, checked_at)
            _cover(cached, wanted)  # the token read now is newer than the one asked for
            _CACHE.move_to_end(key)
            return cached
    # One refresh per database at a time: the request threads of a worker (and the warming
    # thread) would otherwise each read the same rows at once. With a lag allowed the others go
    # on with the snapshot they have; without one (or without a snapshot, or told of a newer
    # version) they wait, then take the fresh snapshot or refresh from it (cheap).
    if not loading.acquire(blocking=not covered or max_lag_s <= 0):
        assert cached is not None
        return cached
    try:
        with _LOCK:
            latest = _CACHE.get(key)
        if (
            latest is not None
            and (latest.token == token or latest.checked_at > checked_at)
            and _counted(latest, checked_at, exact)
        ):
            # Refreshed by another thread meanwhile, from a token read after ours.
            latest.checked_at = max(latest.checked_at, checked_at)
            with _LOCK:
                _cover(latest, wanted)
            return latest
        columns = _refresh(session, key, token, latest, checked_at, exact=exact)
        with _LOCK:
            _cover(columns, wanted)
        return columns
    finally:
        loading.release()


def _cover(columns: EventColumns, token: int | None) -> None:
    """Note that ``columns`` is at least as new as ``token`` (call under ``_LOCK``)."""
    if token is None or token in columns.covers:
        return
    columns.covers[token] = None
    while len(columns.covers) > COVERS_KEPT:
        del columns.covers[next(iter(columns.covers))]


def _counted(columns: EventColumns, now: float, exact: bool) -> bool:
    """Whether ``columns`` may still miss rows committed far out of id order: only when a
    lag is allowed and for at most ``FULL_COUNT_S`` after all ids were last counted."""
    return columns.exact or (not exact and now - columns.counted_at < FULL_COUNT_S)


def _refresh(
    session: Session,
    key: str,
    token: int,
    cached: EventColumns | None,
    checked_at: float,
    *,
    exact: bool,
) -> EventColumns:
    rewrite = rewrite_version(session=session)
    columns = None
    if cached is not None and cached.rewrite == rewrite:
        full = exact or checked_at - cached.counted_at >= FULL_COUNT_S
        columns = append_new_events(cached, session=session, token=token, full_count=full)
        if columns is not None and full:
            columns.counted_at = checked_at
    if columns is None:
        columns = load_event_columns(session=session, token=token, rewrite=rewrite)
        columns.counted_at = checked_at
    columns.checked_at = checked_at
    with _LOCK:
        # Newer than its predecessor: it covers every version that one did, and its own.
        columns.covers = dict(cached.covers) if cached is not None else {}
        _cover(columns, token)
        _CACHE[key] = columns
        _CACHE.move_to_end(key)
        while len(_CACHE) > _MAX_DATABASES:
            _CACHE.popitem(last=False)
    return columns


@keeps("event snapshots")
def clear_cache() -> None:
    """Forget every snapshot (tests, and after restoring a database from a backup)."""
    with _LOCK:
        _CACHE.clear()
        _STALE.clear()


def _codes(values: npt.ArrayLike) -> tuple[npt.NDArray[np.int32], tuple[str, ...]]:
    """Codes into the sorted vocabulary; only the few distinct values are sorted."""
    codes, uniques = factorize(np.asarray(values, dtype=object), sort=False)
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
        # PostgreSQL writes the shortest text that reads back as the same double; pandas'
        # default parser is off by one unit in the last place for about one value in eight,
        # enough to move a point across a viewport edge and away from the SQL's answer.
        frame = pd.read_csv(
            raw,
            dtype=dtypes,
            keep_default_na=False,
            na_filter=False,
            float_precision="round_trip",
        )
        data = {n: frame[n].to_numpy() for n in names}
    return data


def _arrays(
    data: dict[str, npt.NDArray[Any]], codes: dict[str, npt.NDArray[Any]]
) -> dict[str, npt.NDArray[Any]]:
    """The block columns of rows read by ``_read_rows``; ``codes`` of the string columns."""
    return {
        "id": data["id"],
        "cell": data["cell"],
        "t_us": data["t_us"],
        "kind": codes["kind"],
        "severity": data["sev"],
        "category": codes["category"],
        "agency": codes["agency"],
        "handling": codes["handling"],
        "lon": data["lon"],
        "lat": data["lat"],
    }


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
    coded = {
        "kind": kind_map[kind_codes],
        "category": category,
        "agency": agency,
        "handling": handling,
    }
    columns = EventColumns(
        token=token,
        rewrite=rewrite,
        main=sorted_block(_arrays(data, coded)),
        tail=Block.empty(),
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


def append_new_events(
    cached: EventColumns, *, session: Session, token: int, full_count: bool = True
) -> EventColumns | None:
    """Return ``cached`` plus the events inserted since, or ``None`` if a full load is needed.

    Only valid while the ``events_rewrite`` token is unchanged (no update or delete since). The
    new rows go into the tail; the tail is merged into the main block when it is due.
    ``full_count`` looks for rows committed out of id order among all ids, not only the
    ``NEAR_ID_WINDOW`` just below the snapshot's largest: only then is the result ``exact``.
    """
    started = time.perf_counter()
    last_id = cached.max_id
    data = _read_rows(session, last_id)
    # Rows committed late with an id below ``last_id`` (PostgreSQL): the counts tell.
    window = _late_window(cached, session=session, last_id=last_id, full_count=full_count)
    if window is None:
        logger.info("columnar cache: rows committed out of id order, reloading")
        return None
    low, late = window
    if late:
        found = _late_rows(cached, session=session, low=low, last_id=last_id, expected=late)
        if found is None:
            logger.info("columnar cache: rows committed out of id order, reloading")
            return None
        logger.info("columnar cache: %d rows committed out of id order, merged", len(found["id"]))
        data = {name: np.concatenate([data[name], found[name]]) for name in data}
    # Codes into the vocabularies; a value never seen before extends them (old codes remapped).
    main, tail = cached.main, cached.tail
    vocab: dict[str, tuple[str, ...]] = {}
    codes: dict[str, npt.NDArray[Any]] = {
        "kind": np.array(
            [EVENT_KINDS.index(k) if k in EVENT_KINDS else -1 for k in data["kind"]], dtype=np.int8
        )
    }
    for name, attr in zip(CODED, ("categories", "agencies", "handlings"), strict=True):
        codes[name], vocab[name], remap = _extend(data[name], getattr(cached, attr))
        if remap is not None:
            main = main.recoded(**{name: remap[getattr(main, name)]})
            tail = tail.recoded(**{name: remap[getattr(tail, name)]})
    new = sorted_block(_arrays(data, codes))
    now = _now()
    tail_since = cached.tail_since if len(tail) else now
    columns = EventColumns(
        token=token,
        rewrite=cached.rewrite,
        main=main,
        tail=merge_blocks(tail, new),
        categories=vocab["category"],
        agencies=vocab["agency"],
        handlings=vocab["handling"],
        tail_since=tail_since,
        counted_at=cached.counted_at,
        exact=full_count,
    )
    if len(columns.tail) > TAIL_MAX_ROWS or (
        len(columns.tail) and now - tail_since > TAIL_MAX_AGE_S
    ):
        tail_rows = len(columns.tail)
        columns = columns.compacted()
        logger.info("columnar cache: merged a tail of %d events into the main arrays", tail_rows)
    # The cell codes the previous snapshot served are prepared here, by the refreshing thread,
    # not by the first request after it.
    for res in cached.known_resolutions():
        columns.cell_index(res)
    logger.info(
        "appended %d events to the columnar cache in %.3f s",
        len(new),
        time.perf_counter() - started,
    )
    return columns


def _extend(
    values: npt.ArrayLike, vocab: tuple[str, ...]
) -> tuple[npt.NDArray[np.int32], tuple[str, ...], npt.NDArray[np.int32] | None]:
    """Codes of ``values``, the vocabulary, and how old codes move if it had to grow."""
    found = _recode(values, vocab)
    if found is not None:
        return found, vocab, None
    grown = tuple(sorted(set(vocab) | {str(v) for v in np.asarray(values, dtype=object)}))
    remap = np.searchsorted(np.asarray(grown, dtype=str), np.asarray(vocab, dtype=str))
    new_codes = _recode(values, grown)
    assert new_codes is not None
    return new_codes, grown, remap.astype(np.int32)


def _late_window(
    cached: EventColumns, *, session: Session, last_id: int, full_count: bool
) -> tuple[int, int] | None:
    """Where the rows committed out of id order are: ``(low, n)``, ``n`` of them with an id in
    ``(low, last_id]``, or ``None`` if some are farther below than ``LATE_ID_WINDOW`` (or rows
    are gone: never expected without a rewrite-token change).

    One statement counts the ids just below ``last_id`` (``NEAR_ID_WINDOW``), up to
    ``LATE_ID_WINDOW`` below and, with ``full_count``, all of them; without it only the near
    range is counted (an index range; rows farther out wait for the next full count).
    """
    near_low = max(last_id - NEAR_ID_WINDOW, 0)
    far_low = max(last_id - LATE_ID_WINDOW, 0)
    stmt = select(
        func.count(),
        func.coalesce(func.sum(case((Event.id > near_low, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Event.id > far_low, 1), else_=0)), 0),
    ).where(Event.id <= last_id)
    if not full_count:
        stmt = stmt.where(Event.id > near_low)
    counted = session.execute(stmt).one()
    held = [
        sum(int(np.count_nonzero(b.id > low)) for b in cached.parts) for low in (near_low, far_low)
    ]
    near = int(counted[1]) - held[0]
    far = int(counted[2]) - held[1] if full_count else near
    anywhere = int(counted[0]) - len(cached) if full_count else near
    if min(near, far, anywhere) < 0 or anywhere > far:
        return None
    return (near_low, near) if near == anywhere else (far_low, far)


def _late_rows(
    cached: EventColumns, *, session: Session, low: int, last_id: int, expected: int
) -> dict[str, npt.NDArray[Any]] | None:
    """The rows with an id in ``(low, last_id]`` missing from ``cached``, or ``None``.

    ``expected`` is how many the count found there (all of them are there: rows are not deleted
    without a rewrite-token change), so fewer means something else changed: ``None``. More is
    normal under concurrent writers: a row can commit between the count and this read; it is
    committed, so it is taken (a full reload instead cost seconds under load, with the
    snapshot lagging meanwhile).
    """
    ids = np.fromiter(
        session.execute(select(Event.id).where(Event.id > low, Event.id <= last_id)).scalars(),
        dtype=np.int64,
    )
    held = np.concatenate([b.id[b.id > low] for b in cached.parts])
    missing = ids[~np.isin(ids, held)]
    if len(missing) < expected:
        return None
    return _read_rows(session, None, ids=missing.tolist())


def warm_cache(engine: Engine, resolutions: tuple[int, ...] = (7, 8, 9)) -> None:
    """Load the snapshot and the cell codes of ``resolutions`` before the first request needs them.

    Run it in a background thread when a server process starts (``app.main``, gunicorn's
    ``post_worker_init``): the first map then costs milliseconds, not the full load. Meanwhile
    :func:`warming` says so (the readiness probe answers "not ready").
    """
    key = _database(engine)
    with _LOCK:
        _WARMING.add(key)
    try:
        with Session(engine) as session:
            columns = event_columns(session=session)
        for res in resolutions:
            columns.cell_index(res)
    except Exception:  # a cold cache is slower, never wrong: log and go on
        logger.exception("could not warm the columnar cache")
    finally:
        with _LOCK:
            _WARMING.discard(key)


def warming(engine: Engine) -> bool:
    """Whether this process is still loading its first snapshot of ``engine``'s database."""
    with _LOCK:
        return _database(engine) in _WARMING

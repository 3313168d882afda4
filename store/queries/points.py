"""Event points from the columnar snapshot, checked against the database by primary key."""

from __future__ import annotations

import logging
import threading

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from domain.roles import Viewer
from domain.vocab import EVENT_KINDS
from rules.visibility import visible_clause
from store.columnar import event_columns, rewrite_version
from store.kept import keeps
from store.models import Event
from store.queries.events import POINT_COLUMNS, event_points
from store.queries.filters import EventFilter
from store.queries.hexagg import Selection, select_rows

logger = logging.getLogger(__name__)

_HELD = ("id", "t_us", "kind", "category", "agency", "handling", "severity", "lon", "lat")
# Places (``location_text``) of events drawn lately, per database, while no event was updated or
# deleted: a live redraw shows mostly the points it showed five seconds before.
PLACES_KEPT = 100_000
# database -> (events_rewrite token, (ids ascending, their places))
_PLACES: dict[str, tuple[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]]] = {}
_PLACES_LOCK = threading.Lock()


def newest_points(
    *, session: Session, viewer: Viewer, filters: EventFilter, limit: int
) -> pd.DataFrame:
    """Return the newest visible events matching ``filters``, at most ``limit``, from the snapshot.

    The same rows in the same order as ``store.queries.event_points`` (its SQL is the reference)
    for the snapshot's data version, without its scan: see :func:`snapshot_points`. When the
    database changed under the snapshot, that SQL query answers instead.

    Parameters
    ----------
    session
        Open session (the snapshot's data version is read through it).
    viewer
        Who is asking: only events the viewer may see are returned.
    filters
        Window, kinds, categories, agencies, caveats, bounding box and area.
    limit
        Most rows to return, newest first (``occurred_at``, then ``id``, both descending).

    Returns
    -------
    pandas.DataFrame
        Columns ``POINT_COLUMNS``; ``occurred_at`` is UTC.
    """
    found = snapshot_points(session=session, viewer=viewer, filters=filters, limit=limit)
    if found is None:
        # Rows of the snapshot were updated or deleted since (a lagging dashboard session):
        # the database's own answer, not a stale one.
        return event_points(session=session, viewer=viewer, filters=filters, limit=limit)
    return found


def snapshot_points(
    *, session: Session, viewer: Viewer, filters: EventFilter, limit: int
) -> pd.DataFrame | None:
    """Return :func:`newest_points` from the snapshot, or ``None`` if the database changed under it.

    The rows are chosen in the columnar snapshot by the mask the counts use (window, filters,
    visibility), and only the column the snapshot does not hold (``location_text``) is read, by
    primary key.

    Notes
    -----
    The primary-key read applies the visibility rule and every filter again: when it does not
    return every chosen row, the database changed under the snapshot (a lagging session: an
    update or a delete within ``WATCHFLOOR_SNAPSHOT_MAX_LAG``) and the answer is ``None``, so a
    point is never drawn that the database no longer lets this viewer see or that no longer
    matches. Rows inserted after the snapshot appear with its next refresh, as in the counts.
    """
    if limit <= 0 or not filters.kinds:
        return _frame({name: np.zeros(0) for name in _HELD}, np.zeros(0, dtype=object), ())
    cols = event_columns(session=session)
    held = _newest(select_rows(cols, viewer, filters), limit)
    ids = held["id"]
    vocabs = (cols.categories, cols.agencies, cols.handlings)
    if not len(ids):
        return _frame(held, np.zeros(0, dtype=object), vocabs)
    if rewrite_version(session=session) == cols.rewrite:
        # No event was updated or deleted since the snapshot was loaded: every chosen row is in
        # the database as the snapshot holds it, so only the places are needed, and a place
        # read before is still right.
        places = _known_places(session, cols.rewrite, ids.astype(np.int64))
        if places is not None:
            return _frame(held, places, vocabs)
    # The ids are rendered into the SQL as integer literals: thousands of bound parameters cost
    # more to convert (psycopg) than the primary-key lookups themselves.
    stmt = select(Event.id, Event.location_text).where(
        Event.id.in_(bindparam("ids", expanding=True, literal_execute=True)),
        visible_clause(viewer, Event),
        *filters.clauses(Event),
    )
    found = session.execute(stmt, {"ids": ids.astype(np.int64).tolist()}).tuples().all()
    places = pd.Series(dict(found), dtype=object)
    if len(places) != len(ids):
        logger.debug(
            "points: %d of %d rows changed under the snapshot", len(ids) - len(places), len(ids)
        )
        return None
    return _frame(held, places.reindex(ids.astype(np.int64)).to_numpy(dtype=object), vocabs)


def _known_places(
    session: Session, rewrite: int, ids: npt.NDArray[np.int64]
) -> npt.NDArray[np.object_] | None:
    """``location_text`` of ``ids`` (in their order): kept ones from memory, others by key.

    ``None`` when a row is missing from the database (never expected while ``rewrite`` holds).
    The kept places are sorted by id; the newest ``PLACES_KEPT`` events' are kept.
    """
    key = str(session.get_bind().engine.url.render_as_string(hide_password=True))
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))
    with _PLACES_LOCK:
        kept_rewrite, (kept_ids, kept_text) = _PLACES.get(key, (rewrite, empty))
    if kept_rewrite != rewrite:
        kept_ids, kept_text = empty
    at = np.searchsorted(kept_ids, ids)
    hit = np.zeros(len(ids), dtype=bool)
    if len(kept_ids):
        hit = kept_ids[np.minimum(at, len(kept_ids) - 1)] == ids
    if hit.all():
        known: npt.NDArray[np.object_] = kept_text[at]
        return known
    missing = np.unique(ids[~hit])
    stmt = select(Event.id, Event.location_text).where(
        Event.id.in_(bindparam("ids", expanding=True, literal_execute=True))
    )
    found = dict(session.execute(stmt, {"ids": missing.tolist()}).tuples().all())
    if len(found) != len(missing):
        return None
    texts = np.empty(len(missing), dtype=object)
    texts[:] = [found[i] for i in missing.tolist()]
    into = np.searchsorted(kept_ids, missing)
    all_ids, all_text = np.insert(kept_ids, into, missing), np.insert(kept_text, into, texts)
    with _PLACES_LOCK:
        _PLACES[key] = (rewrite, (all_ids[-PLACES_KEPT:], all_text[-PLACES_KEPT:]))
    texts_now: npt.NDArray[np.object_] = all_text[np.searchsorted(all_ids, ids)]
    return texts_now


@keeps("place texts")
def forget_places() -> None:
    """Forget every kept place (tests)."""
    with _PLACES_LOCK:
        _PLACES.clear()


def _newest(rows: Selection, limit: int) -> dict[str, npt.NDArray[np.generic]]:
    """The ``limit`` selected rows with the largest ``(t_us, id)``, in descending order.

    Each block is sorted by ``(t_us, id)``, so a block's newest selected rows are its last
    ``limit`` selected ones: no sort or partition of the window, one merge of at most
    ``2 * limit`` rows (main block and tail).
    """
    parts = []
    for _, block, lo, _hi, mask in rows.spans:
        at = lo + np.flatnonzero(mask)[-limit:]
        parts.append({name: getattr(block, name)[at] for name in _HELD})
    both = {name: np.concatenate([p[name] for p in parts]) for name in _HELD}
    order = np.lexsort((both["id"], both["t_us"]))[::-1][:limit]
    return {name: values[order] for name, values in both.items()}


def _frame(
    held: dict[str, npt.NDArray[np.generic]],
    places: npt.NDArray[np.object_],
    vocabs: tuple[tuple[str, ...], ...],
) -> pd.DataFrame:
    """The rows as ``event_points`` returns them (same columns, dtypes and Python values)."""
    if not len(held["id"]):
        frame = pd.DataFrame([], columns=list(POINT_COLUMNS))
        frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
        return frame
    categories, agencies, handlings = (np.array(v, dtype=object) for v in vocabs)
    ids = held["id"].astype(np.int64)
    return pd.DataFrame(
        {
            "id": ids,
            "kind": np.array(EVENT_KINDS, dtype=object)[held["kind"]],
            "category": categories[held["category"]],
            "occurred_at": pd.to_datetime(held["t_us"], unit="us", utc=True),
            "lon": held["lon"],
            "lat": held["lat"],
            "severity": held["severity"].astype(np.int64),
            "source_agency": agencies[held["agency"]],
            "handling": handlings[held["handling"]],
            "location_text": places,
        },
        columns=list(POINT_COLUMNS),
    )

"""Paged and chunked reads for the read APIs, through the same filter and visibility as exports.

The export API streams events in chunks (:func:`event_chunks`); OGC API - Features pages through
them (:func:`event_page`). Both select the export columns of ``store.queries.exports`` plus an
``id``: the integer key for the export paths, which use it inside only, and the event's public id
(the feature id, :mod:`store.public_ids`) for OGC pages, which send it out. So a streamed or paged
answer holds exactly the rows and values of a file export for the same viewer and filter. The
extents of what a viewer may see (:func:`event_extents`, :func:`site_extent`,
:func:`area_extent`, :func:`flag_time_span`) give the OGC collections their ``extent``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from geoalchemy2.shape import to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from analytics.timebuckets import TimeWindow
from domain.roles import Viewer
from domain.vocab import EVENT_KINDS
from rules.visibility import visible_clause
from store.models import Area, Event, Flag, Site
from store.queries.exports import EVENT_EXPORT_COLUMNS, SITE_EXPORT_COLUMNS
from store.queries.filters import BBox, EventFilter, area_clauses, bbox_clauses
from store.types import UTCDateTime

AREA_FEATURE_COLUMNS = ("id", "kind", "subtype", "name", "source_agency", "handling", "valid_from")


@dataclass(frozen=True)
class EventSummary:
    """What a streamed export's metadata needs before the first row: count, newest, caveats."""

    rows: int
    newest_at: datetime | None
    caveats: list[str]


def _event_frame(rows: list[object]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["id", *EVENT_EXPORT_COLUMNS])
    for col in ("occurred_at", "reported_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def _event_select(viewer: Viewer, filters: EventFilter, key: Any = Event.id):  # type: ignore[no-untyped-def]
    cols = [key, *(getattr(Event, c) for c in EVENT_EXPORT_COLUMNS)]
    return (
        select(*cols)
        .where(visible_clause(viewer, Event), *filters.clauses(Event))
        .order_by(Event.occurred_at, Event.id)
    )


def event_summary(
    *, session: Session, viewer: Viewer, filters: EventFilter, upto_id: int | None = None
) -> EventSummary:
    """Return the count, the newest ``occurred_at`` and the caveats of the matching events.

    With ``upto_id``, only events stored up to that id count (see :func:`event_keyset_page`).
    """
    where = [visible_clause(viewer, Event), *filters.clauses(Event)]
    if upto_id is not None:
        where.append(Event.id <= upto_id)
    count, newest = session.execute(
        select(func.count(), func.max(Event.occurred_at)).where(*where)
    ).one()
    caveats = session.execute(select(Event.handling).where(*where).distinct()).scalars().all()
    # max() loses the column type on SQLite; run the value through it again.
    newest_at = UTCDateTime().process_result_value(newest, session.get_bind().dialect)
    return EventSummary(int(count), newest_at, sorted(caveats))


def event_chunks(
    *, session: Session, viewer: Viewer, filters: EventFilter, chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """Yield the matching visible events, oldest first, ``chunk_rows`` at a time.

    Notes
    -----
    One query, read through a server-side cursor on PostgreSQL (``yield_per``), so memory holds
    one chunk whatever the number of rows. Columns: ``id`` then ``EVENT_EXPORT_COLUMNS``. At
    least one chunk is yielded (empty when nothing matches).
    """
    stmt = _event_select(viewer, filters).execution_options(yield_per=chunk_rows)
    empty = True
    for part in session.execute(stmt).partitions(chunk_rows):
        empty = False
        yield _event_frame(list(part))
    if empty:  # one empty chunk, so a caller still learns the columns (a CSV header)
        yield _event_frame([])


def newest_event_id(*, session: Session) -> int:
    """Return the largest stored event id (0 for none): a bound that fixes a job's row set.

    It is an internal row number, never shown, so it needs no visibility filter.
    """
    return int(session.execute(select(func.coalesce(func.max(Event.id), 0))).scalar_one())


def event_keyset_page(
    *,
    session: Session,
    viewer: Viewer,
    filters: EventFilter,
    limit: int,
    upto_id: int,
    after: tuple[datetime, int] | None = None,
) -> pd.DataFrame:
    """Return the next ``limit`` matching visible events after ``after`` (oldest first).

    Parameters
    ----------
    session, viewer, filters
        As for every store query; the visibility filter applies.
    limit
        Rows per page.
    upto_id
        Only events with an id up to this (:func:`newest_event_id` when the job started), so
        rows stored while a long export runs do not change its row set.
    after
        ``(occurred_at, id)`` of the last row of the previous page; None for the first page.

    Notes
    -----
    Keyset paging on ``(occurred_at, id)``: each page is a short query of its own (no cursor or
    transaction stays open between pages), and pages never overlap or skip rows. Columns: ``id``
    then ``EVENT_EXPORT_COLUMNS``, as :func:`event_chunks`.
    """
    stmt = _event_select(viewer, filters).where(Event.id <= upto_id)
    if after is not None:
        at, last_id = after
        stmt = stmt.where(
            or_(Event.occurred_at > at, and_(Event.occurred_at == at, Event.id > last_id))
        )
    # Plain column rows through the session's connection: no ORM row processing per row (a
    # third of a page's read time), the same values and the same transaction.
    return _event_frame(list(session.connection().execute(stmt.limit(limit)).all()))


def event_page(
    *,
    session: Session,
    viewer: Viewer,
    filters: EventFilter,
    limit: int,
    offset: int = 0,
    public_id: str | None = None,
    after: tuple[datetime, str] | None = None,
) -> pd.DataFrame:
    """Return one page of matching visible events (oldest first), or the one event ``public_id``.

    The ``id`` column holds public ids (:mod:`store.public_ids`): a page leaves the server.
    ``after`` (``occurred_at``, public id of that row) starts the page just after that row of
    the order (keyset paging: a range on the ``(kind, occurred_at)`` index instead of walking
    ``offset`` rows, and rows stored meanwhile before it shift nothing); ``offset`` then counts
    from there.
    """
    stmt = _event_select(viewer, filters, key=Event.public_id)
    if public_id is not None:
        stmt = stmt.where(Event.public_id == public_id)
    if after is not None:
        at, last_public = after
        # The order's tie-break stays the integer key, looked up inside the query: it never
        # leaves the server. An unknown public id breaks no tie (NULL): the page starts after
        # ``at``.
        last_id = select(Event.id).where(Event.public_id == last_public).scalar_subquery()
        # Spelled as a range plus a tie-break, so both planners use the index range.
        stmt = stmt.where(Event.occurred_at >= at, or_(Event.occurred_at > at, Event.id > last_id))
    return _event_frame(list(session.execute(stmt.limit(limit).offset(offset)).all()))


def site_features(
    *,
    session: Session,
    viewer: Viewer,
    bbox: BBox | None = None,
    area: BaseGeometry | None = None,
    site_id: int | None = None,
) -> pd.DataFrame:
    """Return the visible sites (in ``bbox`` and ``area``, or only ``site_id``) with ``id``."""
    cols = [Site.id, *(getattr(Site, c) for c in SITE_EXPORT_COLUMNS)]
    stmt = (
        select(*cols)
        .where(visible_clause(viewer, Site), *bbox_clauses(Site, bbox), *area_clauses(Site, area))
        .order_by(Site.id)
    )
    if site_id is not None:
        stmt = stmt.where(Site.id == site_id)
    return pd.DataFrame(session.execute(stmt).all(), columns=["id", *SITE_EXPORT_COLUMNS])


def area_time_clauses(window: TimeWindow | None) -> list[ColumnElement[bool]]:
    """Return conditions keeping areas whose time span meets ``window`` (``[start, end)``).

    Notes
    -----
    An area's span is ``[valid_from, valid_to]``; a missing bound is open (a region has neither,
    so it always meets the window; a warning still in force has no ``valid_to``).
    """
    if window is None:
        return []
    return [
        or_(Area.valid_to.is_(None), Area.valid_to >= window.start_at),
        or_(Area.valid_from.is_(None), Area.valid_from < window.end_at),
    ]


def area_features(
    *, session: Session, viewer: Viewer, kind: str, window: TimeWindow | None = None
) -> tuple[pd.DataFrame, list]:  # type: ignore[type-arg]
    """Return the visible areas of ``kind`` (columns ``AREA_FEATURE_COLUMNS``) and their shapes.

    ``window`` keeps only the areas whose time span meets it (:func:`area_time_clauses`).
    """
    cols = [getattr(Area, c) for c in AREA_FEATURE_COLUMNS]
    stmt = (
        select(*cols, Area.valid_to, Area.geometry)
        .where(visible_clause(viewer, Area), Area.kind == kind, *area_time_clauses(window))
        .order_by(Area.id)
    )
    rows = session.execute(stmt).all()
    frame = pd.DataFrame(
        [r[: len(AREA_FEATURE_COLUMNS) + 1] for r in rows],
        columns=[*AREA_FEATURE_COLUMNS, "valid_to"],
    )
    for col in ("valid_from", "valid_to"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame, [to_shape(r[-1]) for r in rows]


@dataclass(frozen=True)
class Extent:
    """Where and when the rows a viewer may see lie: a box and a time span, ``None`` if unknown.

    ``bbox`` is ``(west, south, east, north)`` in degrees (EPSG:4326); ``start_at`` and
    ``end_at`` are UTC, ``None`` for an open end.
    """

    bbox: BBox | None
    start_at: datetime | None = None
    end_at: datetime | None = None


def _utc(value: object, session: Session) -> datetime | None:
    # min()/max() lose the column type on SQLite; run the value through it again.
    return UTCDateTime().process_result_value(value, session.get_bind().dialect)


def event_extents(*, session: Session, viewer: Viewer) -> dict[str, Extent]:
    """Return the extent of the visible events per kind (kinds without any are left out).

    Notes
    -----
    The boxes of all kinds come from one scan of the visible rows (``min``/``max`` of ``lon``
    and ``lat`` per kind through ``CASE``), and each kind's first and last times are read off the
    ``(kind, occurred_at)`` index (the first visible row from either end), so an extent never
    reaches a row the viewer may not see. Not ``GROUP BY kind`` nor ``WHERE kind = ...``: SQLite
    then walks that index and fetches every row through it, several times slower than a scan.
    """
    visible = visible_clause(viewer, Event)
    aggregates = [
        agg(case((Event.kind == kind, col)))
        for kind in EVENT_KINDS
        for agg, col in (
            (func.min, Event.lon),
            (func.min, Event.lat),
            (func.max, Event.lon),
            (func.max, Event.lat),
        )
    ]
    row = session.execute(select(*aggregates).where(visible)).one()
    out: dict[str, Extent] = {}
    for i, kind in enumerate(EVENT_KINDS):
        w, s, e, n = row[4 * i : 4 * i + 4]
        if w is None:
            continue
        where = [visible, Event.kind == kind]
        first, last = (
            session.execute(
                select(Event.occurred_at).where(*where).order_by(order).limit(1)
            ).scalar_one()
            for order in (Event.occurred_at.asc(), Event.occurred_at.desc())
        )
        out[kind] = Extent((float(w), float(s), float(e), float(n)), first, last)
    return out


def site_extent(*, session: Session, viewer: Viewer) -> Extent | None:
    """Return the box of the visible sites (no time: sites have none), ``None`` if none."""
    w, s, e, n = session.execute(
        select(
            func.min(Site.lon), func.min(Site.lat), func.max(Site.lon), func.max(Site.lat)
        ).where(visible_clause(viewer, Site))
    ).one()
    return None if w is None else Extent((float(w), float(s), float(e), float(n)))


def area_extent(*, session: Session, viewer: Viewer, kind: str) -> Extent | None:
    """Return the box and time span of the visible areas of ``kind``, ``None`` if none.

    Notes
    -----
    The box is the aggregate of each polygon's envelope, computed in the database
    (``MbrMinX`` ... in SpatiaLite, ``ST_XMin`` ... in PostGIS). The span runs from the earliest
    ``valid_from`` to the latest ``valid_to``; an area without a bound leaves that end open.
    """
    if session.get_bind().dialect.name == "postgresql":
        names = ("ST_XMin", "ST_YMin", "ST_XMax", "ST_YMax")
    else:
        names = ("MbrMinX", "MbrMinY", "MbrMaxX", "MbrMaxY")
    xmin, ymin, xmax, ymax = (getattr(func, name)(Area.geometry) for name in names)
    row = session.execute(
        select(
            func.min(xmin),
            func.min(ymin),
            func.max(xmax),
            func.max(ymax),
            func.min(Area.valid_from),
            func.max(Area.valid_to),
            func.count(),
            func.count(Area.valid_from),
            func.count(Area.valid_to),
        ).where(visible_clause(viewer, Area), Area.kind == kind)
    ).one()
    w, s, e, n, first, last, rows, with_from, with_to = row
    if not rows:
        return None
    return Extent(
        (float(w), float(s), float(e), float(n)),
        _utc(first, session) if with_from == rows else None,
        _utc(last, session) if with_to == rows else None,
    )


def flag_time_span(*, session: Session, viewer: Viewer) -> tuple[datetime | None, datetime | None]:
    """Return the first event time and the last of the visible flags (``None`` if no flag)."""
    first, last = session.execute(
        select(func.min(Flag.first_event_at), func.max(Flag.last_event_at)).where(
            visible_clause(viewer, Flag)
        )
    ).one()
    return _utc(first, session), _utc(last, session)

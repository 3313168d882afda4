"""Paged and chunked reads for the read APIs, through the same filter and visibility as exports.

The export API streams events in chunks (:func:`event_chunks`); OGC API - Features pages through
them (:func:`event_page`). Both select the export columns of ``store.queries.exports`` plus the
event's ``id`` (the feature id), so a streamed or paged answer holds exactly the rows and values of
a file export for the same viewer and filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from geoalchemy2.shape import to_shape
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from security.roles import Viewer
from security.visibility import visible_clause
from store.models import Area, Event, Site
from store.queries.exports import EVENT_EXPORT_COLUMNS, SITE_EXPORT_COLUMNS
from store.queries.filters import BBox, EventFilter, bbox_clauses
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


def _event_select(viewer: Viewer, filters: EventFilter):  # type: ignore[no-untyped-def]
    cols = [Event.id, *(getattr(Event, c) for c in EVENT_EXPORT_COLUMNS)]
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
    event_id: int | None = None,
) -> pd.DataFrame:
    """Return one page of matching visible events (oldest first), or the one event ``event_id``."""
    stmt = _event_select(viewer, filters)
    if event_id is not None:
        stmt = stmt.where(Event.id == event_id)
    return _event_frame(list(session.execute(stmt.limit(limit).offset(offset)).all()))


def site_features(
    *, session: Session, viewer: Viewer, bbox: BBox | None = None, site_id: int | None = None
) -> pd.DataFrame:
    """Return the visible sites (in ``bbox``, or only ``site_id``) with ``id`` and the columns."""
    cols = [Site.id, *(getattr(Site, c) for c in SITE_EXPORT_COLUMNS)]
    stmt = (
        select(*cols)
        .where(visible_clause(viewer, Site), *bbox_clauses(Site, bbox))
        .order_by(Site.id)
    )
    if site_id is not None:
        stmt = stmt.where(Site.id == site_id)
    return pd.DataFrame(session.execute(stmt).all(), columns=["id", *SITE_EXPORT_COLUMNS])


def area_features(*, session: Session, viewer: Viewer, kind: str) -> tuple[pd.DataFrame, list]:  # type: ignore[type-arg]
    """Return the visible areas of ``kind`` (columns ``AREA_FEATURE_COLUMNS``) and their shapes."""
    cols = [getattr(Area, c) for c in AREA_FEATURE_COLUMNS]
    stmt = (
        select(*cols, Area.valid_to, Area.geometry)
        .where(visible_clause(viewer, Area), Area.kind == kind)
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

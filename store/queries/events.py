"""Event reads: points, H3 cell counts and the time extent, all through the visibility filter."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from analytics.cells import check_res
from domain.roles import Viewer
from rules.visibility import visible_clause
from store.models import Event
from store.queries.filters import EventFilter
from store.spatial import cell_parent_sql
from store.types import UTCDateTime

POINT_COLUMNS = (
    "id",
    "kind",
    "category",
    "occurred_at",
    "lon",
    "lat",
    "severity",
    "source_agency",
    "handling",
    "location_text",
)
HEX_COLUMNS = ("cell", "total", "suspicious", "incident", "severity_sum")


def event_points(
    *, session: Session, viewer: Viewer, filters: EventFilter, limit: int
) -> pd.DataFrame:
    """Return the newest visible events matching ``filters``, at most ``limit`` of them.

    Parameters
    ----------
    session
        Open session (the caller owns it).
    viewer
        Who is asking.
    filters
        Window, kinds, categories, agencies, caveats and bounding box.
    limit
        Most rows to return, newest first.

    Returns
    -------
    pandas.DataFrame
        Columns ``POINT_COLUMNS``; ``occurred_at`` is UTC.
    """
    cols = [getattr(Event, name) for name in POINT_COLUMNS]
    stmt = (
        select(*cols)
        .where(visible_clause(viewer, Event), *filters.clauses(Event))
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(limit)
    )
    rows = session.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=list(POINT_COLUMNS))
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame


def hex_counts(*, session: Session, viewer: Viewer, filters: EventFilter, res: int) -> pd.DataFrame:
    """Count visible events per H3 cell at ``res``, computed in the database.

    Parameters
    ----------
    session
        Open session.
    viewer
        Who is asking: only events the viewer may see are counted.
    filters
        Window, kinds, categories, agencies, caveats and bounding box.
    res
        H3 resolution of the cells, not finer than the stored resolution.

    Returns
    -------
    pandas.DataFrame
        Columns ``HEX_COLUMNS``: ``cell`` (int64) and counts per kind plus the severity sum.

    Notes
    -----
    The parent cell is bit arithmetic on the stored finest cell (see ``store.spatial``), so the
    grouping runs inside SQLite or PostgreSQL without any per-row Python.
    """
    check_res(res)
    hex_cell = cell_parent_sql(Event.cell, res).label("hex")
    stmt = (
        select(
            hex_cell,
            func.count().label("total"),
            func.sum(case((Event.kind == "suspicious", 1), else_=0)).label("suspicious"),
            func.sum(case((Event.kind == "incident", 1), else_=0)).label("incident"),
            func.sum(Event.severity).label("severity_sum"),
        )
        .where(visible_clause(viewer, Event), *filters.clauses(Event))
        .group_by(hex_cell)
    )
    rows = session.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=list(HEX_COLUMNS))
    return frame.astype(dict.fromkeys(HEX_COLUMNS, "int64"))


def event_time_range(
    *, session: Session, viewer: Viewer, filters: EventFilter | None = None
) -> tuple[datetime, datetime] | None:
    """Return the first and last ``occurred_at`` of the visible events, or ``None`` if none."""
    conds = filters.clauses(Event) if filters is not None else []
    stmt = select(
        func.min(Event.occurred_at).label("first"), func.max(Event.occurred_at).label("last")
    ).where(visible_clause(viewer, Event), *conds)
    first, last = session.execute(stmt).one()
    if first is None:
        return None
    utc = UTCDateTime()
    dialect = session.get_bind().dialect
    # min()/max() lose the column type on SQLite; run the values through it again.
    return (
        utc.process_result_value(first, dialect),  # type: ignore[return-value]
        utc.process_result_value(last, dialect),
    )


def caveats_present(*, session: Session, viewer: Viewer, filters: EventFilter) -> list[str]:
    """Return the distinct handling caveats among the visible events matching ``filters``."""
    stmt = (
        select(Event.handling)
        .where(visible_clause(viewer, Event), *filters.clauses(Event))
        .distinct()
    )
    return sorted(session.execute(stmt).scalars())

"""The events inside one H3 cell (any resolution), by an indexed range on the stored cell."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.cells import children_range
from domain.roles import Viewer
from rules.visibility import visible_clause
from store.models import Event
from store.queries.filters import EventFilter

CELL_EVENT_COLUMNS = (
    "id",
    "kind",
    "category",
    "occurred_at",
    "severity",
    "source_agency",
    "handling",
    "location_text",
)


def cell_events(
    *, session: Session, viewer: Viewer, filters: EventFilter, cell: int, store_res: int, limit: int
) -> tuple[pd.DataFrame, int, list[tuple[str, int]]]:
    """Return the newest visible events in ``cell`` (at most ``limit``), their count and categories.

    Notes
    -----
    Every stored (finest) cell inside ``cell`` lies in one integer range
    (:func:`analytics.cells.children_range`), so ``cell BETWEEN lo AND hi`` uses the cell index.
    """
    lo, hi = children_range(int(cell), store_res)
    conds = [visible_clause(viewer, Event), *filters.clauses(Event), Event.cell.between(lo, hi)]
    cols = [getattr(Event, name) for name in CELL_EVENT_COLUMNS]
    stmt = (
        select(*cols).where(*conds).order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=list(CELL_EVENT_COLUMNS))
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    n = func.count().label("n")
    by_category = session.execute(
        select(Event.category, n).where(*conds).group_by(Event.category).order_by(n.desc())
    ).all()
    categories = [(str(c), int(k)) for c, k in by_category]
    return frame, sum(k for _, k in categories), categories

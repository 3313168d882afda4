"""What the side panel shows for one clicked hexagon: its events, categories and sites."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from analytics.cells import cell_res, points_to_cells, str_to_cells
from domain.roles import Viewer
from store.queries import EventFilter, site_points
from store.queries.celldetail import cell_events

MAX_ROWS = 2_000  # rows sent to the grid; the title gives the full count


@dataclass(frozen=True)
class CellDetail:
    """One hexagon's content for the viewer and window."""

    cell_str: str
    res: int
    total: int
    rows: list[dict[str, Any]]
    categories: list[tuple[str, int]]
    sites: list[str]


def cell_detail(
    *,
    session: Session,
    viewer: Viewer,
    filters: EventFilter,
    cell_str: str,
    store_res: int,
    tz: str,
) -> CellDetail:
    """Return the events (newest first), category counts and sites inside the hexagon."""
    cell = int(str_to_cells([cell_str])[0])
    res = int(cell_res(np.array([cell]))[0])
    frame, total, categories = cell_events(
        session=session,
        viewer=viewer,
        filters=filters,
        cell=cell,
        store_res=store_res,
        limit=MAX_ROWS,
    )
    sites = site_points(session=session, viewer=viewer)
    if len(sites):
        inside = points_to_cells(sites["lat"], sites["lon"], res) == cell
        names = sites.loc[inside, "name"].tolist()
    else:
        names = []
    shown = frame.assign(
        occurred_at=frame["occurred_at"].dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M")
    )
    return CellDetail(
        cell_str=cell_str,
        res=res,
        total=total,
        rows=shown.drop(columns=["id"]).to_dict("records"),
        categories=categories,
        sites=names,
    )

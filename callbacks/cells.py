"""Map panel: clicking a hexagon opens its events, categories and sites in the side panel."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, callback, html, no_update

from analytics.cells import cell_res, str_to_cells
from callbacks import _context
from callbacks._guard import Store
from callbacks._state import WindowState
from layers.celldetail import cell_detail
from layers.selection import screen_filter_without_lost_area, screen_state
from rules.capabilities import Capability, require
from security.audit import record
from store.engine import session_scope
from ui import ids


def _clicked_cell(click: dict[str, Any] | None, store_res: int) -> str | None:
    """The H3 id of the clicked hexagon: a valid cell no finer than the stored cells, or None."""
    points = (click or {}).get("points")
    if not isinstance(points, list):
        return None
    found = next((p.get("location") for p in points if isinstance(p, dict)), None)
    if not isinstance(found, str):
        return None
    try:
        res = int(cell_res(str_to_cells([found]))[0])
    except ValueError:
        return None
    return found if res <= store_res else None


@callback(
    Output(ids.CELL_PANEL, "hidden"),
    Output(ids.CELL_TITLE, "children"),
    Output(ids.CELL_BREAKDOWN, "children"),
    Output(ids.CELL_SITES, "children"),
    Output(ids.CELL_GRID, "rowData"),
    Input(ids.MAP_GRAPH, "clickData"),
    Input(ids.WINDOW_STORE, "data"),
    State(ids.FILTER_STORE, "data"),
    prevent_initial_call=True,
)
def show_cell(
    click: dict[str, Any] | None, window_data: Store, filter_data: Store
) -> tuple[Any, ...]:
    """List the visible events of the clicked hexagon in the current window."""
    viewer = require(Capability.VIEW_DETAILS, _context.viewer())
    settings = _context.app_settings()
    cell_str = _clicked_cell(click, settings.h3_store_res)
    if cell_str is None:  # a click on no hexagon (or a crafted one): nothing to show
        return (no_update,) * 5
    state = WindowState.from_store(window_data)
    screen = screen_state(window_data, filter_data)
    with session_scope(_context.engine()) as session:
        # The map's own policy for a lost area: the list matches the hexagon's count.
        filters, _ = screen_filter_without_lost_area(
            screen, session=session, viewer=viewer, tz=settings.timezone
        )
        detail = cell_detail(
            session=session,
            viewer=viewer,
            filters=filters,
            cell_str=cell_str,
            store_res=settings.h3_store_res,
            tz=settings.timezone,
        )
        record(
            session=session,
            viewer=viewer,
            action="cell.view",
            object=cell_str,
            details={"events": detail.total, "window": state.to_store()},
        )
    breakdown = [html.Span(f"{name}: {n:,}", className="wf-chip") for name, n in detail.categories]
    sites = "Sites in this hexagon: " + (", ".join(detail.sites) if detail.sites else "none")
    title = f"Hexagon {detail.cell_str} (res {detail.res}): {detail.total:,} events"
    return False, title, breakdown, sites, detail.rows

"""Map panel: redraw the map and its summary when the controls change."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, callback

from callbacks import _context
from callbacks._state import ViewState
from layers.view import build_map_view
from security.audit import record
from security.capabilities import Capability, require
from store.engine import session_scope
from ui import ids, summary


@callback(
    Output(ids.MAP_GRAPH, "figure"),
    Output(ids.SUMMARY, "children"),
    Output(ids.NOTES, "children"),
    Output(ids.WINDOW_TEXT, "children"),
    Output(ids.DATA_THROUGH, "children"),
    Output(ids.MARKING_BANNER, "children"),
    Output(ids.MARKING_BANNER, "className"),
    Output(ids.MARKING_FOOTER, "children"),
    Output(ids.MARKING_FOOTER, "className"),
    Input(ids.LAYER_TOGGLES, "value"),
    Input(ids.WINDOW_PRESET, "value"),
    Input(ids.HEX_RES, "value"),
    Input(ids.CUSTOM_RANGE, "start_date"),
    Input(ids.CUSTOM_RANGE, "end_date"),
    prevent_initial_call=False,
)
def update_map_figure(
    visible: list[str], preset: str, res: int, start: str | None, end: str | None
) -> tuple[Any, ...]:
    """Redraw every layer for the current controls and viewer."""
    settings = _context.app_settings()
    viewer = require(Capability.VIEW_MAP, _context.viewer())
    state = ViewState.from_controls(visible, preset, res, start, end)
    with session_scope(_context.engine()) as session:
        record(session=session, viewer=viewer, action="map.filter", details=vars(state))
        view = build_map_view(
            session=session,
            viewer=viewer,
            filters=state.event_filter(),
            preset=state.preset,
            custom=state.custom_window(settings.timezone),
            visible=state.visible,
            res=state.res,
            max_points=settings.max_points,
            tz=settings.timezone,
            config=_context.map_config(),
        )
    marking = summary.marking_text(view.marking)
    css = summary.marking_class(view.marking)
    return (
        view.figure,
        summary.summary_children(view),
        " ".join(view.notes),
        summary.window_text(view.window, settings.timezone),
        summary.data_through_text(view, settings.timezone),
        marking,
        css,
        marking,
        css,
    )

"""Filter panel: menus from visible data, the filter store, area summary, export jobs, briefing."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, callback, no_update
from dash.exceptions import PreventUpdate

from callbacks import _context
from callbacks._guard import Store
from jobs.exports import ExportJobError, job_status, start_export_job
from layers.selection import (
    SelectionError,
    area_label,
    download_href,
    filter_payload,
    screen_filter,
    screen_state,
)
from reports.regional import filtered_picture, open_flags_inside
from rules.capabilities import Capability, require
from store.engine import session_scope
from store.queries.areas import list_areas
from store.queries.hexagg import visible_values
from ui import filters, ids

NO_FILTER = filter_payload(
    categories=None,
    agencies=None,
    caveats=None,
    area_type="none",
    area_choice=None,
    selected=None,
    view=None,
)
AREA_HINTS = {
    "none": "",
    "region": "Choose a county.",
    "hazard": "Choose a storm footprint.",
    "drawn": "Use the lasso or box tool in the map's tool bar, then draw.",
    "viewport": "The map view at the time of choosing (panning later keeps it).",
}


@callback(
    Output(ids.FILTER_CATEGORIES, "options"),
    Output(ids.FILTER_AGENCIES, "options"),
    Output(ids.FILTER_CAVEATS, "options"),
    Output(ids.FILTER_CATEGORIES, "value"),
    Output(ids.FILTER_AGENCIES, "value"),
    Output(ids.FILTER_CAVEATS, "value"),
    Output(ids.PENDING_FILTERS, "data"),
    Input(ids.WINDOW_STORE, "data"),
    Input(ids.PENDING_FILTERS, "data"),
    prevent_initial_call=False,
)
def load_filter_options(_window: Store, pending: Store) -> tuple[Any, ...]:
    """Offer the categories, agencies and caveats among the events the viewer may see.

    Values a view URL asked for (``pending``) are set together with the options (a menu drops a
    value it has no option for), keeping only those the viewer may see, then forgotten.
    """
    viewer = require(Capability.VIEW_MAP, _context.viewer())
    with session_scope(_context.engine()) as session:
        values = visible_values(session=session, viewer=viewer)
    options = values["categories"], values["agencies"], values["caveats"]
    if not pending:
        return (*options, no_update, no_update, no_update, no_update)
    chosen = [
        [v for v in pending.get(name) or () if v in offered] or no_update
        for name, offered in zip(("categories", "agencies", "caveats"), options, strict=True)
    ]
    return (*options, *chosen, None)


@callback(
    Output(ids.AREA_CHOICE, "options"),
    Output(ids.AREA_CHOICE, "value"),
    Output(ids.AREA_CHOICE, "disabled"),
    Output(ids.AREA_HINT, "children"),
    Output(ids.PENDING_AREA, "data", allow_duplicate=True),
    Input(ids.AREA_TYPE, "value"),
    State(ids.PENDING_AREA, "data"),
    prevent_initial_call="initial_duplicate",
)
def load_area_choices(
    area_type: str | None, pending: Store
) -> tuple[list[dict[str, Any]], int | None, bool, str, Any]:
    """List the counties or storm footprints the viewer may see for the chosen area type.

    A county or storm a view URL named (``pending``) is chosen when the viewer may see it.
    """
    viewer = require(Capability.VIEW_MAP, _context.viewer())
    if area_type not in ("region", "hazard"):
        hint = AREA_HINTS.get(area_type, "") if area_type is not None else ""
        return [], None, True, hint, no_update
    with session_scope(_context.engine()) as session:
        areas = list_areas(session=session, viewer=viewer, kind=area_type)
    options = [{"label": str(r.name), "value": int(r.id)} for r in areas.itertuples()]
    choice = None
    if pending and pending.get("type") == area_type:
        wanted = pending.get("id")
        choice = wanted if any(o["value"] == wanted for o in options) else None
    return options, choice, False, AREA_HINTS[area_type], None if pending else no_update


@callback(
    Output(ids.FILTER_STORE, "data"),
    Input(ids.FILTER_CATEGORIES, "value"),
    Input(ids.FILTER_AGENCIES, "value"),
    Input(ids.FILTER_CAVEATS, "value"),
    Input(ids.AREA_TYPE, "value"),
    Input(ids.AREA_CHOICE, "value"),
    Input(ids.MAP_GRAPH, "selectedData"),
    State(ids.GEOMETRY_STORE, "data"),
    State(ids.FILTER_STORE, "data"),
    prevent_initial_call=True,
)
def sync_filter_state(
    categories: list[str] | None,
    agencies: list[str] | None,
    caveats: list[str] | None,
    area_type: str | None,
    area_choice: int | None,
    selected: Store,
    geometry: Store,
    current: Store,
) -> Any:
    """Turn the filter controls into the filter store; an unchanged filter updates nothing."""
    require(Capability.VIEW_MAP, _context.viewer())
    payload = filter_payload(
        categories=categories,
        agencies=agencies,
        caveats=caveats,
        area_type=area_type,
        area_choice=area_choice,
        selected=selected,
        view=(geometry or {}).get("view"),
    )
    # The page starts without a store (no filter): the same as an empty filter.
    return no_update if payload == (current or NO_FILTER) else payload


@callback(
    Output(ids.BRIEFING_LINK, "href"),
    Input(ids.WINDOW_STORE, "data"),
    Input(ids.FILTER_STORE, "data"),
    Input(ids.BRIEFING_FORMAT, "value"),
    Input(ids.GEOMETRY_STORE, "data"),
    prevent_initial_call=False,
)
def update_briefing_link(
    window: Store, filter_data: Store, briefing_fmt: str | None, geometry: Store
) -> str:
    """Point the briefing link at its route with the screen state."""
    require(Capability.VIEW_MAP, _context.viewer())
    state = screen_state(window, filter_data)
    res = int((geometry or {}).get("res") or 8)
    if briefing_fmt is None:  # no format chosen: the route's own default (HTML)
        return download_href("/briefing/download", state, res=min(res, 9))
    return download_href("/briefing/download", state, format=briefing_fmt, res=min(res, 9))


@callback(
    Output(ids.EXPORT_JOB, "data"),
    Input(ids.EXPORT_BUTTON, "n_clicks"),
    State(ids.WINDOW_STORE, "data"),
    State(ids.FILTER_STORE, "data"),
    State(ids.EXPORT_LAYER, "value"),
    State(ids.EXPORT_FORMAT, "value"),
    State(ids.GEOMETRY_STORE, "data"),
    prevent_initial_call=True,
)
def start_export(
    n_clicks: int | None,
    window: Store,
    filter_data: Store,
    layer: str | None,
    fmt: str | None,
    geometry: Store,
) -> dict[str, str]:
    """Start an export job for exactly the screen's state; the poll below follows it."""
    viewer = require(Capability.EXPORT, _context.viewer())
    if not n_clicks:
        raise PreventUpdate
    if layer is None or fmt is None:  # both lists are not clearable: a hand-made request
        return {"error": "choose a layer and a format to export"}
    try:
        job_id = start_export_job(
            engine=_context.engine(),
            settings=_context.app_settings(),
            viewer=viewer,
            layer=layer,
            fmt=fmt,
            res=int((geometry or {}).get("res") or 8),
            state=screen_state(window, filter_data),
        )
    except ExportJobError as exc:
        return {"error": str(exc)}
    return {"id": job_id}


@callback(
    Output(ids.EXPORT_STATUS, "hidden"),
    Output(ids.EXPORT_PROGRESS, "value"),
    Output(ids.EXPORT_PROGRESS, "max"),
    Output(ids.EXPORT_STATUS_TEXT, "children"),
    Output(ids.EXPORT_FILE_LINK, "href"),
    Output(ids.EXPORT_FILE_LINK, "children"),
    Output(ids.EXPORT_FILE_LINK, "hidden"),
    Output(ids.EXPORT_INTERVAL, "disabled"),
    Input(ids.EXPORT_JOB, "data"),
    Input(ids.EXPORT_INTERVAL, "n_intervals"),
    prevent_initial_call=True,
)
def poll_export(job: dict[str, str] | None, _ticks: int | None) -> tuple[Any, ...]:
    """Show the job's progress from the database (any worker answers); stop polling at the end."""
    viewer = require(Capability.EXPORT, _context.viewer())
    if not job:
        raise PreventUpdate
    status = None
    if job.get("id"):
        status = job_status(
            engine=_context.engine(),
            settings=_context.app_settings(),
            job_id=job["id"],
            viewer=viewer,
        )
    view = filters.export_progress_view(status, job.get("error"))
    return (
        False,
        str(view.value),
        str(view.maximum),
        view.text,
        view.href,
        view.link_text,
        view.link_hidden,
        not view.polling,
    )


@callback(
    Output(ids.AREA_SUMMARY, "children"),
    Output(ids.AREA_SUMMARY, "hidden"),
    Input(ids.WINDOW_STORE, "data"),
    Input(ids.FILTER_STORE, "data"),
    prevent_initial_call=False,
)
def update_area_summary(window: Store, filter_data: Store) -> tuple[Any, bool]:
    """Summarise the chosen area: events by category vs before, sites, open flags, busiest cells."""
    viewer = require(Capability.VIEW_MAP, _context.viewer())
    state = screen_state(window, filter_data)
    if state.area.get("type", "none") == "none":
        return [], True
    tz = _context.app_settings().timezone
    with session_scope(_context.engine()) as session:
        try:
            f = screen_filter(state, session=session, viewer=viewer, tz=tz)
        except SelectionError as exc:
            return [str(exc)], False
        if f.window is None:
            return ["Choose a time window (not 'All') for the area summary."], False
        summary = filtered_picture(session=session, viewer=viewer, filters=f)
        flags = open_flags_inside(session=session, viewer=viewer, area=f.area)
        name = area_label(state, session=session, viewer=viewer)
    return filters.area_summary_children(name, summary, flags), False

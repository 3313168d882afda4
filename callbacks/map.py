"""Map panel: the window, the map (full figure or values-only Patch), timeline and playback."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dash import (
    ClientsideFunction,
    Input,
    NoUpdate,
    Output,
    Patch,
    State,
    callback,
    clientside_callback,
    ctx,
    no_update,
)

from callbacks import _context
from callbacks._answer import plain
from callbacks._guard import Store
from callbacks._state import ViewState, WindowState
from layers import viewport as vp
from layers.base import COLOUR_MODES, ColourMode
from layers.payload import map_payload
from layers.selection import ScreenState, screen_filter_without_lost_area, screen_state
from layers.timeline import brushed_window, step_window, timeline_figure, timeline_frame
from layers.view import build_map_view, resolve_window
from rules.capabilities import Capability, require
from security.audit import record
from store.columnar import want_version
from store.engine import session_scope
from store.queries import EventFilter
from ui import ids, summary


@callback(
    Output(ids.WINDOW_STORE, "data"),
    Input(ids.WINDOW_PRESET, "value"),
    Input(ids.CUSTOM_RANGE, "start_date"),
    Input(ids.CUSTOM_RANGE, "end_date"),
    Input(ids.TIMELINE_GRAPH, "selectedData"),
    Input(ids.PLAY_INTERVAL, "n_intervals"),
    State(ids.WINDOW_STORE, "data"),
    prevent_initial_call=False,
)
def set_window(
    preset: str | None,
    start: str | None,
    end: str | None,
    brushed: Store,
    _tick: int | None,
    current: Store,
) -> dict[str, Any] | NoUpdate:
    """Turn a preset, a date range, a brushed timeline range or a playback tick into the window."""
    require(Capability.VIEW_MAP, _context.viewer())
    tz = _context.app_settings().timezone
    trigger = ctx.triggered_id
    if trigger == ids.TIMELINE_GRAPH:
        window = brushed_window(brushed, tz)
        return WindowState.from_window(window).to_store() if window else no_update
    if trigger == ids.PLAY_INTERVAL:
        state = WindowState.from_store(current)
        with session_scope(_context.engine()) as session:
            window, last = resolve_window(
                session=session,
                viewer=_context.viewer(),
                preset=state.preset,
                custom=state.custom,
                tz=tz,
            )
        if window is None or last is None or window.end_at > last:
            return no_update  # playback stops at the newest report
        return WindowState.from_window(step_window(window, tz)).to_store()
    view = ViewState.from_controls([], preset, None, start, end)
    custom = view.custom_window(tz)
    if custom is None:
        return WindowState(view.preset).to_store()
    return WindowState.from_window(custom).to_store()


@callback(
    Output(ids.HEX_RES_AUTO, "value"),
    Input(ids.HEX_RES, "value"),
    prevent_initial_call=True,
)
def override_resolution(_res: int | None) -> list[str]:
    """Moving the resolution slider switches the zoom-following resolution off."""
    require(Capability.VIEW_MAP, _context.viewer())
    return []


@callback(
    Output(ids.MAP_SPEC, "data"),
    Output(ids.HEX_CELLS, "data"),
    Output(ids.GEOMETRY_STORE, "data"),
    Output(ids.SUMMARY, "children"),
    Output(ids.NOTES, "children"),
    Output(ids.WINDOW_TEXT, "children"),
    Output(ids.DATA_THROUGH, "children"),
    Output(ids.MARKING_BANNER, "children"),
    Output(ids.MARKING_BANNER, "className"),
    Output(ids.MARKING_FOOTER, "children"),
    Output(ids.MARKING_FOOTER, "className"),
    Input(ids.WINDOW_STORE, "data"),
    Input(ids.LAYER_TOGGLES, "value"),
    Input(ids.HEX_RES, "value"),
    Input(ids.HEX_RES_AUTO, "value"),
    Input(ids.HEX_COLOUR, "value"),
    Input(ids.MAP_VIEW, "data"),
    Input(ids.FILTER_STORE, "data"),
    Input(ids.DATA_VERSION, "data"),
    State(ids.GEOMETRY_STORE, "data"),
    prevent_initial_call=False,
)
def update_map_figure(
    window_data: Store,
    visible: list[str] | None,
    res: int | None,
    auto: list[str] | None,
    colour: str | None,
    relayout: Store,
    filter_data: Store,
    version: str | None,
    geometry: Store,
) -> tuple[Any, ...]:
    """Redraw the map: the full figure when resolution, viewport or layers change, else values.

    A new data version (live updates) redraws the same view with the new data.

    The figure goes to the map-spec store and the hexagon cells, when the browser lacks them,
    to the hex-cells store; ``assets/watchfloor_map.js`` builds the polygons and the figure.
    """
    settings = _context.app_settings()
    viewer = require(Capability.VIEW_MAP, _context.viewer())
    config = _context.map_config()
    geometry = geometry or {}
    # ``relayout`` holds the last pan or zoom only (assets/watchfloor_map.js keeps autosize and
    # other relayout events out), so a zoom is never lost to a later event without a viewport.
    moved = vp.relayout_view(relayout)
    center = vp.relayout_center(relayout) or tuple(
        geometry.get("center") or (config.center_lat, config.center_lon)
    )
    # The figure describes the user's current view, so no redraw can move the map back.
    zoom, view_bbox = moved or (
        geometry.get("zoom", config.zoom),
        tuple(geometry["view"])
        if geometry.get("view")
        else vp.approx_viewport(config.center_lat, config.center_lon, config.zoom),
    )
    state = ViewState.from_controls(visible, "30d", res)
    finest = min(10, settings.h3_store_res)  # the slider's top: no finer than the stored cells
    res_now = vp.res_for_zoom(zoom, finest=finest) if auto else min(state.res, finest)
    colour_now: ColourMode = colour if colour in COLOUR_MODES else "total"
    old_box = tuple(geometry["bbox"]) if geometry.get("bbox") else None
    screen = screen_state(window_data, filter_data)
    filter_key = screen_state(None, filter_data).to_json()  # the filters, not the window
    reuse = (
        old_box is not None
        and geometry.get("res") == res_now
        and geometry.get("visible") == list(state.visible)
        and geometry.get("filters") == filter_key
        and vp.contains(old_box, view_bbox)
    )
    bbox = old_box if reuse and old_box is not None else vp.padded(view_bbox)
    window = WindowState.from_store(window_data)
    # New data in a view already drawn, or a pan: nothing to audit. The first draw waits for the
    # first data version (Dash chains it), so it is audited even though that version triggered it.
    first_draw = not geometry.get("digest")
    refresh = ctx.triggered_id == ids.DATA_VERSION and not first_draw
    with session_scope(_context.engine(), readonly=refresh) as session:
        if ctx.triggered_id == ids.DATA_VERSION:
            # Drawn from data at least as new as the version the live poll saw, not from a
            # worker's lagging snapshot (which would show the new rows only one poll later).
            want_version(session=session, token=version)
        if first_draw or ctx.triggered_id not in (ids.MAP_VIEW, ids.DATA_VERSION):
            record(
                session=session,
                viewer=viewer,
                action="map.filter",
                details={
                    **vars(state),
                    "window": window.to_store(),
                    "colour": colour_now,
                    # Bounded and normalised: a drawn area is kept as its size, bounds and hash.
                    "filters": screen.to_audit(),
                },
            )
        filters, problem = _screen_filters(screen, session=session, viewer=viewer)
        view = build_map_view(
            session=session,
            viewer=viewer,
            filters=filters,
            preset=window.preset,
            custom=window.custom,
            visible=state.visible,
            res=res_now,
            max_points=settings.max_points,
            tz=settings.timezone,
            config=replace(config, center_lat=center[0], center_lon=center[1], zoom=zoom),
            colour=colour_now,
            viewport=bbox,
            with_geometry=False,
            cache=_context.cache(),
        )
    payload = map_payload(view, values_only=reuse, held_digest=geometry.get("digest"))
    marking = summary.marking_text(view.marking)
    css = summary.marking_class(view.marking)
    store = {
        "res": res_now,
        "bbox": list(bbox),
        "visible": list(state.visible),
        "zoom": zoom,
        "center": list(center),
        "view": list(view_bbox),
        "digest": payload.digest,
        "filters": filter_key,
        # The live poll compares it with the data version (callbacks/live.py).
        "drawn": str(view.data_token),
    }
    # Plain data only (a component or the Patch would send the whole answer, points and all,
    # through plotly's slow JSON walk: callbacks/_answer.py).
    return (
        plain(payload.spec) if isinstance(payload.spec, Patch) else payload.spec,
        payload.cells if payload.cells is not None else no_update,
        store,
        plain(summary.summary_children(view)),
        " ".join([*view.notes, *problem]),
        summary.window_text(view.window, settings.timezone),
        summary.data_through_text(view, settings.timezone),
        marking,
        css,
        marking,
        css,
    )


# Pans and zooms reach the server through the map-view store, which only they update.
clientside_callback(
    ClientsideFunction(namespace="watchfloor", function_name="mapView"),
    Output(ids.MAP_VIEW, "data"),
    Input(ids.MAP_GRAPH, "relayoutData"),
    prevent_initial_call=True,
)

# The figure is assembled in the browser: the spec plus the polygons of the hexagon cells.
clientside_callback(
    ClientsideFunction(namespace="watchfloor", function_name="mapFigure"),
    Output(ids.MAP_GRAPH, "figure"),
    Input(ids.MAP_SPEC, "data"),
    Input(ids.HEX_CELLS, "data"),
)


def _screen_filters(
    screen: ScreenState, *, session: Any, viewer: Any
) -> tuple[EventFilter, list[str]]:
    """The screen's filter without its window (the view resolves it); a lost area: none."""
    tz = _context.app_settings().timezone
    filters, problem = screen_filter_without_lost_area(
        screen, session=session, viewer=viewer, tz=tz
    )
    return replace(filters, window=None), [problem] if problem else []


@callback(
    Output(ids.TIMELINE_GRAPH, "figure"),
    Input(ids.WINDOW_STORE, "data"),
    Input(ids.FILTER_STORE, "data"),
    Input(ids.TIMELINE_TOKEN, "data"),
    prevent_initial_call=False,
)
def update_timeline(window_data: Store, filter_data: Store, live: Store) -> dict[str, Any]:
    """Redraw the timeline (events per local day) with the window shaded; new data redraws it
    at most every 30 s (``assets/watchfloor_live.js``: day bars need no 5-second refresh)."""
    require(Capability.VIEW_MAP, _context.viewer())
    tz = _context.app_settings().timezone
    state = WindowState.from_store(window_data)
    with session_scope(_context.engine(), readonly=True) as session:  # reads only
        if ctx.triggered_id == ids.TIMELINE_TOKEN and isinstance(live, dict):
            want_version(session=session, token=live.get("v"))  # as the map: the poll's data
        viewer = _context.viewer()
        window, _ = resolve_window(
            session=session, viewer=viewer, preset=state.preset, custom=state.custom, tz=tz
        )
        filters, _ = _screen_filters(
            screen_state(window_data, filter_data), session=session, viewer=viewer
        )
        frame = timeline_frame(
            session=session, viewer=viewer, filters=filters, tz=tz, cache=_context.cache()
        )
    return timeline_figure(frame, window, tz)


@callback(
    Output(ids.PLAY_INTERVAL, "disabled"),
    Output(ids.PLAY_INTERVAL, "interval"),
    Output(ids.PLAY_BUTTON, "children"),
    Input(ids.PLAY_BUTTON, "n_clicks"),
    Input(ids.PLAY_SPEED, "value"),
    State(ids.PLAY_INTERVAL, "disabled"),
    prevent_initial_call=True,
)
def toggle_playback(
    _clicks: int | None, speed_ms: int | None, disabled: bool | None
) -> tuple[bool, int, str]:
    """Start or pause playback; the speed applies at once."""
    require(Capability.VIEW_MAP, _context.viewer())
    playing = disabled if ctx.triggered_id == ids.PLAY_BUTTON else not disabled
    return (not playing, int(speed_ms or 1000), "⏸ Pause" if playing else "▶ Play")

"""Live watch desk: the change signal, the feed, flag alerts, preferences and the view URL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import (
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    no_update,
)
from dash.exceptions import PreventUpdate

from callbacks import _context
from callbacks._answer import plain
from callbacks._guard import Store
from callbacks._state import WindowState
from rules.capabilities import Capability, require
from security.audit import record
from store.engine import session_scope
from store.queries.feed import (
    feed_items,
    flag_alerts,
    live_version,
    newest_event_id,
    next_version,
    seen_event_key,
    unseen_count,
)
from store.user_prefs import load_prefs, save_prefs
from ui import ids, live, viewurl

ALERT_SOUND = "alert.wav"


@callback(
    Output(ids.DATA_VERSION, "data"),
    Input(ids.LIVE_INTERVAL, "n_intervals"),
    State(ids.DATA_VERSION, "data"),
    State(ids.GEOMETRY_STORE, "data"),
    prevent_initial_call=False,
)
def poll_data_version(_tick: int | None, current: str | None, geometry: Store) -> Any:
    """Read the data version (the worker's events snapshot, refreshed at most once per lag, and
    the flags token); the map, timeline and feed redraw on a change, from data at least that new
    (``store.columnar.want_version``), and again while the map was drawn from another snapshot."""
    require(Capability.VIEW_MAP, _context.viewer())
    with session_scope(_context.engine(), readonly=True) as session:
        version = live_version(session=session)
    found = next_version(version, current, drawn=(geometry or {}).get("drawn"))
    return no_update if found is None else found


# Flag views redraw when flags change (and each minute, for snoozes), not with every new event.
clientside_callback(
    ClientsideFunction(namespace="watchfloor", function_name="flagToken"),
    Output(ids.FLAG_TOKEN, "data"),
    Input(ids.DATA_VERSION, "data"),
    Input(ids.LIVE_INTERVAL, "n_intervals"),
    State(ids.FLAG_TOKEN, "data"),
)


# The timeline follows new data at most every 30 s (browser-side, no request).
clientside_callback(
    ClientsideFunction(namespace="watchfloor", function_name="timelineToken"),
    Output(ids.TIMELINE_TOKEN, "data"),
    Input(ids.DATA_VERSION, "data"),
    Input(ids.LIVE_INTERVAL, "n_intervals"),
    State(ids.TIMELINE_TOKEN, "data"),
)


# Pausing stops the poll in the browser: nothing redraws until it is switched back on.
clientside_callback(
    ClientsideFunction(namespace="watchfloor", function_name="pauseLive"),
    Output(ids.LIVE_INTERVAL, "disabled"),
    Input(ids.LIVE_PAUSE, "value"),
)


@callback(
    Output(ids.THEME, "value"),
    Output(ids.WALL_MODE, "value"),
    Output(ids.SOUND, "value"),
    Input(ids.THEME, "value"),
    Input(ids.WALL_MODE, "value"),
    Input(ids.SOUND, "value"),
    prevent_initial_call=False,
)
def sync_prefs(theme: str | None, wall: list[str] | None, sound: list[str] | None) -> Any:
    """On load, show the user's kept theme, wall mode and sound; on a change, keep it."""
    viewer = require(Capability.VIEW_MAP, _context.viewer())
    with session_scope(_context.engine()) as session:
        if ctx.triggered_id is None:
            prefs = load_prefs(session=session, username=viewer.username) or save_prefs(
                session=session,
                username=viewer.username,
                # A first visit starts with nothing "new": the count is of what arrives after.
                feed_seen_id=newest_event_id(session=session, viewer=viewer),
            )
            return prefs.theme, ["on"] if prefs.wall_mode else [], ["on"] if prefs.sound else []
        save_prefs(
            session=session,
            username=viewer.username,
            theme=theme,
            wall_mode=bool(wall),
            sound=bool(sound),
        )
    return no_update, no_update, no_update


# Theme and wall mode are CSS classes on the page (assets/watchfloor.css).
clientside_callback(
    ClientsideFunction(namespace="watchfloor", function_name="shellClass"),
    Output(ids.SHELL, "className"),
    Input(ids.THEME, "value"),
    Input(ids.WALL_MODE, "value"),
)


@callback(
    Output(ids.FEED_LIST, "children"),
    Output(ids.FEED_COUNT, "children"),
    Output(ids.FEED_STATE, "data"),
    Input(ids.DATA_VERSION, "data"),
    Input(ids.FEED_ACK, "n_clicks"),
    State(ids.FEED_STATE, "data"),
    prevent_initial_call=False,
)
def update_feed(_version: str | None, _ack: int | None, state: Store) -> tuple[Any, ...]:
    """List the newest visible events and count those stored since the user last looked.

    The first draw and every acknowledgement are audited (``feed.view``); refreshes driven by
    the data version are not, or every open dashboard would write an entry per new report.
    """
    settings = _context.app_settings()
    viewer = require(Capability.VIEW_MAP, _context.viewer())
    trigger = ctx.triggered_id
    with session_scope(_context.engine(), readonly=trigger == ids.DATA_VERSION) as session:
        if trigger == ids.FEED_ACK:
            # The page holds the public id of the newest item it showed, never a key.
            shown = seen_event_key(
                session=session, viewer=viewer, public_id=str((state or {}).get("newest") or "")
            )
            if shown is not None:
                save_prefs(session=session, username=viewer.username, feed_seen_id=shown)
        items = feed_items(session=session, viewer=viewer, limit=settings.live_feed_items)
        prefs = load_prefs(session=session, username=viewer.username)
        seen = prefs.feed_seen_id if prefs else (items[0].id if items else 0)
        count = unseen_count(session=session, viewer=viewer, after_id=seen)
        if trigger != ids.DATA_VERSION:
            record(
                session=session, viewer=viewer, action="feed.view", details={"items": len(items)}
            )
    newest = items[0].public_id if items else ""
    return (
        plain(live.feed_children(items, seen, settings.timezone)),  # see callbacks/_answer.py
        live.unseen_text(count),
        {"newest": newest},
    )


@callback(
    Output(ids.ALERT_TOAST, "hidden"),
    Output(ids.ALERT_TEXT, "children"),
    Output(ids.FLAG_BADGE, "children"),
    Output(ids.FLAG_BADGE, "hidden"),
    Output(ids.ALERT_STORE, "data"),
    Input(ids.FLAG_TOKEN, "data"),
    Input(ids.ALERT_ACK, "n_clicks"),
    State(ids.ALERT_STORE, "data"),
    State(ids.SOUND, "value"),
    prevent_initial_call=False,
)
def update_flag_alerts(
    _version: str | None, _ack: int | None, shown: Store, sound: list[str] | None
) -> tuple[Any, ...]:
    """Show new or escalated flags until acknowledged; acknowledging covers what was shown."""
    viewer = require(Capability.VIEW_MAP, _context.viewer())
    shown = shown or {}
    acking = ctx.triggered_id == ids.ALERT_ACK and bool(shown.get("upto"))
    with session_scope(_context.engine(), readonly=not acking) as session:
        if acking:
            save_prefs(
                session=session,
                username=viewer.username,
                flags_seen_at=datetime.fromisoformat(shown["upto"]),
            )
            record(
                session=session,
                viewer=viewer,
                action="flag.alert.ack",
                details={"flags": shown.get("ids", [])},
            )
        prefs = load_prefs(session=session, username=viewer.username)
        alerts = flag_alerts(
            session=session, viewer=viewer, since=prefs.flags_seen_at if prefs else None
        )
    alert_ids = [a.public_id for a in alerts]  # public ids: the page keeps these
    fresh = set(alert_ids) - set(shown.get("ids") or [])
    store = {
        "ids": alert_ids,
        "upto": max(a.last_detected_at for a in alerts).isoformat() if alerts else None,
        "play": _context.asset_url(ALERT_SOUND) if fresh and sound else None,
    }
    badge = f"⚑ {len(alerts)}" if alerts else ""
    return not alerts, live.alert_children(alerts), badge, not alerts, store


# The alert sound plays in the browser (when switched on and a new flag came in).
clientside_callback(
    ClientsideFunction(namespace="watchfloor", function_name="alertSound"),
    Output(ids.ALERT_SOUND_SINK, "data"),
    Input(ids.ALERT_STORE, "data"),
    prevent_initial_call=True,
)


@callback(
    Output(ids.VIEW_QUERY, "data"),
    Input(ids.GEOMETRY_STORE, "data"),
    Input(ids.WINDOW_STORE, "data"),
    Input(ids.LAYER_TOGGLES, "value"),
    Input(ids.HEX_RES, "value"),
    Input(ids.HEX_RES_AUTO, "value"),
    Input(ids.HEX_COLOUR, "value"),
    Input(ids.FILTER_STORE, "data"),
    prevent_initial_call=True,
)
def encode_view_url(
    geometry: dict[str, Any] | None,
    window_data: Store,
    visible: list[str] | None,
    res: int | None,
    auto: list[str] | None,
    colour: str | None,
    filter_data: dict[str, Any] | None,
) -> str:
    """Write the current view as a URL query (the browser puts it in the address bar)."""
    require(Capability.VIEW_MAP, _context.viewer())
    tz = _context.app_settings().timezone
    geometry = geometry or {}
    center = geometry.get("center") or (None, None)
    window = WindowState.from_store(window_data)
    start, end = viewurl.local_days(window.custom, tz) if window.custom else (None, None)
    view = viewurl.UrlView(
        lat=center[0],
        lon=center[1],
        zoom=geometry.get("zoom"),
        preset=window.preset,
        start=start,
        end=end,
        layers=tuple(visible) if visible is not None else None,
        res=int(res) if res is not None else None,
        auto=bool(auto),
        colour=colour,
        **_url_filters(filter_data or {}),
    )
    return viewurl.encode_view(view)


def _url_filters(filter_data: dict[str, Any]) -> dict[str, Any]:
    """The filter store's parts a link carries: menus, and a county or storm (drawn areas and a
    frozen view are not put in links)."""
    area = filter_data.get("area") or {}
    kind = area.get("type")
    return {
        "categories": tuple(filter_data.get("categories") or ()) or None,
        "agencies": tuple(filter_data.get("agencies") or ()) or None,
        "caveats": tuple(filter_data.get("caveats") or ()) or None,
        "area": (kind, int(area["id"])) if kind in viewurl.AREA_KINDS and "id" in area else None,
    }


# history.replaceState: the address bar follows the view without adding history entries.
clientside_callback(
    ClientsideFunction(namespace="watchfloor", function_name="replaceUrl"),
    Output(ids.VIEW_URL_SINK, "data"),
    Input(ids.VIEW_QUERY, "data"),
    prevent_initial_call=True,
)


@callback(
    Output(ids.LAYER_TOGGLES, "value"),
    Output(ids.WINDOW_PRESET, "value"),
    Output(ids.CUSTOM_RANGE, "start_date"),
    Output(ids.CUSTOM_RANGE, "end_date"),
    Output(ids.HEX_RES, "value"),
    Output(ids.HEX_RES_AUTO, "value", allow_duplicate=True),
    Output(ids.HEX_COLOUR, "value"),
    Output(ids.MAP_VIEW, "data", allow_duplicate=True),
    Output(ids.PENDING_FILTERS, "data", allow_duplicate=True),
    Output(ids.AREA_TYPE, "value", allow_duplicate=True),
    Output(ids.PENDING_AREA, "data", allow_duplicate=True),
    Input(ids.URL, "search"),
    prevent_initial_call="initial_duplicate",
)
def restore_view(search: str | None) -> tuple[Any, ...]:
    """Open the view a link holds (once, on load); what it does not give keeps its default."""
    require(Capability.VIEW_MAP, _context.viewer())
    view = viewurl.decode_view(search or "")
    if view == viewurl.UrlView():
        raise PreventUpdate
    keep = no_update
    map_view: Any = keep
    if view.lat is not None and view.lon is not None:
        zoom = view.zoom if view.zoom is not None else _context.map_config().zoom
        map_view = {"map.zoom": zoom, "map.center": {"lat": view.lat, "lon": view.lon}}
    return (
        list(view.layers) if view.layers is not None else keep,
        view.preset if view.preset is not None else keep,
        view.start.isoformat() if view.start else keep,
        view.end.isoformat() if view.end else keep,
        view.res if view.res is not None else keep,  # a manual resolution switches auto off
        ["auto"] if view.auto else ([] if view.res is not None else keep),
        view.colour if view.colour is not None else keep,
        map_view,
        # The menus get these once their options are there (callbacks/filters.py).
        {"categories": view.categories, "agencies": view.agencies, "caveats": view.caveats}
        if (view.categories or view.agencies or view.caveats)
        else keep,
        view.area[0] if view.area else keep,
        {"type": view.area[0], "id": view.area[1]} if view.area else keep,
    )

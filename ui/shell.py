"""The page frame: header with marking and data time, control panel, map, summary, footer."""

from __future__ import annotations

from dash import dcc, html

from domain.roles import Viewer
from layers.registry import DEFAULT_VISIBLE, LAYERS
from rules.capabilities import Capability, can
from rules.write_rights import import_sources
from settings import Settings
from ui import filters, flags_queue, ids, live, mappanel, upload
from ui.options import Option, option

WINDOW_OPTIONS: list[Option] = [
    {"label": "Last 24 h", "value": "24h"},
    {"label": "Last 7 days", "value": "7d"},
    {"label": "Last 30 days", "value": "30d"},
    {"label": "Last 90 days", "value": "90d"},
    {"label": "All", "value": "all"},
    {"label": "Custom", "value": "custom"},
]


def _controls(settings: Settings, viewer: Viewer | None) -> html.Div:
    # The import panel shows only to users who may import (the server checks it regardless);
    # it stays in the layout, hidden, so its callbacks always find their components.
    may_import = viewer is not None and can(viewer, Capability.IMPORT)
    may_export = viewer is not None and can(viewer, Capability.EXPORT)
    return html.Div(
        className="wf-panel",
        children=[
            html.H2("Layers"),
            dcc.Checklist(
                id=ids.LAYER_TOGGLES,
                options=[option(layer.label, key) for key, layer in LAYERS.items()],
                value=list(DEFAULT_VISIBLE),
                className="wf-checklist",
                inputClassName="wf-check",
            ),
            html.H2("Time window"),
            html.P("Relative to the newest report, not the wall clock.", className="wf-hint"),
            dcc.RadioItems(
                id=ids.WINDOW_PRESET,
                options=WINDOW_OPTIONS,
                value=f"{settings.default_window_days}d"
                if f"{settings.default_window_days}d" in {"7d", "30d", "90d"}
                else "30d",
                className="wf-radio",
            ),
            dcc.DatePickerRange(id=ids.CUSTOM_RANGE, display_format="YYYY-MM-DD", clearable=True),
            *filters.filter_controls(),
            filters.download_controls(may_export),
            *mappanel.playback_controls(),
            *mappanel.hex_controls(settings),
            html.Div(id=ids.WINDOW_TEXT, className="wf-hint"),
            html.Div(upload.panel(_import_sources(settings, viewer)), hidden=not may_import),
        ],
    )


def _import_sources(settings: Settings, viewer: Viewer | None) -> list[str]:
    if viewer is None:
        return []
    return import_sources(
        viewer, host_agency=settings.host_agency, delegations=settings.import_delegations
    )


def _user_menu(viewer: Viewer | None) -> html.Div:
    if viewer is None:
        return html.Div(id=ids.USER_MENU)
    return html.Div(
        id=ids.USER_MENU,
        className="wf-user",
        children=[
            html.Span(
                f"{viewer.username} · {viewer.role.value.replace('_', ' ')} · {viewer.agency}"
            ),
            *(
                [html.A("Audit log", href="/admin/audit", className="wf-admin-link")]
                if can(viewer, Capability.READ_AUDIT)
                else []
            ),
            html.Form(
                html.Button("Sign out", id=ids.SIGN_OUT, type="submit", className="wf-signout"),
                action="/logout",
                method="POST",
            ),
        ],
    )


def layout(settings: Settings, viewer: Viewer | None = None) -> html.Div:
    """Return the whole page for ``settings``, with ``viewer``'s name and a sign-out button."""
    return html.Div(
        id=ids.SHELL,
        className="wf-shell",
        children=[
            html.Div(id=ids.MARKING_BANNER, className="wf-marking"),
            html.Header(
                className="wf-header",
                children=[
                    html.H1("Watchfloor"),
                    html.Span("Situational awareness · fusion center", className="wf-sub"),
                    html.Span(id=ids.DATA_THROUGH, className="wf-data-through"),
                    live.live_bar(),
                    _user_menu(viewer),
                ],
            ),
            html.Main(
                className="wf-main",
                children=[
                    _controls(settings, viewer),
                    html.Div(
                        className="wf-map-wrap",
                        children=[
                            dcc.Loading(
                                dcc.Graph(
                                    id=ids.MAP_GRAPH,
                                    className="wf-map",
                                    config={"displaylogo": False, "scrollZoom": True},
                                    style={"height": "100%"},
                                ),
                                parent_style={"height": "100%"},
                                delay_show=400,
                            ),
                            mappanel.timeline(),
                            live.alert_toast(),
                        ],
                    ),
                    mappanel.cell_panel(),
                    live.feed_panel(),
                ],
            ),
            filters.area_summary(),
            flags_queue.panel(),
            *mappanel.stores(),
            *live.stores(settings),
            html.Footer(
                className="wf-footer",
                children=[
                    html.Div(id=ids.SUMMARY, className="wf-summary"),
                    html.Div(id=ids.NOTES, className="wf-notes"),
                    html.Div(id=ids.MARKING_FOOTER, className="wf-marking"),
                ],
            ),
        ],
    )

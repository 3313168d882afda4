"""Layout factories of the map panel: hexagon controls, timeline, playback, cell detail."""

from __future__ import annotations

import dash_ag_grid as dag
from dash import dcc, html
from dash.development.base_component import Component

from settings import Settings
from ui import ids
from ui.options import Option, option

COLOUR_OPTIONS: list[Option] = [
    {"label": "Total events", "value": "total"},
    {"label": "Suspicious only", "value": "suspicious"},
    {"label": "Incidents only", "value": "incident"},
    {"label": "Severity-weighted", "value": "severity"},
    {"label": "Change vs. 4 previous windows (z)", "value": "change"},
]
SPEED_OPTIONS: list[Option] = [  # milliseconds per step (one local day)
    {"label": "0.5 s / day", "value": 500},
    {"label": "1 s / day", "value": 1000},
    {"label": "2 s / day", "value": 2000},
]
CELL_COLUMNS = [
    {"field": "occurred_at", "headerName": "When (local)", "sort": "desc"},
    {"field": "kind", "headerName": "Kind"},
    {"field": "category", "headerName": "Category"},
    {"field": "severity", "headerName": "Sev.", "width": 70},
    {"field": "source_agency", "headerName": "Agency"},
    {"field": "handling", "headerName": "Handling"},
    {"field": "location_text", "headerName": "Location"},
]


def hex_controls(settings: Settings) -> list[Component]:
    """Return the hexagon resolution (auto or manual) and colouring controls."""
    top = min(10, settings.h3_store_res)
    return [
        html.H2("Hexagon size (H3 resolution)"),
        dcc.Checklist(
            id=ids.HEX_RES_AUTO,
            options=[option("Follow map zoom", "auto")],
            value=["auto"],
            className="wf-checklist",
            inputClassName="wf-check",
        ),
        dcc.Slider(
            id=ids.HEX_RES,
            min=5,
            max=top,
            step=1,
            value=settings.h3_default_res,
            marks={r: str(r) for r in range(5, top + 1)},
        ),
        html.P("Moving the slider overrides the zoom.", className="wf-hint"),
        html.H2("Colour hexagons by"),
        dcc.RadioItems(
            id=ids.HEX_COLOUR, options=COLOUR_OPTIONS, value="total", className="wf-radio"
        ),
    ]


def playback_controls() -> list[Component]:
    """Return the play/pause button, the speed and the interval that steps the window."""
    return [
        html.H2("Playback"),
        html.Div(
            className="wf-play",
            children=[
                html.Button("▶ Play", id=ids.PLAY_BUTTON, n_clicks=0, className="wf-button"),
                dcc.Dropdown(
                    id=ids.PLAY_SPEED,
                    options=SPEED_OPTIONS,
                    value=1000,
                    clearable=False,
                    className="wf-speed",
                ),
            ],
        ),
        html.P("Steps the window one day at a time; every layer follows.", className="wf-hint"),
        dcc.Interval(id=ids.PLAY_INTERVAL, interval=1000, disabled=True),
    ]


def timeline() -> dcc.Graph:
    """Return the timeline under the map: events per day; brushing selects the window."""
    return dcc.Graph(
        id=ids.TIMELINE_GRAPH,
        className="wf-timeline",
        config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d"]},
        style={"height": "130px"},
    )


def cell_panel() -> html.Aside:
    """Return the side panel listing the events, categories and sites of a clicked hexagon."""
    return html.Aside(
        id=ids.CELL_PANEL,
        className="wf-cell-panel",
        hidden=True,
        children=[
            html.H2(id=ids.CELL_TITLE),
            html.Div(id=ids.CELL_BREAKDOWN, className="wf-hint"),
            html.Div(id=ids.CELL_SITES, className="wf-hint"),
            dag.AgGrid(
                id=ids.CELL_GRID,
                columnDefs=CELL_COLUMNS,
                rowData=[],
                defaultColDef={"sortable": True, "resizable": True, "filter": True},
                dashGridOptions={"pagination": True, "paginationPageSize": 20},
                style={"height": "420px"},
            ),
        ],
    )


def stores() -> list[dcc.Store]:
    """Return the map panel's view-state stores (declared once, here)."""
    return [
        dcc.Store(id=ids.WINDOW_STORE, storage_type="memory"),
        dcc.Store(id=ids.GEOMETRY_STORE, storage_type="memory"),
        dcc.Store(id=ids.MAP_SPEC, storage_type="memory"),
        dcc.Store(id=ids.HEX_CELLS, storage_type="memory"),
        dcc.Store(id=ids.MAP_VIEW, storage_type="memory"),
        # The filters and area of the filter panel (layers.selection.filter_payload), no window.
        dcc.Store(id=ids.FILTER_STORE, storage_type="memory"),
    ]

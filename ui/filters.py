"""Layout factories of the filter panel: filters, area chooser, area summary, downloads."""

from __future__ import annotations

import pandas as pd
from dash import dcc, html

from analytics.summary import RegionSummary
from exports.formats import FORMATS
from exports.service import EXPORT_LAYERS
from ui import ids

AREA_OPTIONS = [
    {"label": "None (everything)", "value": "none"},
    {"label": "County", "value": "region"},
    {"label": "Hazard footprint", "value": "hazard"},
    {"label": "Drawn on the map (lasso or box)", "value": "drawn"},
    {"label": "Current map view", "value": "viewport"},
]
EXPORT_LAYER_OPTIONS = [{"label": "All layers", "value": "all"}] + [
    {"label": name, "value": name} for name in EXPORT_LAYERS
]
FORMAT_LABELS = {
    "geojson": "GeoJSON",
    "csv": "CSV (zip with metadata)",
    "gpkg": "GeoPackage",
    "shp": "Shapefile (zip)",
    "kml": "KML (zip with metadata)",
    "kmz": "KMZ",
}


def _multi(id_: str, placeholder: str) -> dcc.Dropdown:
    return dcc.Dropdown(
        id=id_, options=[], value=[], multi=True, placeholder=placeholder, className="wf-multi"
    )


def filter_controls() -> list[object]:
    """Return the category, agency and caveat multi-selects and the area chooser."""
    return [
        html.H2("Filters"),
        _multi(ids.FILTER_CATEGORIES, "All categories"),
        _multi(ids.FILTER_AGENCIES, "All agencies"),
        _multi(ids.FILTER_CAVEATS, "All caveats"),
        html.H2("Area"),
        dcc.RadioItems(id=ids.AREA_TYPE, options=AREA_OPTIONS, value="none", className="wf-radio"),
        dcc.Dropdown(
            id=ids.AREA_CHOICE, options=[], value=None, placeholder="Choose…", className="wf-multi"
        ),
        html.P(id=ids.AREA_HINT, className="wf-hint"),
    ]


def download_controls(may_export: bool) -> html.Div:
    """Return the export (layer + format) and briefing (HTML/PDF) links; hidden without EXPORT.

    The links are plain ``GET`` downloads whose query string carries the screen state; the
    server rebuilds the filter from it and checks the capability itself.
    """
    return html.Div(
        id=ids.EXPORT_PANEL,
        hidden=not may_export,
        children=[
            html.H2("Export what is on screen"),
            dcc.Dropdown(
                id=ids.EXPORT_LAYER, options=EXPORT_LAYER_OPTIONS, value="all", clearable=False
            ),
            dcc.Dropdown(
                id=ids.EXPORT_FORMAT,
                options=[{"label": FORMAT_LABELS[f], "value": f} for f in FORMATS],
                value="gpkg",
                clearable=False,
            ),
            html.A("⭳ Export", id=ids.EXPORT_LINK, href="", className="wf-button wf-link"),
            html.H2("Briefing"),
            dcc.RadioItems(
                id=ids.BRIEFING_FORMAT,
                options=[{"label": "PDF", "value": "pdf"}, {"label": "HTML", "value": "html"}],
                value="pdf",
                inline=True,
                className="wf-radio",
            ),
            html.A("⭳ Briefing", id=ids.BRIEFING_LINK, href="", className="wf-button wf-link"),
        ],
    )


def area_summary() -> html.Section:
    """Return the area summary panel (filled when an area is chosen)."""
    return html.Section(id=ids.AREA_SUMMARY, className="wf-area-summary", hidden=True)


def _table(frame: pd.DataFrame, columns: dict[str, str], rows: int = 8) -> html.Table:
    head = html.Tr([html.Th(label) for label in columns.values()])
    body = []
    for record in frame.head(rows).to_dict(orient="records"):
        cells = []
        for col in columns:
            value = record[col]
            if col == "change":
                css = "wf-up" if value > 0 else "wf-down" if value < 0 else ""
                cells.append(html.Td(f"{value:+,}", className=css))
            else:
                cells.append(html.Td(f"{value:,}" if isinstance(value, int) else str(value)))
        body.append(html.Tr(cells))
    return html.Table([html.Thead(head), html.Tbody(body)])


def area_summary_children(name: str, summary: RegionSummary, flags: pd.DataFrame) -> list[object]:
    """Return the area summary: events by category vs before, sites, open flags, busiest cells."""
    t = summary.totals
    change = t["events_now"] - t["events_before"]
    flag_rows = (
        [html.Li(f"#{r.id} · priority {r.priority:.0f} · {r.status}") for r in flags.itertuples()]
        if len(flags)
        else [html.Li("none")]
    )
    return [
        html.Div(
            [
                html.H2(f"Area: {name}"),
                html.P(
                    f"{t['events_now']:,} events ({change:+,} against the previous period), "
                    f"{t['suspicious_now']:,} suspicious; {t['sites']:,} sites inside.",
                    id="area-summary-totals",
                ),
                html.H3("Open flags inside"),
                html.Ul(flag_rows[:8]),
            ]
        ),
        html.Div(
            [
                html.H3("Events by category"),
                _table(
                    summary.categories,
                    {"category": "Category", "now": "Now", "before": "Before", "change": "Change"},
                ),
            ]
        ),
        html.Div(
            [
                html.H3("Sites by sector and tier"),
                _table(summary.sites, {"sector": "Sector", "tier": "Tier", "sites": "Sites"}),
            ]
        ),
        html.Div(
            [
                html.H3("Busiest cells"),
                _table(
                    summary.busiest,
                    {"h3_cell": "H3 cell", "events": "Events", "suspicious": "Suspicious"},
                    rows=5,
                ),
            ]
        ),
    ]

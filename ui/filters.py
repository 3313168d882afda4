"""Layout factories of the filter panel: filters, area chooser, area summary, downloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
from dash import dcc, html
from dash.development.base_component import Component

from analytics.summary import RegionSummary
from domain.export_names import EXPORT_LAYERS, FORMATS
from ui import ids
from ui.options import Option, option, options

if TYPE_CHECKING:  # types only: the layout does not load the store
    from store.export_jobs import JobStatus

AREA_OPTIONS: list[Option] = [
    {"label": "None (everything)", "value": "none"},
    {"label": "County", "value": "region"},
    {"label": "Hazard footprint", "value": "hazard"},
    {"label": "Drawn on the map (lasso or box)", "value": "drawn"},
    {"label": "Current map view", "value": "viewport"},
]
EXPORT_LAYER_OPTIONS: list[Option] = [option("All layers", "all")] + [
    option(name, name) for name in EXPORT_LAYERS
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


def filter_controls() -> list[Component]:
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
    """Return the export (layer + format) and briefing (HTML/PDF) controls; hidden without EXPORT.

    Export starts a job for the screen state and shows its progress, then a download link; the
    briefing link is a plain ``GET`` download whose query string carries the screen state. The
    server rebuilds the filter from the state and checks the capability itself.
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
                options=[option(FORMAT_LABELS[f], f) for f in FORMATS],
                value="gpkg",
                clearable=False,
            ),
            html.Button("Export", id=ids.EXPORT_BUTTON, n_clicks=0, className="wf-button"),
            dcc.Store(id=ids.EXPORT_JOB, storage_type="memory"),
            dcc.Interval(id=ids.EXPORT_INTERVAL, interval=1000, disabled=True),
            html.Div(
                id=ids.EXPORT_STATUS,
                className="wf-export-status",
                hidden=True,
                children=[
                    html.Progress(id=ids.EXPORT_PROGRESS, value="0", max="1"),
                    html.P(id=ids.EXPORT_STATUS_TEXT, className="wf-hint"),
                    html.A(
                        "Download",
                        id=ids.EXPORT_FILE_LINK,
                        href="",
                        hidden=True,
                        className="wf-button wf-link",
                    ),
                ],
            ),
            html.H2("Briefing"),
            dcc.RadioItems(
                id=ids.BRIEFING_FORMAT,
                options=options([("PDF", "pdf"), ("HTML", "html")]),
                value="pdf",
                inline=True,
                className="wf-radio",
            ),
            html.A("Briefing", id=ids.BRIEFING_LINK, href="", className="wf-button wf-link"),
        ],
    )


@dataclass(frozen=True)
class ExportProgressView:
    """What the export panel shows for a job: bar, words, link, and whether to keep polling."""

    value: int
    maximum: int
    text: str
    href: str
    link_text: str
    link_hidden: bool
    polling: bool


def _mib(size: int | None) -> str:
    return f"{(size or 0) / 2**20:,.1f} MiB"


def export_progress_view(status: JobStatus | None, error: str | None = None) -> ExportProgressView:
    """Return the export panel's state for ``status`` ("12,000 of 200,000 rows", link, error).

    ``None`` is a job that this user cannot see (or that was deleted): said in words.
    """
    if error or status is None:
        text = error or "This export is no longer available; start it again."
        return ExportProgressView(0, 1, text, "", "", True, False)
    total = status.rows_total
    done = status.rows_done
    if status.status == "failed":
        return ExportProgressView(
            done, max(total or 1, 1), str(status.message), "", "", True, False
        )
    if total is None:
        return ExportProgressView(0, 1, "Counting the rows…", "", "", True, True)
    of = f"{min(done, total):,} of {total:,} rows"
    if status.status == "running":
        return ExportProgressView(done, max(total, 1), f"{of} written…", "", "", True, True)
    return ExportProgressView(
        max(total, 1),
        max(total, 1),
        f"Ready: {of}, {_mib(status.size_bytes)}.",
        f"/export/jobs/{status.id}/file",
        f"Download {status.filename}",
        False,
        False,
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
        [
            html.Li(
                f"#{r.id} · "
                + ("statistics withheld" if pd.isna(r.priority) else f"priority {r.priority:.0f}")
                + f" · {r.status}"
            )
            for r in flags.itertuples()
        ]
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

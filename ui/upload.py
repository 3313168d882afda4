"""The upload panel: an analyst imports a partner file and downloads what was quarantined."""

from __future__ import annotations

from dash import dcc, html

from ui import ids
from ui.options import Option, option

KIND_OPTIONS: list[Option] = [
    {"label": "Suspicious activity", "value": "suspicious"},
    {"label": "Incident reports", "value": "incident"},
    {"label": "Infrastructure sites", "value": "site"},
]
# Larger files go through `manage.py ingest`, which streams them in chunks.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def panel(sources: list[str] | None = None) -> html.Div:
    """Return the upload panel (file, kind, source, import button, summary, quarantine CSV).

    ``sources``: the agencies the viewer may import for, its own first (a list, never typed).
    """
    sources = sources or []
    return html.Div(
        className="wf-upload-panel",
        children=[
            html.H2("Import a file"),
            dcc.Upload(
                id=ids.UPLOAD_FILE,
                className="wf-upload",
                max_size=MAX_UPLOAD_BYTES,
                children=html.Div(["Drop a file or ", html.A("choose one")]),
            ),
            html.Div(id=ids.UPLOAD_FILENAME, className="wf-hint"),
            dcc.Dropdown(
                id=ids.UPLOAD_KIND,
                options=KIND_OPTIONS,
                value="suspicious",
                clearable=False,
                className="wf-upload-kind",
            ),
            html.Label("Source agency", htmlFor=ids.UPLOAD_SOURCE, className="wf-hint"),
            dcc.Dropdown(
                id=ids.UPLOAD_SOURCE,
                options=[option(s, s) for s in sources],
                value=sources[0] if sources else None,
                clearable=False,
                searchable=False,
                className="wf-upload-source",
            ),
            html.P(
                "The agency's mapping profile is used when it fits the file; otherwise the "
                "columns are recognised by name.",
                className="wf-hint",
            ),
            html.Button("Import", id=ids.UPLOAD_BUTTON, n_clicks=0, className="wf-button"),
            dcc.Loading(html.Div(id=ids.UPLOAD_SUMMARY, className="wf-upload-summary")),
            html.Button(
                "Download quarantined rows (CSV)",
                id=ids.UPLOAD_QUARANTINE_BUTTON,
                n_clicks=0,
                className="wf-button wf-button-secondary",
                disabled=True,
            ),
            dcc.Download(id=ids.UPLOAD_DOWNLOAD),
            dcc.Store(id=ids.UPLOAD_BATCH, storage_type="memory"),
        ],
    )

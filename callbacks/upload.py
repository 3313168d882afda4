"""Upload panel: import the chosen file, show its summary, download its quarantined rows."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, callback, no_update
from dash.dcc.express import send_string
from dash.exceptions import PreventUpdate

from callbacks import _context
from data_loaders.errors import IngestError
from data_loaders.upload import ingest_upload, quarantine_csv
from rules.capabilities import Capability, require
from security.audit import record
from store.columnar import mark_stale
from store.engine import session_scope
from store.queries.quarantine import quarantined_rows
from ui import ids, upload_summary


@callback(
    Output(ids.UPLOAD_FILENAME, "children"),
    Input(ids.UPLOAD_FILE, "filename"),
    prevent_initial_call=True,
)
def show_filename(filename: str | None) -> str:
    """Name the chosen file."""
    require(Capability.IMPORT, _context.viewer())
    return f"Chosen: {filename}" if filename else ""


@callback(
    Output(ids.UPLOAD_SUMMARY, "children"),
    Output(ids.UPLOAD_BATCH, "data"),
    Output(ids.UPLOAD_QUARANTINE_BUTTON, "disabled"),
    Input(ids.UPLOAD_BUTTON, "n_clicks"),
    State(ids.UPLOAD_FILE, "contents"),
    State(ids.UPLOAD_FILE, "filename"),
    State(ids.UPLOAD_KIND, "value"),
    State(ids.UPLOAD_SOURCE, "value"),
    prevent_initial_call=True,
)
def import_file(
    n_clicks: int | None,
    contents: str | None,
    filename: str | None,
    kind: str | None,
    source: str | None,
) -> tuple[Any, Any, bool]:
    """Import the chosen file as one batch and summarise it."""
    viewer = require(Capability.IMPORT, _context.viewer())  # before anything else: 403 first
    if not n_clicks:
        raise PreventUpdate
    try:
        if kind is None:  # the list is not clearable: a hand-made request
            raise IngestError("choose what the file holds (suspicious, incidents or sites)")
        summary = ingest_upload(
            _context.engine(),
            _context.app_settings(),
            importer=viewer,
            filename=filename or "",
            contents=contents or "",
            kind=kind,
            source=source or "",
        )
    except IngestError as exc:
        _audit(viewer, "import", filename, "error", {"error": str(exc)})
        return upload_summary.error(str(exc)), None, True
    # The importer sees the rows at once, not after this process's snapshot lag. The batch
    # carries its importer's agency and its audit entry (written in the batch's transaction).
    mark_stale(_context.engine())
    return upload_summary.summary(summary), summary.batch_id, summary.quarantined == 0


def _audit(
    viewer: Any, action: str, obj: str | None, outcome: Any, details: dict[str, Any]
) -> None:
    with session_scope(_context.engine()) as session:
        record(
            session=session,
            viewer=viewer,
            action=action,
            object=obj or "",
            outcome=outcome,
            details=details,
        )


@callback(
    Output(ids.UPLOAD_DOWNLOAD, "data"),
    Input(ids.UPLOAD_QUARANTINE_BUTTON, "n_clicks"),
    State(ids.UPLOAD_BATCH, "data"),
    prevent_initial_call=True,
)
def download_quarantine(n_clicks: int | None, batch_id: int | None) -> Any:
    """Send the quarantined rows of the last import, with their reasons, as CSV."""
    viewer = require(Capability.IMPORT, _context.viewer())
    if not n_clicks or batch_id is None:
        return no_update
    with session_scope(_context.engine()) as session:
        rows = quarantined_rows(session=session, viewer=viewer, batch_id=int(batch_id))
        record(
            session=session,
            viewer=viewer,
            action="import.quarantine_download",
            object=str(batch_id),
            outcome="ok" if rows is not None else "denied",
            details={"rows": len(rows)} if rows is not None else None,
        )
    if rows is None:
        return no_update
    # dash.dcc builds its __all__ at run time and leaves send_string unannotated.
    return send_string(  # type: ignore[no-untyped-call]
        quarantine_csv(rows), f"quarantined-batch-{batch_id}.csv"
    )

"""Files uploaded in the dashboard: decode, import like the command line, and the quarantine CSV."""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from data_loaders.cli import run_ingest
from data_loaders.errors import IngestError
from data_loaders.ingest import BatchSummary
from domain.roles import Viewer
from exports.csvsafe import LINE_END, safe_frame
from settings import Settings


def decode_upload(contents: str, *, max_bytes: int | None = None) -> bytes:
    """Return the bytes of a ``dcc.Upload`` data URL (``data:...;base64,...``).

    Raises
    ------
    IngestError
        When the payload is not base64, or decodes to more than ``max_bytes`` bytes (checked
        on the encoded length first, so an oversized file is never decoded).
    """
    _, _, payload = contents.partition(",")
    if max_bytes is not None and len(payload) // 4 * 3 > max_bytes + 2:  # "=" padding: 2
        raise _too_large(len(payload) // 4 * 3, max_bytes)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IngestError("the upload did not arrive whole; try again") from exc
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_large(len(data), max_bytes)
    return data


def _too_large(size: int, limit: int) -> IngestError:
    return IngestError(
        f"the file is {size / 2**20:,.1f} MB; the Import panel takes files up to "
        f"{limit / 2**20:,.1f} MB (larger files: manage.py ingest)"
    )


def ingest_upload(
    engine: Engine,
    settings: Settings,
    *,
    importer: Viewer,
    filename: str,
    contents: str,
    kind: str,
    source: str,
) -> BatchSummary:
    """Import an uploaded file as one batch (shipped profile when it fits, else recognition).

    ``importer`` imports it (one of its sources, :func:`rules.write_rights.import_sources`;
    its write rule applies and the import is audited with the batch).

    Raises
    ------
    IngestError
        With a message for the analyst when the file cannot be imported.
    """
    source = source.strip()
    if not source:
        raise IngestError("choose the agency the file comes from (the source)")
    if not filename:
        raise IngestError("choose a file first")
    data = decode_upload(contents, max_bytes=settings.upload_max_bytes)
    with tempfile.TemporaryDirectory(prefix="wf-upload-") as tmp:
        # Keep only the name's last part: the suffix picks the reader, the name the batch origin.
        path = Path(tmp) / Path(filename).name
        path.write_bytes(data)
        summary, _ = run_ingest(
            engine,
            settings,
            path,
            kind=kind,
            source=source,
            show_progress=False,
            migrate=False,
            importer=importer,
            channel="dashboard",
        )
    return summary


def quarantine_csv(rows: pd.DataFrame) -> str:
    """Return quarantined rows as CSV: row number, reason, detail, then the original columns."""
    if rows.empty:
        return "row_number,reason,detail" + LINE_END
    originals = pd.DataFrame([json.loads(r) for r in rows["raw"]], index=rows.index)
    head = rows[["row_number", "reason", "detail"]]
    # The rows are the partner's unchecked text: spreadsheet formulas are neutralised.
    table = pd.concat([head, originals.add_prefix("source:")], axis=1)
    text: str = safe_frame(table).to_csv(index=False, lineterminator=LINE_END)
    return text

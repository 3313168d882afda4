"""``GET /api/v1/export``: a filtered layer as a file, streamed for GeoJSON and CSV.

GeoJSON and CSV of the event layers are **streamed**: the metadata (row count, newest report,
caveats) comes from one aggregate query, then the rows are read through a cursor in chunks of
:data:`CHUNK_ROWS` and written out as they come, so memory stays bounded whatever the size.
The other layers (sites, hexagons, flags: bounded by the map, not by time) are built whole and
streamed the same way. GeoPackage, zipped Shapefile, KML and KMZ (and ``layer=all`` in GeoJSON or
CSV, a zip of one file per layer) are written to a temporary directory by the export service,
sent, and the directory is removed when the answer is closed. Every answer carries the export
metadata (filters, data time, exporter, the rows' most restrictive caveat) in an
``X-Watchfloor-Metadata`` header, and inside the file where the format allows it. Every export
is audited (``export``) before its first byte leaves.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import flask
import geopandas as gpd
from sqlalchemy import Engine

from api.auth import Caller, authorize
from api.errors import ApiError, error_response
from api.params import int_param, query_filter
from domain.export_names import EXPORT_LAYERS, FORMATS, ExportFormat
from domain.roles import Viewer
from exports.formats import SUFFIX
from exports.service import (
    export_layers,
    export_metadata,
    layer_frame,
    points_frame,
)
from exports.stream import csv_chunks, geojson_chunks
from security.audit import record
from settings import Settings
from store.engine import get_engine, session_scope
from store.queries.events import caveats_present
from store.queries.features import event_chunks, event_summary
from store.queries.filters import EventFilter

logger = logging.getLogger(__name__)

SEND_BYTES = 256 * 1024  # bytes per piece of a file answer
CHUNK_ROWS = 10_000  # rows per database fetch and per written piece of a streamed export
STREAMED = frozenset({"geojson", "csv"})
MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
    "shp": "application/zip",
    "kml": "application/vnd.google-earth.kml+xml",
    "kmz": "application/vnd.google-earth.kmz",
}
_KIND = {"suspicious": "suspicious", "incidents": "incident"}


def register_export_api(server: flask.Flask, settings: Settings) -> None:
    """Add ``GET /api/v1/export`` to the Dash app's Flask ``server``."""

    def export() -> flask.Response:
        try:
            return _export(settings)
        except ApiError as exc:
            return error_response(exc)

    server.add_url_rule("/api/v1/export", "api_export", export, methods=["GET"])


def _export(settings: Settings) -> flask.Response:
    engine = get_engine(settings.database_url, settings.spatialite_path)
    args = flask.request.args
    caller = authorize(
        engine=engine,
        settings=settings,
        authorization=flask.request.headers.get("Authorization"),
        what="/api/v1/export",
    )
    layer = args.get("layer", "")
    fmt = args.get("format", "")
    if layer not in (*EXPORT_LAYERS, "all"):
        raise ApiError(400, f"layer must be one of {[*EXPORT_LAYERS, 'all']}")
    if fmt not in FORMATS:
        raise ApiError(400, f"format must be one of {list(FORMATS)}")
    filters = query_filter(args, viewer=caller.viewer, engine=engine)
    res = int_param(args, "res", settings.h3_default_res, 0, settings.h3_store_res)
    if fmt in STREAMED and layer != "all":
        return _streamed(engine, caller, layer, fmt, filters, res)
    return _file(engine, caller, layer, fmt, filters, res)


def _headers(layer: str, fmt: str, metadata: dict[str, Any]) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="watchfloor-{layer}{SUFFIX[fmt]}"',
        "X-Watchfloor-Metadata": json.dumps(metadata, default=str),
        "X-Watchfloor-Handling": str(metadata["handling"]),
    }


def _audit(engine: Engine, caller: Caller, layer: str, fmt: str, metadata: dict[str, Any]) -> None:
    # 28 CFR 23.20(e): every dissemination is recorded (who, what, when), before it leaves.
    with session_scope(engine) as session:
        record(
            session=session,
            viewer=caller.viewer,
            action="export",
            object="api:/api/v1/export",
            details={"layers": [layer], "format": fmt, "via": "api", **metadata},
        )


def _streamed(
    engine: Engine, caller: Caller, layer: str, fmt: str, filters: EventFilter, res: int
) -> flask.Response:
    viewer = caller.viewer
    frames: Iterator[gpd.GeoDataFrame]
    if layer in _KIND:
        kind_filter = replace(filters, kinds=(_KIND[layer],))
        with session_scope(engine) as session:
            summary = event_summary(session=session, viewer=viewer, filters=kind_filter)
        metadata = export_metadata(
            [layer],
            fmt,
            viewer=viewer,
            filters=filters,
            res=res,
            data_through=summary.newest_at,
            caveats=summary.caveats,
            rows={layer: summary.rows},
        )
        frames = _event_frames(engine, viewer, kind_filter)
    else:
        with session_scope(engine) as session:
            frame = layer_frame(layer, session=session, viewer=viewer, filters=filters, res=res)
            caveats = list(frame["handling"]) if "handling" in frame.columns else []
            if layer == "hexes" and len(frame):
                # Hexagon counts are built from the visible events in the same filter.
                caveats += caveats_present(session=session, viewer=viewer, filters=filters)
        times = frame["occurred_at"].max() if "occurred_at" in frame and len(frame) else None
        metadata = export_metadata(
            [layer],
            fmt,
            viewer=viewer,
            filters=filters,
            res=res,
            data_through=times,
            caveats=caveats,
            rows={layer: len(frame)},
        )
        frames = iter([frame])
    _audit(engine, caller, layer, fmt, metadata)
    body = geojson_chunks(frames, metadata, name=layer) if fmt == "geojson" else csv_chunks(frames)
    logger.info("api export %s as %s by %s: %s", layer, fmt, viewer.username, metadata["rows"])
    return flask.Response(body, mimetype=MEDIA_TYPES[fmt], headers=_headers(layer, fmt, metadata))


def _event_frames(
    engine: Engine, viewer: Viewer, filters: EventFilter
) -> Iterator[gpd.GeoDataFrame]:
    # Runs after the view has returned, while the answer is written: it owns its own session.
    with session_scope(engine) as session:
        for chunk in event_chunks(
            session=session, viewer=viewer, filters=filters, chunk_rows=CHUNK_ROWS
        ):
            yield points_frame(chunk.drop(columns=["id"]))


def _file(
    engine: Engine,
    caller: Caller,
    layer: str,
    fmt: ExportFormat,
    filters: EventFilter,
    res: int,
) -> flask.Response:
    tmp = Path(tempfile.mkdtemp(prefix="watchfloor-export-"))
    try:
        zipped = layer == "all" and fmt != "gpkg"  # several layers, one file per layer
        out = tmp / f"watchfloor-{layer}{'.zip' if zipped else SUFFIX[fmt]}"
        with session_scope(engine) as session:
            result = export_layers(
                [layer], fmt, out, session=session, viewer=caller.viewer, filters=filters, res=res
            )
        _audit(engine, caller, layer, fmt, result.metadata)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    headers = _headers(layer, fmt, result.metadata)
    headers["Content-Disposition"] = f'attachment; filename="{out.name}"'
    headers["Content-Length"] = str(out.stat().st_size)
    mimetype = "application/zip" if zipped else MEDIA_TYPES[fmt]
    resp = flask.Response(_send_then_remove(out, tmp), mimetype=mimetype, headers=headers)
    resp.call_on_close(lambda: shutil.rmtree(tmp, ignore_errors=True))  # also for HEAD
    return resp


def _send_then_remove(path: Path, tmp: Path) -> Iterator[bytes]:
    # The server closes the answer when it is sent or the client goes away; the temporary
    # directory goes with it (here, and in the answer's close callback).
    try:
        with path.open("rb") as handle:
            while piece := handle.read(SEND_BYTES):
                yield piece
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

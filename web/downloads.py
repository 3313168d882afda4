"""The dashboard's download routes: the export and the briefing of exactly what is on screen.

``GET /export/download?layer=...&format=...&state=...`` and
``GET /briefing/download?format=html|pdf&state=...``. ``state`` is the screen state's JSON
(``layers.selection.ScreenState``); the filter is rebuilt from it with
``layers.selection.screen_filter``, the function the map uses, for the signed-in viewer. Both
need the EXPORT capability (a briefing leaves the system as much as an export does) and are
audited with the filters, the rows and the format.

The dashboard's Export button starts a job instead (``jobs.exports``): the file is written to
disk chunk by chunk while the page polls its progress, then sent from disk by
``GET /export/jobs/<id>/file`` (``flask.send_file``: streamed, with Content-Length), audited at
that moment. ``GET /export/jobs/<id>`` answers the job's progress as JSON. Both answer 404 to
anyone but the user who started the job.
"""

from __future__ import annotations

import io
import logging
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask
from sqlalchemy import Engine
from werkzeug.exceptions import BadRequest, NotFound

from analytics.timebuckets import TimeWindow
from domain.export_names import EXPORT_LAYERS, FORMATS
from exports.formats import SUFFIX
from exports.service import export_layers
from jobs.exports import job_file, job_status
from layers.selection import ScreenState, SelectionError, area_label, screen_filter
from reports.briefing import build_filtered_briefing, write_pdf
from reports.errors import BriefingError
from rules.capabilities import Capability, require
from security.audit import record
from security.session import current_viewer
from settings import Settings
from store.engine import get_engine, session_scope
from store.queries.filters import EventFilter
from store.queries.hexagg import visible_time_range

logger = logging.getLogger(__name__)

# Formats whose metadata lives only in a sidecar: the download is a zip of the file and sidecar.
_SIDECAR_ONLY = frozenset({"csv", "kml"})
_MIME = {
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "kmz": "application/vnd.google-earth.kmz",
    "zip": "application/zip",
}
BRIEFING_FORMATS = ("html", "pdf")


def _res(value: str | None) -> int:
    try:
        res = int(value) if value else 8
    except ValueError as exc:
        raise BadRequest("res must be an integer") from exc
    if not 5 <= res <= 10:
        raise BadRequest("res must be between 5 and 10")
    return res


def _filter(engine: Engine, settings: Settings, state: ScreenState) -> tuple[EventFilter, str]:
    viewer = require(Capability.EXPORT, current_viewer())
    with session_scope(engine) as session:
        try:
            filters = screen_filter(state, session=session, viewer=viewer, tz=settings.timezone)
        except SelectionError as exc:
            raise BadRequest(str(exc)) from exc
        return filters, area_label(state, session=session, viewer=viewer)


def _attachment(data: bytes, filename: str, mimetype: str) -> flask.Response:
    return flask.Response(
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def export_download(engine: Engine, settings: Settings) -> flask.Response:
    """Answer ``GET /export/download``: one layer (or ``all``) in one format, as on screen."""
    viewer = require(Capability.EXPORT, current_viewer())
    args = flask.request.args
    layer = args.get("layer", "suspicious")
    fmt = args.get("format", "geojson")
    if layer not in (*EXPORT_LAYERS, "all"):
        raise BadRequest(f"unknown layer {layer!r}")
    if fmt not in FORMATS:
        raise BadRequest(f"unknown format {fmt!r}")
    state = ScreenState.from_json(args.get("state"))
    res = _res(args.get("res"))
    filters, area_name = _filter(engine, settings, state)
    several = layer == "all" and fmt != "gpkg"
    name = f"watchfloor-{layer}{'.zip' if several else SUFFIX[fmt]}"
    with tempfile.TemporaryDirectory() as tmp, session_scope(engine) as session:
        out = Path(tmp) / name
        result = export_layers(
            [layer],
            fmt,
            out,
            session=session,
            viewer=viewer,
            filters=filters,
            res=res,
            area_name=area_name,
        )
        if fmt in _SIDECAR_ONLY and not several:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in result.paths:
                    zf.write(path, path.name)
            data, name = buf.getvalue(), f"{name}.zip"
        else:
            data = out.read_bytes()
        # 28 CFR 23.20(e): every dissemination is recorded (who, what, when).
        record(
            session=session,
            viewer=viewer,
            action="export",
            object=name,
            details={
                "via": "dashboard",
                "layers": [layer],
                "format": fmt,
                "rows": result.rows,
                "filters": result.metadata["filters"],
                "handling": result.metadata["handling"],
                "state": state.to_audit(),
            },
        )
    suffix = Path(name).suffix.lstrip(".")
    return _attachment(data, name, _MIME.get(suffix, f"application/{suffix}"))


def briefing_download(engine: Engine, settings: Settings) -> flask.Response:
    """Answer ``GET /briefing/download``: the briefing of the screen's filter, HTML or PDF."""
    viewer = require(Capability.EXPORT, current_viewer())
    args = flask.request.args
    fmt = args.get("format", "html")
    if fmt not in BRIEFING_FORMATS:
        raise BadRequest(f"unknown briefing format {fmt!r}; use html or pdf")
    state = ScreenState.from_json(args.get("state"))
    res = _res(args.get("res"))
    filters, area_name = _filter(engine, settings, state)
    with session_scope(engine) as session:
        if filters.window is None:  # "all": from the first to the last visible report
            extent = visible_time_range(session=session, viewer=viewer)
            if extent is not None:
                end = extent[1] + timedelta(seconds=1)
                filters = EventFilter(**{**vars(filters), "window": TimeWindow(extent[0], end)})
        if filters.window is None:  # nothing visible at all: an empty briefing of 30 days
            end = datetime.now(UTC)
            filters = EventFilter(
                **{**vars(filters), "window": TimeWindow(end - timedelta(days=30), end)}
            )
        try:
            briefing = build_filtered_briefing(
                session=session,
                viewer=viewer,
                filters=filters,
                area_name=area_name,
                tz=settings.timezone,
                res=res,
            )
        except BriefingError as exc:
            raise BadRequest(str(exc)) from exc
        name = f"watchfloor-briefing.{fmt}"
        if fmt == "pdf":
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    data = write_pdf(briefing.html, Path(tmp) / name).read_bytes()
                except BriefingError as exc:
                    logger.error("briefing PDF failed: %s", exc)
                    return flask.make_response(flask.jsonify(error=str(exc)), 503)
        else:
            data = briefing.html.encode("utf-8")
        record(
            session=session,
            viewer=viewer,
            action="briefing",
            object=name,
            details={
                "via": "dashboard",
                "format": fmt,
                "area": area_name,
                "marking": briefing.marking,
                **briefing.totals,
                "state": state.to_audit(),
            },
        )
    mime = "application/pdf" if fmt == "pdf" else "text/html"
    return _attachment(data, name, mime)


def job_progress(engine: Engine, settings: Settings, job_id: str) -> flask.Response:
    """Answer ``GET /export/jobs/<id>``: the job's state and rows done of rows total, as JSON."""
    viewer = require(Capability.EXPORT, current_viewer())
    status = job_status(engine=engine, settings=settings, job_id=job_id, viewer=viewer)
    if status is None:  # another user's job is as absent as one that never was
        raise NotFound("no such export job")
    return flask.jsonify(
        id=status.id,
        status=status.status,
        layer=status.layer,
        format=status.format,
        rows_done=status.rows_done,
        rows_total=status.rows_total,
        message=status.message,
        filename=status.filename,
        size_bytes=status.size_bytes,
    )


def job_download(engine: Engine, settings: Settings, job_id: str) -> flask.Response:
    """Answer ``GET /export/jobs/<id>/file``: the finished file, streamed from disk, audited."""
    viewer = require(Capability.EXPORT, current_viewer())
    status = job_status(engine=engine, settings=settings, job_id=job_id, viewer=viewer)
    if status is None:
        raise NotFound("no such export job")
    path = job_file(settings, status)
    if path is None:
        raise NotFound(
            "the export is not finished" if status.status == "running" else "no file for this job"
        )
    with session_scope(engine) as session:
        # 28 CFR 23.20(e): every dissemination is recorded (who, what, when), before it leaves.
        record(
            session=session,
            viewer=viewer,
            action="export",
            object=path.name,
            details={"via": "dashboard", "job": status.id, **status.details},
        )
    suffix = path.suffix.lstrip(".")
    return flask.send_file(
        path,
        mimetype=_MIME.get(suffix, f"application/{suffix}"),
        as_attachment=True,
        download_name=path.name,
        conditional=False,
        etag=False,
        max_age=0,
    )


def register_downloads(server: flask.Flask, settings: Settings) -> None:
    """Add the export and briefing download routes to ``server``."""
    engine = get_engine(settings.database_url, settings.spatialite_path)

    def _export() -> Any:
        return export_download(engine, settings)

    def _briefing() -> Any:
        return briefing_download(engine, settings)

    def _job(job_id: str) -> Any:
        return job_progress(engine, settings, job_id)

    def _job_file(job_id: str) -> Any:
        return job_download(engine, settings, job_id)

    server.add_url_rule("/export/download", "export_download", _export)
    server.add_url_rule("/export/jobs/<job_id>", "export_job", _job)
    server.add_url_rule("/export/jobs/<job_id>/file", "export_job_file", _job_file)
    server.add_url_rule("/briefing/download", "briefing_download", _briefing)

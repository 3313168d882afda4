"""The partner ingest API: ``POST /api/v1/events`` with a per-agency key, one batch per request.

The body is a JSON list of events (objects whose keys are recognised like a file's columns:
``id``/``external_id``, ``occurred_at``, ``lat``/``lon`` or ``location`` or ``geometry``,
``category``, ``description``, ...), or a GeoJSON FeatureCollection (properties + geometry).
``?kind=incident`` imports incident reports; the default is suspicious activity. The agency is
always the key's: any source field in the body is ignored. A request is all or nothing: any
unusable item answers 422 with every item's error and stores nothing, so the partner can fix and
resend; a good request answers 201 with the counts and each event's public id (never the
sequential integer key: see ``store.public_ids``). Re-sending changes nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import flask
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from data_loaders.areas import load_area
from data_loaders.errors import IngestError
from data_loaders.ingest import ingest_table
from data_loaders.readers import RawTable
from data_loaders.recognize import auto_profile
from data_loaders.validate import map_rows
from domain.roles import Role, Viewer
from security.apikeys import agency_for_key, bearer_token, key_prefix
from security.audit import record
from settings import Settings
from store.base import utcnow
from store.engine import get_engine, session_scope
from store.writes import event_public_ids

logger = logging.getLogger(__name__)

# Fields a body may carry that must never choose the agency.
_SOURCE_FIELDS = {"source", "source_agency", "agency", "sourceagency"}
_KINDS = ("suspicious", "incident")


class _Rejected(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("error", ""))
        self.status = status
        self.body = body


def register_api(server: flask.Flask, settings: Settings) -> None:
    """Add ``POST /api/v1/events`` to the Dash app's Flask ``server``."""

    def post_events() -> flask.Response:
        try:
            return _post_events(settings)
        except _Rejected as exc:
            if exc.status != 401:  # a known key's refused import is audited
                _audit(settings, "error", {"status": exc.status, "error": exc.body.get("error")})
            response = flask.make_response(flask.jsonify(exc.body), exc.status)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="watchfloor"'
            return response

    server.add_url_rule("/api/v1/events", "api_post_events", post_events, methods=["POST"])


def _post_events(settings: Settings) -> flask.Response:
    engine = get_engine(settings.database_url, settings.spatialite_path)
    token = bearer_token(flask.request.headers.get("Authorization"))
    with session_scope(engine) as session:
        agency = agency_for_key(session=session, key=token)
    if agency is None:
        raise _Rejected(401, {"error": "a valid API key is required: Authorization: Bearer KEY"})
    flask.g.api_caller = Viewer(f"apikey:{key_prefix(token)}", Role.PARTNER, agency)
    body = _read_body(settings.api_max_body_bytes)
    kind = flask.request.args.get("kind", "suspicious")
    if kind not in _KINDS:
        raise _Rejected(422, {"error": f"kind must be one of {list(_KINDS)}"})
    table = events_table(body)
    try:
        profile = auto_profile(table, kind=kind, source=agency, timezone=settings.timezone)
    except IngestError as exc:
        raise _Rejected(422, {"error": str(exc)}) from exc
    area = load_area(str(settings.area_path)) if settings.area_path else None
    mapped = map_rows(table, profile, area=area, store_res=settings.h3_store_res, now=utcnow())
    if not mapped.rejects.empty:
        errors = [
            {"index": int(r.row_number) - 1, "reason": r.reason, "detail": r.detail}
            for r in mapped.rejects.itertuples()
        ]
        raise _Rejected(422, {"error": "some events cannot be used", "errors": errors})
    summary = ingest_table(
        engine,
        table,
        profile,
        origin="api",
        sha256=None,
        area=area,
        store_res=settings.h3_store_res,
        mapped=mapped,  # checked above: not mapped a second time
        importer=flask.g.api_caller,  # audited in the batch's own transaction
        channel="api",
    )
    external = mapped.good["external_id"].astype(str).tolist()
    with session_scope(engine) as session:
        ids = event_public_ids(session=session, source_agency=agency, external_ids=external)
    # No batch id either: batch ids are sequential over every agency's imports, and two of them
    # would tell a partner how many batches others imported in between (issue #18, finding 6).
    body_out = {
        "source": agency,
        "received": summary.rows_read,
        "inserted": summary.inserted,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "ids": [{"external_id": e, "id": ids.get(e)} for e in external],
    }
    return flask.make_response(flask.jsonify(body_out), 201)


def _audit(settings: Settings, outcome: Any, details: dict[str, Any]) -> None:
    """Record an import through the API as the calling key (its prefix and agency)."""
    caller = flask.g.get("api_caller")
    if caller is None:
        return
    engine = get_engine(settings.database_url, settings.spatialite_path)
    with session_scope(engine) as session:
        record(
            session=session,
            viewer=caller,
            action="import",
            object="api",
            outcome=outcome,
            details={"origin": "api", **details},
        )


def _read_body(limit: int) -> Any:
    length = flask.request.content_length
    if length is not None and length > limit:
        raise _Rejected(413, {"error": f"the body is over {limit:,} bytes; send smaller batches"})
    raw = flask.request.stream.read(limit + 1)
    if len(raw) > limit:
        raise _Rejected(413, {"error": f"the body is over {limit:,} bytes; send smaller batches"})
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise _Rejected(400, {"error": f"the body is not JSON: {exc}"}) from exc


def events_table(body: Any) -> RawTable:
    """Turn a JSON list of events or a GeoJSON FeatureCollection into a raw table.

    Raises
    ------
    _Rejected
        422 when the body has neither shape or holds no events.
    """
    if isinstance(body, dict) and body.get("type") == "FeatureCollection":
        return _features_table(body.get("features"))
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        body = body["events"]
    if not isinstance(body, list) or not body:
        raise _Rejected(
            422, {"error": "send a non-empty JSON list of events or a GeoJSON FeatureCollection"}
        )
    bad = [i for i, item in enumerate(body) if not isinstance(item, dict)]
    if bad:
        errors = [{"index": i, "reason": "not_an_object", "detail": None} for i in bad]
        raise _Rejected(422, {"error": "every event must be a JSON object", "errors": errors})
    return RawTable(frame=_strings(body))


def _strings(items: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            k: ("" if v is None else json.dumps(v) if isinstance(v, dict | list) else str(v))
            for k, v in item.items()
            if k.lower().replace("_", "") not in _SOURCE_FIELDS
        }
        for item in items
    ]
    frame = pd.DataFrame(rows)
    return (
        frame.fillna("").astype(str) if len(frame.columns) else pd.DataFrame(index=range(len(rows)))
    )


def _features_table(features: Any) -> RawTable:
    if not isinstance(features, list) or not features:
        raise _Rejected(422, {"error": "the FeatureCollection has no features"})
    props: list[dict[str, Any]] = []
    lon = np.full(len(features), np.nan)
    lat = np.full(len(features), np.nan)
    bad = [
        i
        for i, f in enumerate(features)
        if not isinstance(f, dict) or not isinstance(f.get("properties") or {}, dict)
    ]
    if bad:
        errors = [{"index": i, "reason": "not_an_object", "detail": None} for i in bad]
        message = "every feature and its properties must be JSON objects"
        raise _Rejected(422, {"error": message, "errors": errors})
    for i, feature in enumerate(features):
        props.append(dict(feature.get("properties") or {}))
        if feature.get("id") is not None and "id" not in props[-1]:
            props[-1]["id"] = feature["id"]
        geom = feature.get("geometry")
        try:
            point = shapely.point_on_surface(shape(geom)) if geom else None
        except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException):
            point = None  # quarantined below as missing coordinates
        if point is not None and not point.is_empty:
            lon[i], lat[i] = point.x, point.y
    return RawTable(frame=_strings(props), lon=lon, lat=lat)

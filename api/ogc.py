"""OGC API - Features (Part 1 Core, GeoJSON, OpenAPI 3.0) under ``/ogc``: the layers, for GIS.

Routes: ``/ogc`` (landing page), ``/ogc/api`` (the OpenAPI 3.0 definition, ``service-desc``),
``/ogc/conformance``, ``/ogc/collections`` (with each collection's extent as the caller may see
it), ``/ogc/collections/{id}``, ``/ogc/collections/{id}/items`` (``bbox``, ``datetime``,
``limit``, ``offset``, plus Watchfloor's ``categories``, ``agencies``, ``caveats``, ``kinds``,
``area`` and, for hexes, ``res``; ``next``/``prev`` links, ``numberMatched``, ``numberReturned``)
and ``/ogc/collections/{id}/items/{fid}``. Same authentication as the export API (partner key or
a user with EXPORT); every read goes through the visibility filter and is audited (``ogc.read``).
A feature the caller may not see is answered 404, like one that does not exist.

Errors are OGC exception documents (``{"code": ..., "description": ...}``). A query parameter the
API definition does not list, an ``f`` other than ``json`` (``geojson`` for features), a ``crs``
or ``bbox-crs`` other than CRS84 all answer 400; an ``Accept`` that no encoding served meets
answers 406. No HTML is served.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import flask

from api.auth import Caller, authorize
from api.collections import (
    COLLECTIONS,
    Page,
    collection_extents,
    page_caveats,
    read_feature,
    read_page,
)
from api.errors import CHALLENGE, ApiError
from api.openapi import (
    CRS84,
    DEFAULT_LIMIT,
    FORMATS,
    GEOJSON,
    JSON,
    OAS30,
    QUERY_PARAMS,
    Route,
    openapi_document,
)
from api.params import MAX_LIMIT, int_param, query_filter
from domain.caveats import most_restrictive
from exports.stream import feature_texts
from rules.visibility import visibility_class
from security.audit import record
from settings import Settings
from store.cache import SharedCache, bind_cache, shared_cache
from store.engine import get_engine, session_scope
from store.public_ids import is_public_id
from store.queries.events import caveats_present
from store.queries.features import Extent

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
# The OGC exception code of each status this service answers with.
EXCEPTION_CODES = {
    400: "InvalidParameterValue",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    406: "NotAcceptable",
}
NO_HTML = "JSON only: this service serves no HTML encoding"


def ogc_error(exc: ApiError) -> flask.Response:
    """Return ``exc`` as an OGC exception document (``code``, ``description``) with its status."""
    body = {"code": EXCEPTION_CODES.get(exc.status, "ServerError"), "description": exc.message}
    resp = flask.Response(json.dumps(body), status=exc.status, mimetype=JSON)
    if exc.status == 401:
        resp.headers["WWW-Authenticate"] = CHALLENGE
    return resp


def check_query(args: Mapping[str, str], route: Route) -> None:
    """Refuse (400) a query parameter the API definition does not list for ``route``.

    Also refuses an ``f`` the route does not serve, and a ``crs`` or ``bbox-crs`` other than
    CRS84 (the one CRS served; Part 2 is not implemented).

    Examples
    --------
    >>> check_query({"limit": "5", "f": "geojson"}, "items")
    >>> try:
    ...     check_query({"f": "html"}, "document")
    ... except ApiError as exc:
    ...     print(exc.status, exc.message[:26])
    400 f=html is not served here;
    """
    unknown = sorted(set(args) - set(QUERY_PARAMS[route]))
    if unknown:
        raise ApiError(
            400, f"unknown query parameter(s) {unknown}; see the API definition at /ogc/api"
        )
    fmt = args.get("f")
    if fmt is not None and fmt not in FORMATS[route]:
        served = " or ".join(f"f={f}" for f in FORMATS[route])
        raise ApiError(400, f"f={fmt} is not served here; use {served} ({NO_HTML})")
    for name in ("crs", "bbox-crs"):
        value = args.get(name)
        if value is not None and value.strip("<>") != CRS84:
            raise ApiError(400, f"{name}: only {CRS84} is supported, not {value!r}")


def media_type(args: Mapping[str, str], accept: Any, route: Route) -> str:
    """Return the media type to answer with: ``f`` first, then ``Accept``; else raise 406.

    Documents are ``application/json``; features are GeoJSON, labelled
    ``application/geo+json`` unless the client asks for ``application/json`` (``f=json``, or an
    ``Accept`` preferring it).
    """
    fmt = args.get("f")
    if route == "document":
        offered = [JSON]
    else:
        if fmt is not None:
            return GEOJSON if fmt == "geojson" else JSON
        offered = [GEOJSON, JSON]
    if fmt is not None or not accept:
        return offered[0]
    best = accept.best_match(offered)
    if best is None:
        raise ApiError(406, f"Accept {accept} matches nothing served: {offered} ({NO_HTML})")
    return str(best)


def _bbox_4(args: Mapping[str, str]) -> dict[str, str]:
    """Return ``args`` with a 6-number ``bbox`` (with heights) cut to the 4 horizontal numbers."""
    parts = args.get("bbox", "").split(",")
    if len(parts) != 6:
        return dict(args)
    return {**args, "bbox": ",".join([parts[0], parts[1], parts[3], parts[4]])}


def register_ogc(server: flask.Flask, settings: Settings) -> None:
    """Add the ``/ogc`` routes to the Dash app's Flask ``server``."""

    def guarded(view: Callable[..., flask.Response], route: Route) -> Callable[..., flask.Response]:
        def run(**kwargs: str) -> flask.Response:
            try:
                caller = authorize(
                    engine=get_engine(settings.database_url, settings.spatialite_path),
                    settings=settings,
                    authorization=flask.request.headers.get("Authorization"),
                    what=flask.request.path,
                )
                args = flask.request.args
                check_query(args, route)
                media = media_type(args, flask.request.accept_mimetypes, route)
                return view(settings, caller, media, **kwargs)
            except ApiError as exc:
                return ogc_error(exc)

        run.__name__ = view.__name__
        return run

    routes: list[tuple[str, str, Callable[..., flask.Response], Route]] = [
        ("/ogc", "ogc_landing", _landing, "document"),
        ("/ogc/", "ogc_landing_slash", _landing, "document"),
        ("/ogc/api", "ogc_api", _api, "document"),
        ("/ogc/conformance", "ogc_conformance", _conformance, "document"),
        ("/ogc/collections", "ogc_collections", _collections, "document"),
        ("/ogc/collections/<cid>", "ogc_collection", _collection, "document"),
        ("/ogc/collections/<cid>/items", "ogc_items", _items, "items"),
        ("/ogc/collections/<cid>/items/<fid>", "ogc_item", _item, "item"),
        ("/ogc/<path:rest>", "ogc_unknown", _unknown, "document"),
    ]
    for rule, endpoint, view, route in routes:
        server.add_url_rule(rule, endpoint, guarded(view, route), methods=["GET"])


def _base() -> str:
    return flask.request.host_url.rstrip("/") + "/ogc"


def _json(body: dict[str, Any], media: str = JSON) -> flask.Response:
    return flask.Response(json.dumps(body, default=str), mimetype=media)


def _audit(settings: Settings, caller: Caller, obj: str, details: dict[str, Any]) -> None:
    """Record one ``ogc.read`` of a document (every read is audited, data or not)."""
    engine = get_engine(settings.database_url, settings.spatialite_path)
    with session_scope(engine) as session:
        record(
            session=session,
            viewer=caller.viewer,
            action="ogc.read",
            object=obj,
            details={"query": dict(flask.request.args), **details},
        )


def _landing(settings: Settings, caller: Caller, media: str) -> flask.Response:
    base = _base()
    _audit(settings, caller, "landing", {})
    return _json(
        {
            "title": "Watchfloor",
            "description": "The dashboard's layers, filtered for the caller, read-only. "
            f"{NO_HTML}: every link below is JSON (features: GeoJSON).",
            "links": [
                {"href": base, "rel": "self", "type": JSON, "title": "this document"},
                {
                    "href": f"{base}/api",
                    "rel": "service-desc",
                    "type": OAS30,
                    "title": "the API definition (OpenAPI 3.0, JSON)",
                },
                {
                    "href": f"{base}/conformance",
                    "rel": "conformance",
                    "type": JSON,
                    "title": "the conformance classes implemented",
                },
                {
                    "href": f"{base}/collections",
                    "rel": "data",
                    "type": JSON,
                    "title": "the collections",
                },
            ],
        }
    )


def _api(settings: Settings, caller: Caller, media: str) -> flask.Response:
    _audit(settings, caller, "api", {})
    doc = openapi_document(
        server_url=_base(), collection_ids=list(COLLECTIONS), max_res=settings.h3_store_res
    )
    # The OpenAPI media type with its version parameter, as GDAL's OAPIF driver asks for it.
    return flask.Response(json.dumps(doc), content_type=OAS30)


def _conformance(settings: Settings, caller: Caller, media: str) -> flask.Response:
    _audit(settings, caller, "conformance", {})
    return _json({"conformsTo": list(CONFORMANCE)})


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat().replace("+00:00", "Z")


def extent_json(extent: Extent | None) -> dict[str, Any] | None:
    """Return an extent as OGC's ``extent`` member (``None``: nothing to say, left out).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> e = Extent((-71.2, 42.2, -70.9, 42.4), datetime(2023, 1, 1, tzinfo=UTC), None)
    >>> extent_json(e)["temporal"]["interval"]
    [['2023-01-01T00:00:00Z', None]]
    >>> extent_json(None) is None
    True
    """
    if extent is None or extent.bbox is None:
        return None
    out: dict[str, Any] = {"spatial": {"bbox": [list(extent.bbox)], "crs": CRS84}}
    if extent.start_at is not None or extent.end_at is not None:
        out["temporal"] = {
            "interval": [[_iso(extent.start_at), _iso(extent.end_at)]],
            "trs": GREGORIAN,
        }
    return out


def _describe(cid: str, extent: Extent | None) -> dict[str, Any]:
    col = COLLECTIONS[cid]
    base = f"{_base()}/collections/{cid}"
    body: dict[str, Any] = {
        "id": cid,
        "title": col.title,
        "description": col.description,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            {"href": base, "rel": "self", "type": JSON, "title": "this collection"},
            {"href": f"{base}/items", "rel": "items", "type": GEOJSON, "title": "its features"},
        ],
    }
    shown = extent_json(extent)
    if shown is not None:
        body["extent"] = shown
    return body


def _known(cid: str) -> None:
    if cid not in COLLECTIONS:
        raise ApiError(404, f"no collection {cid!r}; see /ogc/collections")


def _extents(settings: Settings, caller: Caller, obj: str) -> dict[str, Extent | None]:
    """Return every collection's extent for the caller, and audit the read (extents are data)."""
    engine = get_engine(settings.database_url, settings.spatialite_path)
    with session_scope(engine) as session:
        bound = bind_cache(
            _shared_cache(settings), session=session, visibility=visibility_class(caller.viewer)
        )
        extents = collection_extents(
            session=session, viewer=caller.viewer, res=settings.h3_default_res, cache=bound
        )
        record(
            session=session,
            viewer=caller.viewer,
            action="ogc.read",
            object=obj,
            details={
                "query": dict(flask.request.args),
                "extents": {cid: extent_json(e) for cid, e in extents.items()},
            },
        )
    return extents


def _shared_cache(settings: Settings) -> SharedCache | None:
    """Return the app's shared aggregate cache (as the dashboard's), ``None`` when it is off."""
    if not settings.redis_url and settings.cache_max_entries == 0:
        return None
    return shared_cache(
        secret=settings.secret_key,
        redis_url=settings.redis_url,
        max_entries=settings.cache_max_entries,
        ttl_s=settings.cache_ttl_s,
    )


def _collections(settings: Settings, caller: Caller, media: str) -> flask.Response:
    extents = _extents(settings, caller, "collections")
    return _json(
        {
            "links": [{"href": f"{_base()}/collections", "rel": "self", "type": JSON}],
            "collections": [_describe(cid, extents[cid]) for cid in COLLECTIONS],
        }
    )


def _collection(settings: Settings, caller: Caller, media: str, cid: str) -> flask.Response:
    _known(cid)
    extents = _extents(settings, caller, f"collections/{cid}")
    return _json(_describe(cid, extents[cid]))


def _unknown(settings: Settings, caller: Caller, media: str, rest: str) -> flask.Response:
    raise ApiError(404, f"nothing at /ogc/{rest}; start at /ogc")


def _page_link(
    rel: str, offset: int, limit: int, media: str, cursor: str | None = None
) -> dict[str, Any]:
    args = {k: v for k, v in flask.request.args.items() if k not in ("offset", "limit", "cursor")}
    args.update(offset=str(offset), limit=str(limit))
    if cursor is not None:
        args["cursor"] = cursor
    href = f"{flask.request.base_url}?{urlencode(args)}"
    return {"href": href, "rel": rel, "type": media}


def cursor_text(key: tuple[datetime, str]) -> str:
    """Return the ``cursor`` of a next link: the last row's time (UTC) and public id.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> text = cursor_text((datetime(2023, 2, 5, 12, 0, 1, 250, tzinfo=UTC), "0f" * 16))
    >>> text
    '2023-02-05T12:00:01.000250Z_0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f'
    >>> read_cursor(text)[1] == "0f" * 16
    True
    """
    at, last_id = key
    return f"{at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}_{last_id}"


def read_cursor(text: str) -> tuple[datetime, str]:
    """Return the (time, public id) of a ``cursor``; 400 if :func:`cursor_text` did not write it."""
    at_text, _, id_text = text.rpartition("_")
    try:
        at = datetime.strptime(at_text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ApiError(400, f"cursor {text!r} is not one a next link gave") from exc
    if not is_public_id(id_text):
        raise ApiError(400, f"cursor {text!r} is not one a next link gave")
    return at, id_text


def _marking(page: Page, cid: str, session: Any, caller: Caller, filters: Any) -> str:
    caveats = page_caveats(page)
    if cid == "hexes" and len(page.frame):
        # Hexagon counts are built from the visible events in the same filter.
        caveats += caveats_present(session=session, viewer=caller.viewer, filters=filters)
    return most_restrictive(caveats)


def _feature_headers(marking: str) -> dict[str, str]:
    # Content-Crs as OGC API - Features Part 2 spells it (a URI in angle brackets): GIS clients
    # read it to know the axis order (CRS84: longitude, latitude).
    return {"X-Watchfloor-Handling": marking, "Content-Crs": f"<{CRS84}>"}


def _items(settings: Settings, caller: Caller, media: str, cid: str) -> flask.Response:
    _known(cid)
    args = _bbox_4(flask.request.args)
    engine = get_engine(settings.database_url, settings.spatialite_path)
    filters = query_filter(args, viewer=caller.viewer, engine=engine)
    # A limit above the maximum is served as the maximum, not refused (OGC API - Features
    # Part 1, 7.15.3: "you might get up to 10000 (server-limited)").
    limit = min(int_param(args, "limit", DEFAULT_LIMIT, 1, 2**31), MAX_LIMIT)
    offset = int_param(args, "offset", 0, 0, 10**12)
    res = int_param(args, "res", settings.h3_default_res, 0, settings.h3_store_res)
    after = read_cursor(args["cursor"]) if args.get("cursor") else None
    with session_scope(engine) as session:
        bound = bind_cache(
            _shared_cache(settings), session=session, visibility=visibility_class(caller.viewer)
        )
        page = read_page(
            cid,
            session=session,
            viewer=caller.viewer,
            filters=filters,
            res=res,
            limit=limit,
            offset=offset,
            after=after,
            cache=bound,
        )
        marking = _marking(page, cid, session, caller, filters)
        returned = len(page.frame)
        record(
            session=session,
            viewer=caller.viewer,
            action="ogc.read",
            object=cid,
            details={
                "query": dict(flask.request.args),
                "returned": returned,
                "matched": page.matched,
                "handling": marking,
            },
        )
    links = [_page_link("self", offset, limit, media, args.get("cursor"))]
    if offset + returned < page.matched and returned:
        # Event pages continue after their last row (keyset); the others by offset.
        cursor = cursor_text(page.last_key) if page.last_key else None
        links.append(_page_link("next", offset + returned, limit, media, cursor))
    if offset > 0:
        links.append(_page_link("prev", max(0, offset - limit), limit, media))
    links.append({"href": f"{_base()}/collections/{cid}", "rel": "collection", "type": JSON})
    head = {
        "type": "FeatureCollection",
        "numberMatched": page.matched,
        "numberReturned": returned,
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
        "watchfloor": {"handling": marking},
    }
    text = (
        json.dumps(head)[:-1]
        + ', "features": ['
        + ",\n".join(feature_texts(page.frame, page.ids))
        + "]}"
    )
    return flask.Response(text, mimetype=media, headers=_feature_headers(marking))


def _item(settings: Settings, caller: Caller, media: str, cid: str, fid: str) -> flask.Response:
    _known(cid)
    args = flask.request.args
    res = int_param(args, "res", settings.h3_default_res, 0, settings.h3_store_res)
    engine = get_engine(settings.database_url, settings.spatialite_path)
    filters = query_filter(args, viewer=caller.viewer, engine=engine)
    with session_scope(engine) as session:
        page = read_feature(
            cid, fid, session=session, viewer=caller.viewer, filters=filters, res=res
        )
        marking = _marking(page, cid, session, caller, filters) if page else ""
        record(
            session=session,
            viewer=caller.viewer,
            action="ogc.read",
            object=f"{cid}/{fid}",
            outcome="ok" if page else "denied",
            details={"found": page is not None, "handling": marking or None},
        )
    if page is None:
        raise ApiError(404, f"no feature {fid!r} in {cid!r}")
    (feature,) = feature_texts(page.frame, page.ids)
    body = json.loads(feature)
    body["links"] = [
        {"href": flask.request.base_url, "rel": "self", "type": media},
        {"href": f"{_base()}/collections/{cid}", "rel": "collection", "type": JSON},
    ]
    return flask.Response(json.dumps(body), mimetype=media, headers=_feature_headers(marking))

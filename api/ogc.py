"""OGC API - Features (Part 1 Core, GeoJSON) under ``/ogc``: the layers, read-only, for GIS.

Routes: ``/ogc`` (landing page), ``/ogc/conformance``, ``/ogc/collections``,
``/ogc/collections/{id}``, ``/ogc/collections/{id}/items`` (``bbox``, ``datetime``, ``limit``,
``offset``, plus Watchfloor's ``categories``, ``agencies``, ``caveats`` and, for hexes, ``res``;
``next``/``prev`` links, ``numberMatched``, ``numberReturned``) and
``/ogc/collections/{id}/items/{fid}``. Same authentication as the export API (partner key or a
user with EXPORT); every feature read goes through the visibility filter and is audited
(``ogc.read``). A feature the caller may not see is answered 404, like one that does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import flask

from api.auth import Caller, authorize
from api.collections import COLLECTIONS, Page, page_caveats, read_feature, read_page
from api.errors import ApiError, error_response
from api.params import MAX_LIMIT, int_param, query_filter
from exports.stream import feature_texts
from security.audit import record
from security.caveats import most_restrictive
from settings import Settings
from store.engine import get_engine, session_scope
from store.queries.events import caveats_present

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT = 1000
JSON = "application/json"
GEOJSON = "application/geo+json"


def register_ogc(server: flask.Flask, settings: Settings) -> None:
    """Add the ``/ogc`` routes to the Dash app's Flask ``server``."""

    def guarded(view: Callable[..., flask.Response]) -> Callable[..., flask.Response]:
        def run(**kwargs: str) -> flask.Response:
            try:
                caller = authorize(
                    engine=get_engine(settings.database_url, settings.spatialite_path),
                    settings=settings,
                    authorization=flask.request.headers.get("Authorization"),
                    what=flask.request.path,
                )
                return view(settings, caller, **kwargs)
            except ApiError as exc:
                return error_response(exc)

        run.__name__ = view.__name__
        return run

    routes: list[tuple[str, str, Callable[..., flask.Response]]] = [
        ("/ogc", "ogc_landing", _landing),
        ("/ogc/", "ogc_landing_slash", _landing),
        ("/ogc/conformance", "ogc_conformance", _conformance),
        ("/ogc/collections", "ogc_collections", _collections),
        ("/ogc/collections/<cid>", "ogc_collection", _collection),
        ("/ogc/collections/<cid>/items", "ogc_items", _items),
        ("/ogc/collections/<cid>/items/<fid>", "ogc_item", _item),
    ]
    for rule, endpoint, view in routes:
        server.add_url_rule(rule, endpoint, guarded(view), methods=["GET"])


def _base() -> str:
    return flask.request.host_url.rstrip("/") + "/ogc"


def _json(body: dict[str, Any], media: str = JSON) -> flask.Response:
    return flask.Response(json.dumps(body, default=str), mimetype=media)


def _landing(settings: Settings, caller: Caller) -> flask.Response:
    base = _base()
    return _json(
        {
            "title": "Watchfloor",
            "description": "The dashboard's layers, filtered for the caller, read-only",
            "links": [
                {"href": base, "rel": "self", "type": JSON, "title": "this document"},
                {"href": f"{base}/conformance", "rel": "conformance", "type": JSON},
                {"href": f"{base}/collections", "rel": "data", "type": JSON},
            ],
        }
    )


def _conformance(settings: Settings, caller: Caller) -> flask.Response:
    return _json({"conformsTo": list(CONFORMANCE)})


def _describe(cid: str) -> dict[str, Any]:
    col = COLLECTIONS[cid]
    base = f"{_base()}/collections/{cid}"
    return {
        "id": cid,
        "title": col.title,
        "description": col.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]], "crs": CRS84}},
        "links": [
            {"href": base, "rel": "self", "type": JSON},
            {"href": f"{base}/items", "rel": "items", "type": GEOJSON},
        ],
    }


def _known(cid: str) -> None:
    if cid not in COLLECTIONS:
        raise ApiError(404, f"no collection {cid!r}; see /ogc/collections")


def _collections(settings: Settings, caller: Caller) -> flask.Response:
    return _json(
        {
            "links": [{"href": f"{_base()}/collections", "rel": "self", "type": JSON}],
            "collections": [_describe(cid) for cid in COLLECTIONS],
        }
    )


def _collection(settings: Settings, caller: Caller, cid: str) -> flask.Response:
    _known(cid)
    return _json(_describe(cid))


def _page_link(rel: str, offset: int, limit: int) -> dict[str, Any]:
    args = {k: v for k, v in flask.request.args.items() if k not in ("offset", "limit")}
    args.update(offset=str(offset), limit=str(limit))
    href = f"{flask.request.base_url}?{urlencode(args)}"
    return {"href": href, "rel": rel, "type": GEOJSON}


def _marking(page: Page, cid: str, session: Any, caller: Caller, filters: Any) -> str:
    caveats = page_caveats(page)
    if cid == "hexes" and len(page.frame):
        # Hexagon counts are built from the visible events in the same filter.
        caveats += caveats_present(session=session, viewer=caller.viewer, filters=filters)
    return most_restrictive(caveats)


def _items(settings: Settings, caller: Caller, cid: str) -> flask.Response:
    _known(cid)
    args = flask.request.args
    engine = get_engine(settings.database_url, settings.spatialite_path)
    filters = query_filter(args, viewer=caller.viewer, engine=engine)
    limit = int_param(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = int_param(args, "offset", 0, 0, 10**12)
    res = int_param(args, "res", settings.h3_default_res, 0, settings.h3_store_res)
    with session_scope(engine) as session:
        page = read_page(
            cid,
            session=session,
            viewer=caller.viewer,
            filters=filters,
            res=res,
            limit=limit,
            offset=offset,
        )
        marking = _marking(page, cid, session, caller, filters)
        returned = len(page.frame)
        record(
            session=session,
            viewer=caller.viewer,
            action="ogc.read",
            object=cid,
            details={
                "query": dict(args),
                "returned": returned,
                "matched": page.matched,
                "handling": marking,
            },
        )
    links = [_page_link("self", offset, limit)]
    if offset + returned < page.matched:
        links.append(_page_link("next", offset + returned, limit))
    if offset > 0:
        links.append(_page_link("prev", max(0, offset - limit), limit))
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
    return flask.Response(text, mimetype=GEOJSON, headers={"X-Watchfloor-Handling": marking})


def _item(settings: Settings, caller: Caller, cid: str, fid: str) -> flask.Response:
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
        {"href": flask.request.base_url, "rel": "self", "type": GEOJSON},
        {"href": f"{_base()}/collections/{cid}", "rel": "collection", "type": JSON},
    ]
    return flask.Response(
        json.dumps(body), mimetype=GEOJSON, headers={"X-Watchfloor-Handling": marking}
    )

"""The OpenAPI 3.0 definition of the ``/ogc`` service: its paths, parameters and answers.

The document is built from the same tables the routes check their query parameters against
(:data:`QUERY_PARAMS`), so a parameter the definition does not list is one the service refuses
(OGC API - Features Part 1, ``/req/core/query-param-unknown``), and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from api.params import MAX_LIMIT

OAS30 = "application/vnd.oai.openapi+json;version=3.0"
JSON = "application/json"
GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT = 1000

Route = Literal["document", "items", "item"]
# Watchfloor's own filters (README "Export API and OGC API - Features"), on items and one item.
_FILTERS = ("start", "end", "categories", "agencies", "caveats", "kinds", "area", "res")
QUERY_PARAMS: dict[Route, tuple[str, ...]] = {
    "document": ("f",),
    "items": ("f", "limit", "offset", "cursor", "bbox", "bbox-crs", "datetime", "crs", *_FILTERS),
    # One feature takes the filters too: a hexagon's counts depend on them, and a feature outside
    # them is not found, as in the list.
    "item": ("f", "datetime", "crs", *_FILTERS),
}
# What ``f`` may be on each route: JSON everywhere, GeoJSON for features; no HTML is served.
FORMATS: dict[Route, tuple[str, ...]] = {
    "document": ("json",),
    "items": ("json", "geojson"),
    "item": ("json", "geojson"),
}


def _list_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "style": "form",
        "explode": False,
        "schema": {"type": "array", "items": {"type": "string"}},
    }


def _parameters(collection_ids: Iterable[str], max_res: int) -> dict[str, dict[str, Any]]:
    text = {"type": "string"}
    return {
        "collectionId": {
            "name": "collectionId",
            "in": "path",
            "required": True,
            "description": "the collection",
            "schema": {"type": "string", "enum": list(collection_ids)},
        },
        "featureId": {
            "name": "featureId",
            "in": "path",
            "required": True,
            "description": "the feature id: an event's or flag's public id (32 hex characters, "
            "opaque), a site or area id, an H3 cell",
            "schema": text,
        },
        "f-json": {
            "name": "f",
            "in": "query",
            "required": False,
            "description": "the encoding: JSON only (no HTML is served); Accept is honoured too",
            "schema": {"type": "string", "enum": list(FORMATS["document"]), "default": "json"},
        },
        "f-features": {
            "name": "f",
            "in": "query",
            "required": False,
            "description": "the encoding: GeoJSON, as application/geo+json (geojson) or "
            "application/json (json); no HTML is served",
            "schema": {"type": "string", "enum": list(FORMATS["items"]), "default": "geojson"},
        },
        "limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"most features in the answer (a larger value is taken as {MAX_LIMIT})",
            "style": "form",
            "explode": False,
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
        "offset": {
            "name": "offset",
            "in": "query",
            "required": False,
            "description": "features to skip (the next links carry it)",
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
        "cursor": {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "where an event page starts: set by the next links (the last "
            "row's time and public id; after that row, so rows stored meanwhile shift nothing); "
            "offset then only counts",
            "schema": text,
        },
        "bbox": {
            "name": "bbox",
            "in": "query",
            "required": False,
            "description": "west,south,east,north in CRS84 degrees (six numbers: the heights "
            "are ignored); a polygon touching the box is in it",
            "style": "form",
            "explode": False,
            "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        },
        "bbox-crs": {
            "name": "bbox-crs",
            "in": "query",
            "required": False,
            "description": "the CRS of bbox: only CRS84 (any other is refused with 400)",
            "schema": {"type": "string", "format": "uri", "enum": [CRS84]},
        },
        "crs": {
            "name": "crs",
            "in": "query",
            "required": False,
            "description": "the CRS of the answer: only CRS84 (any other is refused with 400)",
            "schema": {"type": "string", "format": "uri", "enum": [CRS84]},
        },
        "datetime": {
            "name": "datetime",
            "in": "query",
            "required": False,
            "description": "an instant or an interval (a/b, ../b, a/..), ISO 8601, UTC unless "
            "an offset is given; events: the time they occurred; hazards: their span; sites, "
            "regions and flags ignore it",
            "style": "form",
            "explode": False,
            "schema": text,
        },
        "start": {
            "name": "start",
            "in": "query",
            "required": False,
            "description": "ISO 8601 start of the window (instead of datetime)",
            "schema": text,
        },
        "end": {
            "name": "end",
            "in": "query",
            "required": False,
            "description": "ISO 8601 end of the window, exclusive (instead of datetime)",
            "schema": text,
        },
        "categories": _list_param("categories", "event categories (comma list)"),
        "agencies": _list_param("agencies", "source agencies (comma list)"),
        "caveats": _list_param("caveats", "handling caveats (comma list)"),
        "kinds": _list_param("kinds", "event kinds (comma list: suspicious, incident)"),
        "area": {
            "name": "area",
            "in": "query",
            "required": False,
            "description": "region:NAME, hazard:NAME or wkt:POLYGON((lon lat, ...)): keep what "
            "lies inside (points) or touches it (polygons)",
            "schema": text,
        },
        "res": {
            "name": "res",
            "in": "query",
            "required": False,
            "description": "H3 resolution of the hexes collection",
            "schema": {"type": "integer", "minimum": 0, "maximum": max_res},
        },
    }


def _refs(route: Route) -> list[dict[str, str]]:
    refs = []
    for name in QUERY_PARAMS[route]:
        key = name if name != "f" else ("f-json" if route == "document" else "f-features")
        refs.append({"$ref": f"#/components/parameters/{key}"})
    return refs


def _schemas() -> dict[str, dict[str, Any]]:
    link = {
        "type": "object",
        "required": ["href"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    }
    links = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
    extent = {
        "type": "object",
        "properties": {
            "spatial": {
                "type": "object",
                "properties": {
                    "bbox": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "array",
                            "minItems": 4,
                            "maxItems": 6,
                            "items": {"type": "number"},
                        },
                    },
                    "crs": {"type": "string", "enum": [CRS84]},
                },
            },
            "temporal": {
                "type": "object",
                "properties": {
                    "interval": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "array",
                            "minItems": 2,
                            "maxItems": 2,
                            "items": {"type": "string", "format": "date-time", "nullable": True},
                        },
                    },
                    "trs": {"type": "string"},
                },
            },
        },
    }
    collection = {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": links,
            "extent": extent,
            "itemType": {"type": "string"},
            "crs": {"type": "array", "items": {"type": "string"}},
        },
    }
    feature = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "geometry": {"type": "object", "nullable": True},
            "properties": {"type": "object", "nullable": True},
            "links": links,
        },
    }
    return {
        "exception": {
            "type": "object",
            "required": ["code"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
        },
        "link": link,
        "landingPage": {
            "type": "object",
            "required": ["links"],
            "properties": {
                "title": {"type": "string"},
                "description": {"type": "string"},
                "links": links,
            },
        },
        "confClasses": {
            "type": "object",
            "required": ["conformsTo"],
            "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
        },
        "collection": collection,
        "collections": {
            "type": "object",
            "required": ["links", "collections"],
            "properties": {
                "links": links,
                "collections": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/collection"},
                },
            },
        },
        "featureGeoJSON": feature,
        "featureCollectionGeoJSON": {
            "type": "object",
            "required": ["type", "features"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/featureGeoJSON"},
                },
                "links": links,
                "timeStamp": {"type": "string", "format": "date-time"},
                "numberMatched": {"type": "integer", "minimum": 0},
                "numberReturned": {"type": "integer", "minimum": 0},
            },
        },
    }


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}},
    }


def _ok(description: str, schema: str, media: tuple[str, ...], headers: bool = False) -> Any:
    answer: dict[str, Any] = {
        "description": description,
        "content": {m: {"schema": {"$ref": f"#/components/schemas/{schema}"}} for m in media},
    }
    if headers:
        answer["headers"] = {
            "Content-Crs": {
                "description": "the CRS of the geometries, always <CRS84>",
                "schema": {"type": "string"},
            },
            "X-Watchfloor-Handling": {
                "description": "the most restrictive handling caveat of the answer",
                "schema": {"type": "string"},
            },
        }
    return answer


def _operation(
    op_id: str, summary: str, route: Route, ok: dict[str, Any], path_params: tuple[str, ...] = ()
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": ok,
        "400": {"$ref": "#/components/responses/InvalidParameter"},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "403": {"$ref": "#/components/responses/Forbidden"},
        "406": {"$ref": "#/components/responses/NotAcceptable"},
        "500": {"$ref": "#/components/responses/ServerError"},
    }
    if path_params:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    params = [{"$ref": f"#/components/parameters/{p}"} for p in path_params]
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "tags": ["Features" if route != "document" else "Capabilities"],
            "parameters": params + _refs(route),
            "responses": responses,
        }
    }


def openapi_document(
    *, server_url: str, collection_ids: Iterable[str], max_res: int, version: str = "1.0.0"
) -> dict[str, Any]:
    """Return the OpenAPI 3.0 definition of the ``/ogc`` service.

    Parameters
    ----------
    server_url
        The service's base URL (``http://host:port/ogc``); paths are relative to it.
    collection_ids
        The collections served (the ``collectionId`` enum).
    max_res
        The finest H3 resolution ``res`` may ask for.
    version
        The API's version (``info.version``).

    Returns
    -------
    dict
        The document, ready for ``json.dumps``.
    """
    ids = list(collection_ids)
    doc_json = (JSON,)
    features = (GEOJSON, JSON)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Watchfloor OGC API - Features",
            "version": version,
            "description": "The dashboard's layers, read-only, filtered for the caller (a "
            "partner API key or a user with the export capability); every read is audited. "
            "JSON and GeoJSON only: no HTML encoding is served.",
        },
        "servers": [{"url": server_url}],
        "security": [{"partnerKey": []}, {"userPassword": []}],
        "tags": [
            {"name": "Capabilities", "description": "landing page, API, conformance, collections"},
            {"name": "Features", "description": "the features of a collection"},
        ],
        "paths": {
            "/": _operation(
                "getLandingPage",
                "the landing page",
                "document",
                _ok("the landing page", "landingPage", doc_json),
            ),
            "/api": _operation(
                "getApi",
                "this API definition",
                "document",
                {
                    "description": "the OpenAPI 3.0 definition",
                    "content": {OAS30: {"schema": {"type": "object"}}},
                },
            ),
            "/conformance": _operation(
                "getConformanceDeclaration",
                "the conformance classes implemented",
                "document",
                _ok("the conformance declaration", "confClasses", doc_json),
            ),
            "/collections": _operation(
                "getCollections",
                "the collections, with their extents as the caller may see them",
                "document",
                _ok("the collections", "collections", doc_json),
            ),
            "/collections/{collectionId}": _operation(
                "describeCollection",
                "one collection",
                "document",
                _ok("the collection", "collection", doc_json),
                ("collectionId",),
            ),
            "/collections/{collectionId}/items": _operation(
                "getFeatures",
                "the features of a collection the caller may see, a page at a time",
                "items",
                _ok("a page of features", "featureCollectionGeoJSON", features, headers=True),
                ("collectionId",),
            ),
            "/collections/{collectionId}/items/{featureId}": _operation(
                "getFeature",
                "one feature (404 if the caller may not see it, as if it did not exist)",
                "item",
                _ok("the feature", "featureGeoJSON", features, headers=True),
                ("collectionId", "featureId"),
            ),
        },
        "components": {
            "securitySchemes": {
                "partnerKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a partner agency's key (manage.py apikeys create)",
                },
                "userPassword": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "a Watchfloor user with the export capability",
                },
            },
            "parameters": _parameters(ids, max_res),
            "schemas": _schemas(),
            "responses": {
                "InvalidParameter": _error("a parameter is unknown or has a bad value"),
                "Unauthorized": _error("no or bad credentials"),
                "Forbidden": _error("the user lacks the export capability"),
                "NotFound": _error("no such collection or feature (or not visible)"),
                "NotAcceptable": _error("no encoding served matches Accept"),
                "ServerError": _error("a server error"),
            },
        },
    }

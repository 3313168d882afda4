"""The OGC service's documents and request checks, without a database: OpenAPI, f, Accept, crs."""

from __future__ import annotations

import doctest

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from werkzeug.datastructures import MIMEAccept

import api.collections as collections_mod
import api.ogc as ogc_mod
import api.params as params_mod
from api.collections import COLLECTIONS, widen_bbox
from api.errors import ApiError
from api.ogc import check_query, media_type
from api.openapi import CRS84, FORMATS, OAS30, QUERY_PARAMS, openapi_document


def _doc() -> dict:
    return openapi_document(
        server_url="http://example.test/ogc", collection_ids=list(COLLECTIONS), max_res=11
    )


def test_doctests_pass() -> None:
    for mod in (ogc_mod, collections_mod, params_mod):
        assert doctest.testmod(mod).failed == 0, mod.__name__


def test_openapi_document_is_valid_openapi_30() -> None:
    doc = _doc()
    validate(doc)  # raises on any violation of the OpenAPI 3.0 schema
    assert doc["openapi"].startswith("3.0")
    # The validator does catch a bad document: a parameter "in" the body is not OpenAPI 3.0.
    bad_limit = {**doc["components"]["parameters"]["limit"], "in": "body"}
    broken = {
        **doc,
        "components": {
            **doc["components"],
            "parameters": {**doc["components"]["parameters"], "limit": bad_limit},
        },
    }
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_openapi_lists_exactly_the_parameters_the_routes_accept() -> None:
    doc = _doc()
    params = doc["components"]["parameters"]
    paths = doc["paths"]
    for path, route in (
        ("/", "document"),
        ("/api", "document"),
        ("/conformance", "document"),
        ("/collections", "document"),
        ("/collections/{collectionId}", "document"),
        ("/collections/{collectionId}/items", "items"),
        ("/collections/{collectionId}/items/{featureId}", "item"),
    ):
        refs = [p["$ref"].rsplit("/", 1)[1] for p in paths[path]["get"]["parameters"]]
        query = {params[r]["name"] for r in refs if params[r]["in"] == "query"}
        assert query == set(QUERY_PARAMS[route]), path
        (f_ref,) = [r for r in refs if params[r]["name"] == "f"]
        assert params[f_ref]["schema"]["enum"] == list(FORMATS[route])
    assert params["collectionId"]["schema"]["enum"] == list(COLLECTIONS)
    limit = params["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 10_000, 1000)
    assert params["bbox-crs"]["schema"]["enum"] == [CRS84]
    assert doc["paths"]["/api"]["get"]["responses"]["200"]["content"].keys() == {OAS30}


@pytest.mark.parametrize(
    ("args", "route", "fragment"),
    [
        ({"f": "html"}, "document", "f=html is not served"),
        ({"f": "geojson"}, "document", "f=geojson is not served"),
        ({"f": "xml"}, "items", "f=xml is not served"),
        ({"limits": "5"}, "items", "unknown query parameter(s) ['limits']"),
        ({"limit": "5"}, "document", "unknown query parameter(s) ['limit']"),
        ({"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}, "items", "bbox-crs"),
        ({"crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}, "items", "crs: only"),
    ],
)
def test_check_query_refuses(args: dict[str, str], route: str, fragment: str) -> None:
    with pytest.raises(ApiError) as err:
        check_query(args, route)  # type: ignore[arg-type]
    assert err.value.status == 400 and fragment in err.value.message


def test_check_query_accepts_what_the_definition_lists() -> None:
    check_query({"f": "json"}, "document")
    check_query({"f": "geojson", "limit": "9", "bbox-crs": CRS84, "crs": f"<{CRS84}>"}, "items")
    check_query({"f": "json", "res": "7", "datetime": "2023-01-01T00:00:00Z"}, "item")


def test_media_type_from_f_then_accept() -> None:
    geo, js = "application/geo+json", "application/json"
    assert media_type({}, MIMEAccept(), "items") == geo
    assert media_type({"f": "json"}, MIMEAccept([("application/geo+json", 1)]), "items") == js
    assert media_type({}, MIMEAccept([(js, 1)]), "items") == js
    assert media_type({}, MIMEAccept([(js, 0.5), (geo, 1)]), "items") == geo
    assert media_type({}, MIMEAccept([("*/*", 1)]), "document") == js
    with pytest.raises(ApiError) as err:
        media_type({}, MIMEAccept([("text/html", 1)]), "document")
    assert err.value.status == 406
    # f wins over Accept: a browser's Accept does not stop f=json.
    assert media_type({"f": "json"}, MIMEAccept([("text/html", 1)]), "document") == js


def test_widen_bbox_covers_the_margin_everywhere() -> None:
    west, south, east, north = widen_bbox((-71.2, 42.2, -70.9, 42.4), 1000.0)
    assert south < 42.2 - 0.0089 < 42.4 + 0.0089 < north
    # At 42.4 N a degree of longitude is ~82 km: 1 km is at least 0.0121 degrees.
    assert west < -71.2 - 0.0121 and east > -70.9 + 0.0121
    assert widen_bbox((-180.0, -90.0, 180.0, 90.0), 5000.0) == (-180.0, -90.0, 180.0, 90.0)

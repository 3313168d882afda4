"""OGC API - Features on both backends: documents, paging, visibility, audit, GDAL's own client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pyogrio
import pytest
import shapely
from openapi_spec_validator import validate
from sqlalchemy import Engine, func, select

from data_loaders.ingest import ingest_table
from data_loaders.profiles import load_profile
from data_loaders.readers import RawTable
from domain.roles import Role, Viewer
from rules.visibility import may_see
from security.apikeys import create_key
from settings import Settings
from store.engine import session_scope
from store.models import AuditEntry
from store.writes import upsert_area
from testkit.api_kit import basic, bearer, expected_rows, make_world
from testkit.browser import running_app
from testkit.security_kit import AGENCY_A, AGENCY_B

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
OAS30 = "application/vnd.oai.openapi+json;version=3.0"
# Where agency B's hidden rows lie: western Massachusetts, far from every other row (Boston).
FAR_LON, FAR_LAT = -73.2, 42.1
FAR_TIME = "2022-06-01 12:00:00+00"

PARTNER_A = Viewer("key", Role.PARTNER, AGENCY_A)
ANALYST = Viewer("analyst", Role.ANALYST, "MA-CFC")
COLLECTION_IDS = {"suspicious", "incidents", "sites", "flags", "hexes", "regions", "hazards"}


@pytest.fixture
def world(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Users per role, two agencies' events (RED, AMBER, GREEN each), a key for agency A."""
    return make_world(engine, settings)


def _walk(
    client: Any, url: str, headers: dict[str, str], *, whole: bool = True
) -> tuple[list[dict[str, Any]], int]:
    """Follow ``next`` links from ``url``; return every feature and how many pages it took.

    ``whole``: the walk started at the first page, so it must have read ``numberMatched``.
    """
    features: list[dict[str, Any]] = []
    pages = 0
    while url:
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        assert resp.mimetype == "application/geo+json"
        body = resp.get_json()
        pages += 1
        assert body["numberReturned"] == len(body["features"])
        features += body["features"]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://localhost", "") if nxt else ""
    if whole:
        assert len(features) == body["numberMatched"]
    return features, pages


def test_landing_conformance_and_collections(world: dict[str, Any]) -> None:
    client, headers = world["client"], bearer(world["key"])
    landing = client.get("/ogc", headers=headers).get_json()
    rels = {link["rel"]: link for link in landing["links"]}
    assert set(rels) >= {"self", "conformance", "data", "service-desc"}
    assert rels["service-desc"]["type"] == OAS30
    assert "no HTML" in landing["description"]
    conf = client.get("/ogc/conformance", headers=headers).get_json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30" in conf
    api = client.get(rels["service-desc"]["href"].replace("http://localhost", ""), headers=headers)
    assert api.status_code == 200 and api.headers["Content-Type"] == OAS30
    doc = api.get_json(force=True)
    validate(doc)  # the served definition is valid OpenAPI 3.0
    assert doc["servers"] == [{"url": "http://localhost/ogc"}]
    assert doc["paths"].keys() >= {"/", "/conformance", "/collections/{collectionId}/items"}
    cols = client.get("/ogc/collections", headers=headers).get_json()["collections"]
    assert {c["id"] for c in cols} == COLLECTION_IDS
    one = client.get("/ogc/collections/hexes", headers=headers).get_json()
    assert any(link["rel"] == "items" for link in one["links"])
    assert client.get("/ogc/collections/nope", headers=headers).status_code == 404


def test_items_page_with_next_links_and_exactly_the_visible_rows(
    world: dict[str, Any], engine: Engine
) -> None:
    client = world["client"]
    window = "2023-02-05T00:00:00Z/2023-02-25T00:00:00Z"
    url = f"/ogc/collections/incidents/items?limit=25&datetime={window}"
    features, pages = _walk(client, url, bearer(world["key"]))
    expected = expected_rows(engine, PARTNER_A, "incident", start="2023-02-05", end="2023-02-25")
    assert sorted(f["properties"]["external_id"] for f in features) == sorted(
        expected["external_id"]
    )
    assert pages == -(-len(expected) // 25) and len({f["id"] for f in features}) == len(features)
    assert all(
        may_see(PARTNER_A, handling=p["handling"], source_agency=p["source_agency"])
        for p in (f["properties"] for f in features)
    )
    assert not [
        f
        for f in features
        if f["properties"]["source_agency"] == AGENCY_B
        and f["properties"]["handling"] != "TLP:GREEN"
    ]
    # The analyst (Basic) sees more: both agencies' AMBER, no RED.
    analyst, _ = _walk(client, "/ogc/collections/incidents/items?limit=1000", basic("analyst"))
    assert len(analyst) == len(expected_rows(engine, ANALYST, "incident"))
    assert "TLP:RED" not in {f["properties"]["handling"] for f in analyst}


def test_one_item_and_the_invisible_one_is_404(world: dict[str, Any], engine: Engine) -> None:
    client, headers = world["client"], bearer(world["key"])
    everything = _walk(client, "/ogc/collections/incidents/items?limit=1000", basic("analyst"))[0]
    b_amber = next(
        f
        for f in everything
        if f["properties"]["source_agency"] == AGENCY_B
        and f["properties"]["handling"] == "TLP:AMBER"
    )
    green = next(f for f in everything if f["properties"]["handling"] == "TLP:GREEN")
    ok = client.get(f"/ogc/collections/incidents/items/{green['id']}", headers=headers)
    assert ok.status_code == 200 and ok.get_json()["properties"] == green["properties"]
    hidden = client.get(f"/ogc/collections/incidents/items/{b_amber['id']}", headers=headers)
    assert hidden.status_code == 404  # as if it did not exist
    with session_scope(engine) as s:
        reads = s.execute(
            select(AuditEntry.object, AuditEntry.outcome).where(AuditEntry.action == "ogc.read")
        ).all()
    assert (f"incidents/{b_amber['id']}", "denied") in reads
    assert (f"incidents/{green['id']}", "ok") in reads


def test_bbox_hexes_res_and_bad_parameters(world: dict[str, Any]) -> None:
    client, headers = world["client"], basic("analyst")
    box = "-71.08,42.33,-71.03,42.38"
    inside, _ = _walk(client, f"/ogc/collections/suspicious/items?bbox={box}", headers)
    for f in inside:
        lon, lat = f["geometry"]["coordinates"]
        assert -71.08 <= lon <= -71.03 and 42.33 <= lat <= 42.38
    hexes, _ = _walk(client, "/ogc/collections/hexes/items?res=7", headers)
    assert hexes and all(f["properties"]["res"] == 7 for f in hexes)
    assert all(f["geometry"]["type"] == "Polygon" for f in hexes)
    for bad in ("limit=0", "limit=x", "bbox=1,2", "datetime=soon", "offset=-1", "res=99"):
        resp = client.get(f"/ogc/collections/hexes/items?{bad}", headers=headers)
        assert resp.status_code == 400, bad


def test_ogc_auth_is_the_export_apis(world: dict[str, Any], engine: Engine) -> None:
    client = world["client"]
    for url in ("/ogc", "/ogc/collections", "/ogc/collections/incidents/items"):
        anon = client.get(url)
        assert anon.status_code == 401 and "Basic" in anon.headers["WWW-Authenticate"]
        assert client.get(url, headers=basic("officer")).status_code == 403
        assert client.get(url, headers=basic("command")).status_code == 200
    with session_scope(engine) as s:
        count = s.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "ogc.read")
        ).scalar_one()
    assert count == 3  # every read by command staff (landing, collections, items), no refusal


@pytest.fixture
def served(world: dict[str, Any], db_url: str, tmp_path: Path) -> Iterator[str]:
    """The real app (``python app.py``) in its own process on a free port, on this database.

    A process, not a thread: GDAL holds the GIL while it waits for the answer (pyogrio).
    """
    env = {"WATCHFLOOR_DATABASE_URL": db_url, "WATCHFLOOR_SEED_DEMO": "false"}
    with running_app(tmp_path / "unused.sqlite", **env) as base:
        yield base


def test_gdal_oapif_client_reads_exactly_the_visible_rows(
    world: dict[str, Any], served: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GDAL_HTTP_AUTH", "BEARER")
    monkeypatch.setenv("GDAL_HTTP_BEARER", world["key"])
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "60")  # a broken server fails the test, never hangs it
    source = f"OAPIF:{served}/ogc"
    layers = set(pyogrio.list_layers(source)[:, 0])
    assert layers == COLLECTION_IDS
    for layer, kind in (("suspicious", "suspicious"), ("incidents", "incident")):
        frame = pyogrio.read_dataframe(source, layer=layer)
        expected = expected_rows(engine, PARTNER_A, kind)
        assert sorted(frame["external_id"]) == sorted(expected["external_id"]), layer
        assert set(frame.geometry.geom_type) == {"Point"}
        assert set(zip(frame["source_agency"], frame["handling"], strict=True)) <= {
            (AGENCY_A, "TLP:RED"),
            (AGENCY_A, "TLP:AMBER"),
            (AGENCY_A, "TLP:GREEN"),
            (AGENCY_B, "TLP:GREEN"),
        }
    hexes = pyogrio.read_dataframe(source, layer="hexes")
    assert int(hexes["total"].sum()) == len(expected_rows(engine, PARTNER_A, "suspicious")) + len(
        expected_rows(engine, PARTNER_A, "incident")
    )


def test_gdal_pages_through_next_links_and_reads_the_extent(
    world: dict[str, Any], served: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GDAL_HTTP_AUTH", "BEARER")
    monkeypatch.setenv("GDAL_HTTP_BEARER", world["key"])
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "60")
    source = f"OAPIF:{served}/ogc"
    expected = expected_rows(engine, PARTNER_A, "incident")
    info = pyogrio.read_info(source, layer="incidents")
    # GDAL takes the layer's extent, count and time span from the service, as QGIS shows them.
    assert info["total_bounds"] == (
        expected["lon"].min(),
        expected["lat"].min(),
        expected["lon"].max(),
        expected["lat"].max(),
    )
    assert info["features"] == len(expected)  # numberMatched
    iso = "%Y-%m-%dT%H:%M:%SZ"
    assert info["layer_metadata"]["TEMPORAL_INTERVAL_MIN"] == expected[
        "occurred_at"
    ].min().strftime(iso)
    assert info["layer_metadata"]["TEMPORAL_INTERVAL_MAX"] == expected[
        "occurred_at"
    ].max().strftime(iso)
    # PAGE_SIZE (an open option) makes GDAL ask for pages of 25 and follow the next links.
    frame = pyogrio.read_dataframe(source, layer="incidents", PAGE_SIZE="25")
    assert sorted(frame["external_id"]) == sorted(expected["external_id"])
    assert len(frame) == len(expected) > 50
    with session_scope(engine) as s:
        reads = s.execute(
            select(AuditEntry.object, AuditEntry.details).where(AuditEntry.action == "ogc.read")
        ).all()
    pages = [json.loads(d)["query"] for o, d in reads if o == "incidents"]
    offsets = sorted(int(q.get("offset", 0)) for q in pages if q.get("limit") == "25")
    assert offsets == list(range(0, len(expected), 25))  # every page read once, each audited
    assert "api" in {o for o, _ in reads}  # GDAL found the definition through service-desc


def _ogc_error(resp: Any, status: int, code: str) -> str:
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["code"] == code and body["description"], body
    return str(body["description"])


def test_f_accept_crs_and_error_bodies(world: dict[str, Any]) -> None:
    client, headers = world["client"], basic("analyst")
    items = "/ogc/collections/incidents/items"
    for url in ("/ogc?f=json", "/ogc/collections?f=json", "/ogc/conformance?f=json"):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200 and resp.mimetype == "application/json", url
    assert client.get(f"{items}?f=geojson", headers=headers).mimetype == "application/geo+json"
    as_json = client.get(f"{items}?f=json&limit=3", headers=headers)
    assert as_json.mimetype == "application/json" and as_json.get_json()["numberReturned"] == 3
    assert {link["type"] for link in as_json.get_json()["links"] if link["rel"] == "next"} == {
        "application/json"
    }
    plain = client.get(items, headers={**headers, "Accept": "application/json"})
    assert plain.mimetype == "application/json"
    assert client.get(items, headers=headers).mimetype == "application/geo+json"
    assert "no HTML" in _ogc_error(
        client.get("/ogc?f=html", headers=headers), 400, "InvalidParameterValue"
    )
    _ogc_error(client.get(f"{items}?f=xml", headers=headers), 400, "InvalidParameterValue")
    _ogc_error(
        client.get("/ogc/collections", headers={**headers, "Accept": "text/html"}),
        406,
        "NotAcceptable",
    )
    assert "limitt" in _ogc_error(
        client.get(f"{items}?limitt=5", headers=headers), 400, "InvalidParameterValue"
    )
    epsg = "http://www.opengis.net/def/crs/EPSG/0/4326"
    for bad in (f"bbox-crs={epsg}&bbox=42.3,-71.1,42.4,-71.0", f"crs={epsg}"):
        _ogc_error(client.get(f"{items}?{bad}", headers=headers), 400, "InvalidParameterValue")
    ok = client.get(f"{items}?bbox-crs={CRS84}&crs={CRS84}&limit=2", headers=headers)
    assert ok.status_code == 200 and ok.headers["Content-Crs"] == f"<{CRS84}>"
    fid = ok.get_json()["features"][0]["id"]
    one = client.get(f"{items}/{fid}", headers=headers)
    assert one.headers["Content-Crs"] == f"<{CRS84}>" and one.mimetype == "application/geo+json"
    _ogc_error(client.get("/ogc/collections/nope", headers=headers), 404, "NotFound")
    _ogc_error(client.get(f"{items}/999999999", headers=headers), 404, "NotFound")
    _ogc_error(client.get("/ogc/nothing/here", headers=headers), 404, "NotFound")
    _ogc_error(client.get(f"{items}?limit=0", headers=headers), 400, "InvalidParameterValue")
    anon = client.get(items)
    _ogc_error(anon, 401, "Unauthorized")
    assert "Basic" in anon.headers["WWW-Authenticate"]
    _ogc_error(client.get(items, headers=basic("officer")), 403, "Forbidden")


def test_limit_above_the_maximum_is_served_as_the_maximum(world: dict[str, Any]) -> None:
    client, headers = world["client"], basic("analyst")
    body = client.get("/ogc/collections/incidents/items?limit=50000", headers=headers).get_json()
    (self_link,) = [link["href"] for link in body["links"] if link["rel"] == "self"]
    assert parse_qs(urlsplit(self_link).query)["limit"] == ["10000"]
    assert body["numberReturned"] == body["numberMatched"] == len(body["features"]) > 0
    # Six bbox numbers (with heights): the heights are ignored.
    box4 = "-71.08,42.33,-71.03,42.38"
    box6 = "-71.08,42.33,0,-71.03,42.38,100"
    four = client.get(f"/ogc/collections/incidents/items?bbox={box4}", headers=headers)
    six = client.get(f"/ogc/collections/incidents/items?bbox={box6}", headers=headers)
    assert [f["id"] for f in six.get_json()["features"]] == [
        f["id"] for f in four.get_json()["features"]
    ]
    assert four.get_json()["numberMatched"] > 0


def test_next_links_are_stable_for_every_collection(world: dict[str, Any]) -> None:
    client, headers = world["client"], basic("analyst")
    for cid in ("incidents", "hexes", "sites", "regions"):
        whole = client.get(f"/ogc/collections/{cid}/items?limit=10000", headers=headers)
        ids = [f["id"] for f in whole.get_json()["features"]]
        paged, pages = _walk(client, f"/ogc/collections/{cid}/items?limit=7", headers)
        assert [f["id"] for f in paged] == ids, cid  # same order, each once
        if len(ids) > 7:
            assert pages == -(-len(ids) // 7)
            second = f"/ogc/collections/{cid}/items?limit=7&offset=7"
            again = [
                [f["id"] for f in client.get(second, headers=headers).get_json()["features"]]
                for _ in range(2)
            ]
            assert again[0] == again[1] == ids[7:14]


def test_event_next_links_survive_rows_stored_while_paging(
    world: dict[str, Any], engine: Engine, settings: Settings
) -> None:
    client, headers = world["client"], basic("analyst")
    url = "/ogc/collections/incidents/items?limit=10"
    before = [f["id"] for f in _walk(client, url, headers)[0]]
    first = client.get(url, headers=headers).get_json()
    # A late report of an old incident arrives between two pages: it sorts before every row
    # already read, so an offset would read one row twice; the cursor reads on after page 1.
    _far_event(engine, settings, handling="TLP:GREEN")
    seen = [f["id"] for f in first["features"]]
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert "cursor=" in nxt
    rest, _ = _walk(client, nxt.replace("http://localhost", ""), headers, whole=False)
    seen += [f["id"] for f in rest]
    assert seen == before  # every row once, in order; the new one is on a fresh walk
    after = [f["id"] for f in _walk(client, url, headers)[0]]
    assert len(after) == len(before) + 1 and after[1:] == before
    bad = client.get(f"{url}&cursor=yesterday", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["code"] == "InvalidParameterValue"


def _far_event(
    engine: Engine,
    settings: Settings,
    handling: str = "TLP:RED",
    lon: float = FAR_LON,
    lat: float = FAR_LAT,
) -> None:
    """Store one agency-B incident far from the rest (by default RED, earlier than all)."""
    profile = load_profile("bpd_incidents").model_copy(
        update={"name": f"test-far-{handling}", "source": AGENCY_B, "handling": handling}
    )
    frame = pd.DataFrame(
        {
            "INCIDENT_NUMBER": [f"FAR-{handling}"],
            "OFFENSE_DESCRIPTION": ["VANDALISM"],
            "OCCURRED_ON_DATE": [FAR_TIME],
            "Lat": [str(lat)],
            "Long": [str(lon)],
            "STREET": ["FAR ST"],
            "SHOOTING": ["0"],
        }
    )
    summary = ingest_table(
        engine,
        RawTable(frame=frame),
        profile,
        origin="far.csv",
        sha256=None,
        area=None,
        store_res=settings.h3_store_res,
    )
    assert summary.inserted == 1


def _hazard(session: Any, name: str, handling: str, agency: str, box: tuple, span: tuple) -> None:
    shape = shapely.MultiPolygon([shapely.box(*box)])
    upsert_area(
        session,
        {
            "kind": "hazard",
            "subtype": "storm",
            "name": name,
            "source_agency": agency,
            "external_id": name,
            "handling": handling,
            "valid_from": pd.Timestamp(span[0], tz="UTC") if span[0] else None,
            "valid_to": pd.Timestamp(span[1], tz="UTC") if span[1] else None,
            "geometry": f"SRID=4326;{shape.wkt}",
        },
    )


def _extents(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    cols = client.get("/ogc/collections", headers=headers).get_json()["collections"]
    return {c["id"]: c.get("extent") for c in cols}


def test_extents_are_what_the_caller_may_see(
    world: dict[str, Any], engine: Engine, settings: Settings
) -> None:
    _far_event(engine, settings)
    with session_scope(engine) as s:
        _hazard(s, "open", "TLP:CLEAR", AGENCY_A, (-71.2, 42.2, -70.9, 42.5), ("2023-01-10", None))
        _hazard(
            s,
            "hidden",
            "TLP:RED",
            AGENCY_B,
            (-73.5, 41.9, -73.0, 42.3),
            ("2021-05-01", "2021-05-03"),
        )
        key_b, _ = create_key(session=s, agency=AGENCY_B)
    client = world["client"]
    seen_a = _extents(client, bearer(world["key"]))
    seen_b = _extents(client, bearer(key_b))
    for viewer, seen in ((PARTNER_A, seen_a), (Viewer("key", Role.PARTNER, AGENCY_B), seen_b)):
        rows = expected_rows(engine, viewer, "incident")
        spatial = seen["incidents"]["spatial"]
        assert spatial["crs"] == CRS84
        assert spatial["bbox"] == [
            [rows["lon"].min(), rows["lat"].min(), rows["lon"].max(), rows["lat"].max()]
        ]
        first, last = seen["incidents"]["temporal"]["interval"][0]
        assert pd.Timestamp(first) == rows["occurred_at"].min()
        assert pd.Timestamp(last) == rows["occurred_at"].max()
    # Agency A's key never learns where or when agency B's RED rows lie...
    west_a = seen_a["incidents"]["spatial"]["bbox"][0][0]
    assert west_a > -71.5 and seen_a["hexes"]["spatial"]["bbox"][0][0] > -71.5
    assert pd.Timestamp(seen_a["incidents"]["temporal"]["interval"][0][0]) > pd.Timestamp(FAR_TIME)
    assert seen_a["hazards"]["spatial"]["bbox"] == [[-71.2, 42.2, -70.9, 42.5]]
    assert seen_a["hazards"]["temporal"]["interval"] == [["2023-01-10T00:00:00Z", None]]
    # ...while agency B's own key does (the same query, so the test can fail).
    assert seen_b["incidents"]["spatial"]["bbox"][0][0] == FAR_LON
    assert seen_b["hexes"]["spatial"]["bbox"][0][0] < FAR_LON
    assert seen_b["hazards"]["spatial"]["bbox"] == [[-73.5, 41.9, -70.9, 42.5]]
    assert seen_b["hazards"]["temporal"]["interval"] == [["2021-05-01T00:00:00Z", None]]
    # Hexagon cells around the visible events lie inside the hexes extent.
    hexes, _ = _walk(client, "/ogc/collections/hexes/items?limit=10000", bearer(world["key"]))
    west, south, east, north = seen_a["hexes"]["spatial"]["bbox"][0]
    cells = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in hexes])
    assert shapely.box(west, south, east, north).contains(cells)
    # Regions: none stored, so no extent at all (nothing to show is shown as nothing).
    assert seen_a["regions"] is None and seen_a["sites"] is None
    one = client.get("/ogc/collections/incidents", headers=bearer(world["key"])).get_json()
    assert one["extent"] == seen_a["incidents"]
    with session_scope(engine) as s:
        objects = (
            s.execute(select(AuditEntry.object).where(AuditEntry.action == "ogc.read"))
            .scalars()
            .all()
        )
    assert objects.count("collections") == 2 and "collections/incidents" in objects
    # New data moves the extent at once (the cached aggregate is keyed on the data version).
    _far_event(engine, settings, handling="TLP:GREEN", lon=-69.95, lat=41.7)
    assert _extents(client, bearer(world["key"]))["incidents"]["spatial"]["bbox"][0][2] == -69.95


def test_datetime_filters_hazards_on_their_span_and_not_regions(
    world: dict[str, Any], engine: Engine
) -> None:
    with session_scope(engine) as s:
        _hazard(
            s,
            "jan",
            "TLP:CLEAR",
            AGENCY_A,
            (-71.2, 42.2, -71.1, 42.3),
            ("2023-01-01", "2023-01-05"),
        )
        _hazard(
            s,
            "feb",
            "TLP:CLEAR",
            AGENCY_A,
            (-71.2, 42.2, -71.1, 42.3),
            ("2023-02-01", "2023-02-03"),
        )
        _hazard(
            s, "ongoing", "TLP:CLEAR", AGENCY_A, (-71.2, 42.2, -71.1, 42.3), ("2023-01-20", None)
        )
        upsert_area(
            s,
            {
                "kind": "region",
                "subtype": "county",
                "name": "Testshire",
                "source_agency": AGENCY_A,
                "external_id": "testshire",
                "handling": "TLP:CLEAR",
                "valid_from": None,
                "valid_to": None,
                "geometry": "SRID=4326;"
                + shapely.MultiPolygon([shapely.box(-71.3, 42.1, -71.0, 42.5)]).wkt,
            },
        )
    client, headers = world["client"], basic("analyst")

    def names(cid: str, when: str) -> list[str]:
        url = f"/ogc/collections/{cid}/items?datetime={when}"
        return sorted(f["properties"]["name"] for f in _walk(client, url, headers)[0])

    assert names("hazards", "2023-01-03T00:00:00Z") == ["jan"]
    assert names("hazards", "2023-01-05T00:00:00Z") == ["jan"]  # its last instant counts
    assert names("hazards", "2023-01-06T00:00:00Z/2023-01-31T00:00:00Z") == ["ongoing"]
    assert names("hazards", "2023-02-02T00:00:00Z/..") == ["feb", "ongoing"]
    assert names("hazards", "../2022-12-31T00:00:00Z") == []
    assert names("hazards", "2024-06-01T00:00:00Z") == ["ongoing"]
    for when in ("2023-01-03T00:00:00Z", "1990-01-01T00:00:00Z/1990-02-01T00:00:00Z"):
        assert names("regions", when) == ["Testshire"]  # regions have no time
    # The area filter keeps the polygons touching it, for regions and hazards alike.
    near = "wkt:POLYGON((-71.25 42.15,-71.15 42.15,-71.15 42.25,-71.25 42.25,-71.25 42.15))"
    far = "wkt:POLYGON((-72.5 42.0,-72.4 42.0,-72.4 42.1,-72.5 42.1,-72.5 42.0))"
    for area, hazards, regions in ((near, 3, 1), (far, 0, 0)):
        for cid, count in (("hazards", hazards), ("regions", regions)):
            body = client.get(f"/ogc/collections/{cid}/items?area={area}", headers=headers)
            assert body.get_json()["numberMatched"] == count, (cid, area)
    described = client.get("/ogc/collections/regions", headers=headers).get_json()
    assert "datetime is ignored" in described["description"]
    assert (
        "span" in client.get("/ogc/collections/hazards", headers=headers).get_json()["description"]
    )

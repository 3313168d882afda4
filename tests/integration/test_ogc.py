"""OGC API - Features on both backends: documents, paging, visibility, audit, GDAL's own client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from sqlalchemy import Engine, func, select

from security.roles import Role, Viewer
from security.visibility import may_see
from settings import Settings
from store.engine import session_scope
from store.models import AuditEntry
from tests.api_kit import basic, bearer, expected_rows, make_world
from tests.browser.harness import running_app
from tests.security_kit import AGENCY_A, AGENCY_B

PARTNER_A = Viewer("key", Role.PARTNER, AGENCY_A)
ANALYST = Viewer("analyst", Role.ANALYST, "MA-CFC")
COLLECTION_IDS = {"suspicious", "incidents", "sites", "flags", "hexes", "regions", "hazards"}


@pytest.fixture
def world(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Users per role, two agencies' events (RED, AMBER, GREEN each), a key for agency A."""
    return make_world(engine, settings)


def _walk(client: Any, url: str, headers: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    """Follow ``next`` links from ``url``; return every feature and how many pages it took."""
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
    assert len(features) == body["numberMatched"]
    return features, pages


def test_landing_conformance_and_collections(world: dict[str, Any]) -> None:
    client, headers = world["client"], bearer(world["key"])
    landing = client.get("/ogc", headers=headers).get_json()
    assert {link["rel"] for link in landing["links"]} >= {"self", "conformance", "data"}
    conf = client.get("/ogc/conformance", headers=headers).get_json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
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
    assert count == 1  # the one items read by command staff


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

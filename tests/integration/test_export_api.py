"""The export API on both backends: formats read back, streamed = CLI, partner keys, auth, audit."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import pytest
import shapely
from sqlalchemy import Engine, select

from domain.roles import Role, Viewer
from exports.formats import FORMATS, SUFFIX
from rules.visibility import may_see
from settings import Settings
from store.engine import session_scope
from store.models import AuditEntry, User
from store.queries.filters import EventFilter
from testkit.api_kit import ANALYST, WINDOW, basic, bearer, expected_rows, get, make_world
from testkit.security_kit import AGENCY_A, AGENCY_B


@pytest.fixture
def world(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Users per role, two agencies' events (RED, AMBER, GREEN each), a key for agency A."""
    return make_world(engine, settings)


def _read(data: bytes, fmt: str, tmp_path: Path, layer: str) -> pd.DataFrame:
    path = tmp_path / f"back{SUFFIX[fmt]}"
    path.write_bytes(data)
    if fmt == "shp":
        return pyogrio.read_dataframe(f"/vsizip/{path}/{layer}.shp")
    if fmt == "kmz":
        return pyogrio.read_dataframe(f"/vsizip/{path}/doc.kml")
    return pyogrio.read_dataframe(path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_api_format_reads_back_with_rows_columns_geometry_metadata(
    world: dict[str, Any], engine: Engine, tmp_path: Path, fmt: str
) -> None:
    resp = get(
        world["client"],
        "/api/v1/export",
        query_string={"layer": "incidents", "format": fmt, **WINDOW},
        headers=basic("analyst"),
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    expected = expected_rows(engine, ANALYST, "incident", **WINDOW)
    back = _read(resp.get_data(), fmt, tmp_path, "incidents")
    assert len(back) == len(expected) > 20
    assert set(back.geometry.geom_type) == {"Point"}
    meta = json.loads(resp.headers["X-Watchfloor-Metadata"])
    # The analyst sees both agencies' AMBER and GREEN, never their RED.
    assert meta["handling"] == "TLP:AMBER" == resp.headers["X-Watchfloor-Handling"]
    assert meta["rows"] == {"incidents": len(expected)}
    assert meta["exported_by"] == {"user": "analyst", "role": "analyst", "agency": "MA-CFC"}
    assert meta["filters"]["start_at"].startswith("2023-02-05")
    assert f"watchfloor-incidents{SUFFIX[fmt]}" in resp.headers["Content-Disposition"]
    if fmt in ("kml", "kmz"):
        assert set(back["Name"]) == set(expected["external_id"])
    else:
        ids = "ext_id" if fmt == "shp" else "external_id"
        assert sorted(back[ids]) == sorted(expected["external_id"])
        assert {"category", "handling", "h3_cell"} <= set(back.columns)
    if fmt == "geojson":
        assert json.loads(resp.get_data())["watchfloor"]["rows"] == {"incidents": len(expected)}
    if fmt == "gpkg":
        path = tmp_path / "back.gpkg"
        inside = pyogrio.read_info(path, layer="incidents")["layer_metadata"]["watchfloor"]
        assert json.loads(inside)["handling"] == "TLP:AMBER"
    if fmt == "shp":
        names = zipfile.ZipFile(io.BytesIO(resp.get_data())).namelist()
        assert "incidents.metadata.json" in names


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_streamed_export_equals_the_cli_export(
    world: dict[str, Any],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    import manage
    from settings import get_settings

    query = {"layer": "suspicious", "format": fmt, **WINDOW, "bbox": "-71.2,42.2,-70.9,42.45"}
    resp = get(world["client"], "/api/v1/export", query_string=query, headers=basic("analyst"))
    assert resp.status_code == 200
    assert "Content-Length" not in resp.headers  # a generator answer, not one built in memory
    api = _read(resp.get_data(), fmt, tmp_path, "suspicious")
    cli_path = tmp_path / f"cli{SUFFIX[fmt]}"
    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        args = ["export", "--layer", "suspicious", "--format", fmt, "-o", str(cli_path)]
        args += ["--since", WINDOW["start"], "--until", WINDOW["end"], f"--bbox={query['bbox']}"]
        args += ["--user", "analyst", "--role", "analyst", "--agency", "MA-CFC", "--json"]
        assert manage.main(args) == 0
    finally:
        get_settings.cache_clear()
    cli = pyogrio.read_dataframe(cli_path)
    assert len(api) == len(cli) > 10
    assert list(api.columns) == list(cli.columns)
    attrs = [c for c in cli.columns if c != "geometry"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(api[attrs]).astype(str), pd.DataFrame(cli[attrs]).astype(str)
    )
    gaps = shapely.distance(api.geometry.to_numpy(), cli.geometry.to_numpy())
    assert gaps.max() < 1e-6


def test_partner_key_never_receives_another_agencys_red_or_amber(
    world: dict[str, Any], engine: Engine
) -> None:
    client, key = world["client"], world["key"]
    partner = Viewer("key", Role.PARTNER, AGENCY_A)
    for layer, kind in (("suspicious", "suspicious"), ("incidents", "incident")):
        resp = get(
            client,
            "/api/v1/export",
            query_string={"layer": layer, "format": "geojson"},
            headers=bearer(key),
        )
        assert resp.status_code == 200
        body = json.loads(resp.get_data())
        props = [f["properties"] for f in body["features"]]
        assert props and all(
            may_see(partner, handling=p["handling"], source_agency=p["source_agency"])
            for p in props
        )
        assert not [
            p for p in props if p["source_agency"] == AGENCY_B and p["handling"] != "TLP:GREEN"
        ]
        assert len(props) == len(expected_rows(engine, partner, kind))
        # Its own agency's RED reports are its own: it gets those.
        assert {p["handling"] for p in props if p["source_agency"] == AGENCY_A} == {
            "TLP:RED",
            "TLP:AMBER",
            "TLP:GREEN",
        }
        assert body["watchfloor"]["exported_by"]["agency"] == AGENCY_A


def test_export_api_refuses_without_credentials_or_capability(
    world: dict[str, Any], engine: Engine, settings: Settings
) -> None:
    client = world["client"]
    query = {"layer": "incidents", "format": "csv"}
    anon = get(client, "/api/v1/export", query_string=query)
    assert anon.status_code == 401 and "Bearer" in anon.headers["WWW-Authenticate"]
    assert (
        get(client, "/api/v1/export", query_string=query, headers=bearer("wf_x_y")).status_code
        == 401
    )
    # A watch officer may view the map but not take data out.
    officer = get(client, "/api/v1/export", query_string=query, headers=basic("officer"))
    assert officer.status_code == 403
    assert (
        get(client, "/api/v1/export", query_string=query, headers=basic("command")).status_code
        == 200
    )
    # Wrong passwords count towards the lockout, as on the sign-in page.
    for _ in range(settings.lockout_attempts):
        bad = get(client, "/api/v1/export", query_string=query, headers=basic("analyst", "nope"))
        assert bad.status_code == 401
    locked = get(client, "/api/v1/export", query_string=query, headers=basic("analyst"))
    assert locked.status_code == 401
    with session_scope(engine) as s:
        user = s.execute(select(User).where(User.username == "analyst")).scalar_one()
        assert user.locked_until is not None
        denied = (
            s.execute(select(AuditEntry).where(AuditEntry.action == "access.denied"))
            .scalars()
            .all()
        )
        assert [d.username for d in denied] == ["officer"]


def test_area_parameter_keeps_exactly_the_events_inside_the_polygon(
    world: dict[str, Any],
) -> None:
    """A drawn polygon (a triangle) keeps what lies inside it, no more: the rule of the map."""
    triangle = "POLYGON((-71.2 42.2, -70.9 42.2, -71.2 42.45, -71.2 42.2))"
    base = {"layer": "suspicious", "format": "geojson", **WINDOW}
    every = get(world["client"], "/api/v1/export", query_string=base, headers=basic("analyst"))
    inside = get(
        world["client"],
        "/api/v1/export",
        query_string={**base, "area": f"wkt:{triangle}"},
        headers=basic("analyst"),
    )
    assert every.status_code == inside.status_code == 200
    shape = shapely.from_wkt(triangle)
    all_features = json.loads(every.get_data())["features"]
    expected = {
        f["properties"]["external_id"]
        for f in all_features
        if shapely.contains(shape, shapely.geometry.shape(f["geometry"]))
    }
    got = {f["properties"]["external_id"] for f in json.loads(inside.get_data())["features"]}
    assert got == expected
    assert 0 < len(got) < len(all_features)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"layer": "nope", "format": "csv"}, "layer must be"),
        ({"layer": "incidents", "format": "xls"}, "format must be"),
        ({"layer": "incidents", "format": "csv", "start": "yesterday-ish"}, "time window"),
        ({"layer": "incidents", "format": "csv", "bbox": "1,2,3"}, "bbox"),
        ({"layer": "incidents", "format": "csv", "kinds": "rumour"}, "unknown kinds"),
        ({"layer": "incidents", "format": "csv", "area": "Suffolk"}, "area"),
        ({"layer": "incidents", "format": "csv", "area": "region:Atlantis"}, "no single region"),
        ({"layer": "incidents", "format": "csv", "area": "wkt:POINT (1 2)"}, "POLYGON"),
        ({"layer": "hexes", "format": "csv", "res": "16"}, "res must be"),
    ],
)
def test_export_api_bad_parameters_are_400_with_a_message(
    world: dict[str, Any], query: dict[str, str], message: str
) -> None:
    resp = get(world["client"], "/api/v1/export", query_string=query, headers=basic("analyst"))
    assert resp.status_code == 400 and message in resp.get_json()["error"]


def test_every_api_export_is_audited_and_temp_files_removed(
    world: dict[str, Any], engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    client = world["client"]
    for fmt in ("gpkg", "csv"):
        resp = get(
            client,
            "/api/v1/export",
            query_string={"layer": "all", "format": fmt},
            headers=basic("analyst"),
        )
        assert resp.status_code == 200
    hexes = get(
        client,
        "/api/v1/export",
        query_string={"layer": "hexes", "format": "csv", "res": "7"},
        headers=bearer(world["key"]),
    )
    frame = pd.read_csv(io.BytesIO(hexes.get_data()))
    assert set(frame["res"]) == {7} and frame["total"].sum() > 0
    assert not list(tmp_path.glob("watchfloor-export-*"))  # sent, then removed
    with session_scope(engine) as s:
        audits = (
            s.execute(
                select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )
    assert [(a.username, json.loads(a.details or "{}")["format"]) for a in audits] == [
        ("analyst", "gpkg"),
        ("analyst", "csv"),
        (f"apikey:{world['key'].split('_')[1]}", "csv"),
    ]
    assert all(json.loads(a.details or "{}")["via"] == "api" for a in audits)


def test_query_filter_matches_the_cli_filter() -> None:
    from api.params import query_filter
    from exports.service import build_filter

    assert query_filter({"start": "2023-02-01", "end": "2023-03-01", "caveats": "LES"}) == (
        build_filter(since="2023-02-01", until="2023-03-01", caveats="LES")
    )
    assert query_filter({}) == EventFilter()

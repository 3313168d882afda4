"""Every read path, seen by the other agency's partner: nothing restricted, not even in a count.

Two agencies each hold TLP:RED, TLP:AMBER and TLP:GREEN reports (testkit/security_kit.py), plus
flags built from agency A's RED, AMBER and GREEN reports. Partner B may see A's GREEN reports and
flag only. The dashboard paths go through the real Dash callbacks over Flask's test client;
exports, the briefing and the partner API through the functions and route the CLI and partners
use. External ids of A's restricted reports start with ``T100-`` (RED) and ``T101-`` (AMBER).
"""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from analytics.cells import cells_to_parent, cells_to_str
from analytics.timebuckets import TimeWindow
from data_loaders.ingest import ingest_table
from data_loaders.profiles import load_profile
from domain.roles import Role, Viewer
from exports.formats import FORMATS, SUFFIX
from exports.service import export_layers
from layers.encoding import decode_typed_array
from reports.briefing import build_briefing
from rules.visibility import may_see
from security.apikeys import create_key
from settings import Settings
from store.engine import session_scope
from store.flag_writes import upsert_flags
from store.models import AuditEntry, Event, Flag, IngestBatch
from store.queries import EventFilter
from store.queries.areas import events_in_area
from store.writes import upsert_area
from testkit.factories import raw_events
from testkit.security_kit import (
    AGENCY_A,
    AGENCY_B,
    callback_payload,
    event_frame,
    flag_candidate,
    make_users,
    sign_in,
    two_agency_events,
)

PARTNER_B = Viewer("partner-b", Role.PARTNER, AGENCY_B)
RESTRICTED = {"TLP:AMBER", "TLP:AMBER+STRICT", "LES", "TLP:RED"}
SECRET_IDS = ("T100-", "T101-")  # agency A's RED and AMBER external ids
SECRET_FLAG_TEXT = "SECRET-FLAG-OF-A"
ORIGIN = {"Origin": "http://localhost"}
ALL_WINDOW = {"preset": "all", "start": None, "end": None}


def _seed(engine: Engine, settings: Settings) -> pd.DataFrame:
    """Both agencies' events and three flags of agency A (RED, AMBER, GREEN); return the events."""
    two_agency_events(engine, settings)
    frame = event_frame(engine)
    candidates = []
    for caveat in ("TLP:RED", "TLP:AMBER", "TLP:GREEN"):
        part = frame[(frame["source_agency"] == AGENCY_A) & (frame["handling"] == caveat)]
        text = SECRET_FLAG_TEXT if caveat != "TLP:GREEN" else "open flag of A"
        candidates.append(flag_candidate(part, caveat, text))
    with session_scope(engine) as s:
        upsert_flags(s, candidates, gap_s=3600.0)
    return frame


def _visible(frame: pd.DataFrame, viewer: Viewer) -> pd.DataFrame:
    keep = [
        may_see(viewer, handling=h, source_agency=a)
        for h, a in zip(frame["handling"], frame["source_agency"], strict=True)
    ]
    return frame[keep]


def _no_secret(text: str) -> None:
    for marker in (*SECRET_IDS, SECRET_FLAG_TEXT):
        assert marker not in text, f"{marker!r} leaked"


def _callback(client: FlaskClient, output: str, values: dict[str, Any]) -> Any:
    deps = client.get("/_dash-dependencies").get_json()
    cb = next(c for c in deps if output in c["output"])
    return client.post("/_dash-update-component", json=callback_payload(cb, values), headers=ORIGIN)


@pytest.fixture()
def partner_b(engine: Engine, settings: Settings) -> tuple[FlaskClient, pd.DataFrame]:
    from app import create_app

    frame = _seed(engine, settings)
    make_users(engine, settings, ("partner-b", "analyst", "admin"))
    client = create_app(settings).server.test_client()
    assert sign_in(client, "partner-b") == 302
    return client, frame


def test_map_points_hexagons_and_flags_layer(
    partner_b: tuple[FlaskClient, pd.DataFrame], engine: Engine
) -> None:
    client, frame = partner_b
    ref = _visible(frame, PARTNER_B)
    values = {
        "layer-toggles.value": ["hexes", "suspicious", "incidents", "flags"],
        "window-store.data": ALL_WINDOW,
        "hex-res.value": 8,
    }
    resp = _callback(client, "map-spec.data", values)
    assert resp.status_code == 200
    body = resp.get_json()["response"]
    traces = {t["uid"]: t for t in body["map-spec"]["data"]["data"]}
    points = [row for uid in ("suspicious", "incidents") if uid in traces
              for row in traces[uid]["customdata"]]  # fmt: skip
    assert len(points) == len(ref)
    assert not [p for p in points if p[-2] == AGENCY_A and p[-1] in RESTRICTED]
    # The hexagon counts (typed arrays) add up to the visible events only.
    z = decode_typed_array(traces["hexes"]["z"])
    assert int(np.nansum(z)) == len(ref) < len(frame)
    # Flags layer: only A's GREEN flag.
    with session_scope(engine) as s:
        green = s.execute(select(Flag.public_id).where(Flag.handling == "TLP:GREEN")).scalar_one()
    flag_points = traces["flags-points"]["customdata"]
    assert [row[0] for row in flag_points] == [green]
    _no_secret(json.dumps(body))


def test_timeline_time_range_and_playback(partner_b: tuple[FlaskClient, pd.DataFrame]) -> None:
    client, frame = partner_b
    ref = _visible(frame, PARTNER_B)
    timeline = _callback(client, "timeline-graph.figure", {"window-store.data": ALL_WINDOW})
    assert timeline.status_code == 200
    figure = timeline.get_json()["response"]["timeline-graph"]["figure"]
    bars = [v for t in figure["data"] for v in _values(t["y"])]
    assert int(np.nansum(bars)) == len(ref) < len(frame)
    # "All" resolves to the viewer's own time range: its end is the newest visible report.
    text = _callback(
        client,
        "map-spec.data",
        {"layer-toggles.value": ["hexes"], "window-store.data": ALL_WINDOW, "hex-res.value": 8},
    ).get_json()["response"]
    newest = ref["occurred_at"].max().tz_convert("America/New_York").strftime("%Y-%m-%d")
    assert newest in text["data-through"]["children"]
    assert _callback(client, "window-store.data", {"window-preset.value": "all"}).status_code in (
        200,
        204,
    )


def _values(y: Any) -> list[float]:
    return list(decode_typed_array(y)) if isinstance(y, dict) else list(y)


def test_cell_detail_counts_only_visible_reports(
    partner_b: tuple[FlaskClient, pd.DataFrame],
) -> None:
    client, frame = partner_b
    secret = frame[(frame["source_agency"] == AGENCY_A) & frame["handling"].isin(RESTRICTED)]
    # The res-6 hexagon holding most of A's restricted reports.
    parents = cells_to_parent(secret["cell"].to_numpy(), 6)
    cell = int(pd.Series(parents).mode()[0])
    in_cell = frame[cells_to_parent(frame["cell"].to_numpy(), 6) == cell]
    ref = _visible(in_cell, PARTNER_B)
    assert len(in_cell) > len(ref)
    click = {"points": [{"location": cells_to_str(np.array([cell]))[0]}]}
    resp = _callback(
        client, "cell-panel.hidden", {"map-graph.clickData": click, "window-store.data": ALL_WINDOW}
    )
    assert resp.status_code == 200
    body = resp.get_json()["response"]
    rows = body["cell-grid"]["rowData"]
    assert len(rows) == len(ref)
    assert not [r for r in rows if r["source_agency"] == AGENCY_A and r["handling"] in RESTRICTED]
    assert f": {len(ref):,} events" in body["cell-title"]["children"]
    breakdown = sum(int(chip["props"]["children"].rsplit(" ", 1)[1].replace(",", ""))
                    for chip in body["cell-breakdown"]["children"])  # fmt: skip
    assert breakdown == len(ref)


def test_flag_queue_and_detail_hide_flags_built_from_hidden_reports(
    partner_b: tuple[FlaskClient, pd.DataFrame], engine: Engine
) -> None:
    client, _ = partner_b
    with session_scope(engine) as s:
        ids = dict(s.execute(select(Flag.handling, Flag.public_id)).tuples().all())
    queue = _callback(client, "flags-grid.rowData", {"flags-show-all.value": ["all"]})
    rows = queue.get_json()["response"]["flags-grid"]["rowData"]
    assert [r["id"] for r in rows] == [ids["TLP:GREEN"]]
    _no_secret(json.dumps(rows))
    for caveat in ("TLP:RED", "TLP:AMBER"):  # asked for by id: nothing about it comes back
        detail = _callback(
            client, "flag-detail.children", {"flags-grid.selectedRows": [{"id": ids[caveat]}]}
        )
        assert detail.status_code == 200
        text = json.dumps(detail.get_json())
        _no_secret(text)
        assert caveat not in text
    # Partners may not change flags at all.
    change = _callback(
        client,
        "flag-message.children",
        {
            "flag-apply.n_clicks": 1,
            "flags-grid.selectedRows": [{"id": ids["TLP:RED"]}],
            "flag-action.value": "acknowledge",
        },
    )
    assert change.status_code == 403


def test_exports_in_every_format_carry_only_visible_rows(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    frame = _seed(engine, settings)
    ref = _visible(frame, PARTNER_B)
    for fmt in FORMATS:
        for layer in ("suspicious", "incidents", "hexes", "flags"):
            out = tmp_path / f"{layer}{SUFFIX[fmt]}"
            with session_scope(engine) as s:
                result = export_layers(
                    [layer], fmt, out, session=s, viewer=PARTNER_B, filters=EventFilter()
                )
            expected = {
                "suspicious": int((ref["kind"] == "suspicious").sum()),
                "incidents": int((ref["kind"] == "incident").sum()),
                "flags": 1,
            }.get(layer)
            if expected is not None:
                assert result.rows[layer] == expected, (fmt, layer)
            # Events: B's own RED reports set the marking; flags: only A's GREEN one is there.
            marking = "TLP:GREEN" if layer == "flags" else "TLP:RED"
            assert result.metadata["handling"] == marking, (fmt, layer)
            for path in result.paths:
                _no_secret(_file_text(path))
            if fmt == "geojson" and layer == "hexes":
                hexes = pyogrio.read_dataframe(out)
                assert int(hexes["total"].sum()) == len(ref) < len(frame)
            if fmt == "csv" and layer == "incidents":
                back = pd.read_csv(out)
                restricted = back["handling"].isin(RESTRICTED)
                assert not (restricted & (back["source_agency"] == AGENCY_A)).any()


def _file_text(path: Path) -> str:
    """Every byte of an export (zip members included) as text, for a substring search."""
    data = path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            data = b"".join(z.read(name) for name in z.namelist())
    return data.decode("utf-8", errors="replace")


def test_briefing_reveals_nothing_restricted(engine: Engine, settings: Settings) -> None:
    frame = _seed(engine, settings)
    with session_scope(engine) as s:
        area_id, _ = upsert_area(
            s,
            {
                "kind": "region",
                "subtype": "test",
                "name": "Greater Boston",
                "source_agency": settings.host_agency,
                "external_id": "leak-area",
                "handling": "TLP:CLEAR",
                "geometry": "SRID=4326;MULTIPOLYGON(((-71.6 42.0,-70.5 42.0,-70.5 42.8,"
                "-71.6 42.8,-71.6 42.0)))",
            },
        )
    window = TimeWindow(
        pd.Timestamp("2023-01-01", tz="UTC").to_pydatetime(),
        pd.Timestamp("2023-04-01", tz="UTC").to_pydatetime(),
    )
    with session_scope(engine) as s:
        briefing = build_briefing(
            session=s, viewer=PARTNER_B, area_id=area_id, window=window, tz=settings.timezone
        )
        inside = events_in_area(
            session=s, viewer=PARTNER_B, area_id=area_id, filters=EventFilter(window=window)
        )
    ref = _visible(frame, PARTNER_B)
    assert briefing.totals["events_now"] == len(inside) == len(ref) < len(frame)
    _no_secret(briefing.html)
    assert "open flag of A" in briefing.html  # the flag it may see is there


def test_partner_api_cannot_touch_or_read_another_agencys_reports(
    engine: Engine, settings: Settings
) -> None:
    from app import create_app

    frame = _seed(engine, settings)
    make_users(engine, settings, ("partner-b",))
    with session_scope(engine) as s:
        key, _ = create_key(session=s, agency=AGENCY_B)
    client = create_app(settings).server.test_client()
    # The same external ids as A's RED reports, sent with B's key.
    secret = frame[(frame["source_agency"] == AGENCY_A) & (frame["handling"] == "TLP:RED")]
    body = [
        {
            "id": ext,
            "occurred_at": "2023-02-10T10:00:00Z",
            "lat": 42.35,
            "lon": -71.06,
            "category": "VANDALISM",
            "description": "resent",
        }
        for ext in secret["external_id"].head(5)
    ]
    resp = client.post("/api/v1/events", json=body, headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 201, resp.get_json()
    answer = resp.get_json()
    assert answer["source"] == AGENCY_B and answer["inserted"] == 5 and answer["updated"] == 0
    assert not {i["id"] for i in answer["ids"]} & {int(i) for i in frame["id"]}
    with session_scope(engine) as s:
        untouched = s.execute(
            select(Event.description).where(Event.id.in_([int(i) for i in secret["id"]]))
        ).scalars()
        assert "resent" not in set(untouched)
    # A signed-in partner's cookie is no API key; no key, no answer.
    assert sign_in(client, "partner-b") == 302
    assert client.post("/api/v1/events", json=body, headers=ORIGIN).status_code == 401


def test_quarantine_downloads_only_for_the_importing_and_source_agency(
    engine: Engine, settings: Settings
) -> None:
    from app import create_app

    _seed(engine, settings)
    make_users(engine, settings, ("partner-b", "analyst", "admin"))
    # Agency A's batch with a bad row, imported outside the dashboard (no importing agency).
    table = raw_events(3, seed=7)
    table.frame.loc[0, "Lat"] = "not a latitude"
    table.frame.loc[0, "STREET"] = "T100-QUARANTINED"
    profile = load_profile("bpd_incidents").model_copy(
        update={"name": "a-red", "source": AGENCY_A, "handling": "TLP:RED"}
    )
    batch_a = ingest_table(
        engine,
        table,
        profile,
        origin="a.csv",
        sha256=None,
        area=None,
        store_res=settings.h3_store_res,
    ).batch_id
    client = create_app(settings).server.test_client()
    download = {"upload-quarantine-button.n_clicks": 1, "upload-batch.data": batch_a}
    # The partner has no import capability at all.
    assert sign_in(client, "partner-b") == 302
    assert _callback(client, "upload-download.data", download).status_code == 403
    # A center analyst (another agency than A, not the importer) gets nothing, audited. A has
    # delegated its imports to the center, so the analyst may import for A below.
    delegated = settings.model_copy(update={"import_delegations": [AGENCY_A]})
    analyst = create_app(delegated).server.test_client()
    assert sign_in(analyst, "analyst") == 302
    refused = _callback(analyst, "upload-download.data", download)
    assert refused.status_code in (200, 204)
    assert not (refused.get_json(silent=True) or {}).get("response")  # no file
    _no_secret(refused.get_data(as_text=True))
    # The analyst's own upload: the importing agency may download its quarantined rows.
    csv = raw_events(3, seed=8).frame
    csv.loc[1, "Lat"] = "bad"
    csv.loc[1, "STREET"] = "OWN-ROW"
    contents = "data:text/csv;base64," + base64.b64encode(csv.to_csv(index=False).encode()).decode()
    imported = _callback(
        analyst,
        "upload-summary.children",
        {
            "upload-button.n_clicks": 1,
            "upload-file.contents": contents,
            "upload-file.filename": "own.csv",
            "upload-kind.value": "incident",
            "upload-source.value": AGENCY_A,
        },
    )
    assert imported.status_code == 200, imported.get_data(as_text=True)
    own = imported.get_json()["response"]["upload-batch"]["data"]
    mine = _callback(
        analyst,
        "upload-download.data",
        {"upload-quarantine-button.n_clicks": 1, "upload-batch.data": own},
    )
    assert mine.status_code == 200
    assert "OWN-ROW" in json.dumps(mine.get_json())
    with session_scope(engine) as s:
        importer = s.get(IngestBatch, own).imported_by_agency  # type: ignore[union-attr]
        outcomes = s.execute(
            select(AuditEntry.object, AuditEntry.outcome)
            .where(AuditEntry.action == "import.quarantine_download")
            .order_by(AuditEntry.id)
        ).all()
    assert importer == settings.host_agency
    assert [tuple(o) for o in outcomes] == [(str(batch_a), "denied"), (str(own), "ok")]


def test_audit_pages_are_for_administrators_only(
    partner_b: tuple[FlaskClient, pd.DataFrame],
) -> None:
    client, _ = partner_b
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403
    health = client.get("/healthz").get_json()
    assert "counts" not in health

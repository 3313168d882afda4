"""Issue #18, finding 7: a flag's statistics never carry reports its viewer may not see.

The attack: a TLP:GREEN flag near a site, built from agency A's GREEN reports, is visible to
partner A; agency B's TLP:RED reports in the baseline of the same area changed the flag's
"expected" and q value that partner A read. The rule (rules/statistics.py): the figures that
come from the whole detection run (expected, p, q, priority) are shown only to a viewer who may
see every class of event that run read; everyone else gets the flag with the figures withheld.
Everything here goes through the real app: Dash callbacks (queue, detail, map), the dashboard's
download routes, the export API and the OGC flags collection; the partner's briefing through
the function the briefing route calls (partners have no download capability).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, select

from analytics.cells import points_to_cells
from analytics.timebuckets import TimeWindow
from domain.roles import Role, Viewer
from jobs.detection import run_detection
from layers.selection import ScreenState
from reports.briefing import build_briefing
from rules.statistics import STATISTICS_WITHHELD
from security.apikeys import create_key
from settings import Settings
from store.engine import session_scope
from store.models import Flag, FlagHistory
from store.queries.feed import flag_alerts
from store.queries.flags import flag_rows
from store.writes import finish_batch, start_batch, upsert_area, upsert_events, upsert_sites
from testkit import detection_scenarios as sc
from testkit.security_kit import (
    AGENCY_A,
    AGENCY_B,
    callback_payload,
    make_users,
    sign_in,
)

UNTIL = pd.Timestamp("2023-05-01", tz="UTC")
LOGAN = (42.3656, -71.0096)
FAR = (42.10, -72.55)  # Springfield: far from the site, inside the detection area
SYSTEM = Viewer.system()
PARTNER_A = Viewer("partner-a", Role.PARTNER, AGENCY_A)
OFFICER = Viewer("officer", Role.WATCH_OFFICER, "MA-CFC")
ORIGIN = {"Origin": "http://localhost"}
STAT_COLUMNS = ("priority", "expected", "q_value")


def _store(engine: Engine, frame: pd.DataFrame, *, kind: str, source: str) -> None:
    with session_scope(engine) as s:
        batch = start_batch(
            s, source_agency=source, kind=kind, origin="test", content_sha256=None, profile=None
        )
        upsert = upsert_sites if kind == "site" else upsert_events
        counts = upsert(s, frame, source_agency=source, batch_id=batch.id)
        finish_batch(s, batch, rows_read=len(frame), counts=counts, quarantined=0)


def _events(
    engine: Engine, frame: pd.DataFrame, *, prefix: str, source: str, handling: str
) -> None:
    rows = sc.with_ids(frame.assign(handling=handling), prefix=prefix)
    _store(engine, sc.canonical(rows), kind="event", source=source)


def _site(engine: Engine) -> None:
    frame = pd.DataFrame(
        {
            "external_id": ["logan"],
            "name": ["Logan International"],
            "sector": ["Transportation Systems"],
            "subtype": [None],
            "tier": [1],
            "address": [None],
            "handling": ["TLP:CLEAR"],
            "lon": [LOGAN[1]],
            "lat": [LOGAN[0]],
        }
    )
    frame["cell"] = points_to_cells(frame["lat"], frame["lon"], 11)
    frame["content_hash"] = [hashlib.sha256(e.encode()).hexdigest() for e in frame.external_id]
    _store(engine, frame, kind="site", source="TEST")


def _green_world(engine: Engine) -> None:
    """Logan, open background reports, and agency A's GREEN burst next to Logan."""
    _site(engine)
    background = sc.background(3_000, seed=31, start="2023-01-01", days=120)
    _events(engine, background, prefix="bg", source="BPD", handling="TLP:GREEN")
    burst = sc.plant(*LOGAN, n=10, until=UNTIL, seed=5)
    _events(engine, burst, prefix="a-burst", source=AGENCY_A, handling="TLP:GREEN")


def _add_red_baseline(engine: Engine) -> None:
    """Agency B's TLP:RED reports around Logan in the baseline weeks (the attack's input)."""
    red = sc.plant(*LOGAN, n=12, until=UNTIL - pd.Timedelta(days=14), seed=9, days=30)
    red["category"] = "ELICIT"  # none of A's reports has it: it must not surface "by category"
    _events(engine, red, prefix="b-red", source=AGENCY_B, handling="TLP:RED")


def _detect_afresh(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Forget the flags, run detection on the window ending at UNTIL; return the system's flag."""
    with session_scope(engine) as s:
        s.execute(delete(FlagHistory))
        s.execute(delete(Flag))
    run_detection(engine, settings, until=UNTIL.to_pydatetime())
    with session_scope(engine) as s:
        flags = flag_rows(session=s, viewer=SYSTEM)
    assert len(flags) == 1, "the planted burst must be flagged"
    flag = flags.iloc[0]
    assert flag["handling"] == "TLP:GREEN" and flag["site_name"] == "Logan International"
    return flag.to_dict()


@pytest.fixture()
def clients(engine: Engine, settings: Settings) -> Iterator[dict[str, Any]]:
    """Signed-in clients of partner A, partner B and an analyst, and agency A's API key."""
    from app import create_app

    make_users(engine, settings, ("partner-a", "partner-b", "analyst"))
    with session_scope(engine) as s:
        key, _ = create_key(session=s, agency=AGENCY_A)
    app = create_app(settings).server
    out: dict[str, Any] = {"key": key, "api": app.test_client()}
    for name in ("partner-a", "partner-b", "analyst"):
        out[name] = app.test_client()
        assert sign_in(out[name], name) == 302
    yield out


def _callback(client: FlaskClient, output: str, values: dict[str, Any]) -> Any:
    deps = client.get("/_dash-dependencies").get_json()
    cb = next(c for c in deps if output in c["output"])
    resp = client.post("/_dash-update-component", json=callback_payload(cb, values), headers=ORIGIN)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()["response"]


def _texts(node: Any) -> list[str]:
    """Every string in a Dash component tree (its JSON), in order."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    if isinstance(node, dict):
        return _texts(node.get("props", {}).get("children")) if "props" in node else []
    return []


def _dashboard(client: FlaskClient, flag_id: str) -> dict[str, Any]:
    """The queue row, the detail text (without its history) and the map's hover of the flag."""
    rows = _callback(client, "flags-grid.rowData", {"flags-show-all.value": ["all"]})
    (row,) = rows["flags-grid"]["rowData"]
    detail = _callback(client, "flag-detail.children", {"flags-grid.selectedRows": [row]})
    text = _texts(detail["flag-detail"]["children"])
    text = text[: text.index("History")]  # history rows carry the run's wall-clock time
    spec = _callback(
        client,
        "map-spec.data",
        {
            "layer-toggles.value": ["flags"],
            "window-store.data": {"preset": "all", "start": None, "end": None},
            "hex-res.value": 8,
        },
    )
    traces = {t["uid"]: t for t in spec["map-spec"]["data"]["data"]}
    (hover,) = traces["flags-points"]["customdata"]
    assert row["id"] == hover[0] == flag_id  # public ids
    return {"row": row, "detail": text, "hover": hover}


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _api(clients: dict[str, Any]) -> dict[str, Any]:
    """Agency A's key: the flags layer from the export API and the OGC flags collection."""
    auth = {"Authorization": f"Bearer {clients['key']}"}
    export = clients["api"].get("/api/v1/export?layer=flags&format=csv", headers=auth)
    assert export.status_code == 200, export.get_data(as_text=True)[:300]
    ogc = clients["api"].get("/ogc/collections/flags/items?f=json", headers=auth)
    assert ogc.status_code == 200, ogc.get_data(as_text=True)[:300]
    (row,) = _csv_rows(export.get_data(as_text=True))
    (feature,) = ogc.get_json()["features"]
    return {"csv": row, "ogc": feature["properties"]}


def _briefing(engine: Engine, settings: Settings, viewer: Viewer) -> str:
    with session_scope(engine) as s:
        area_id, _ = upsert_area(
            s,
            {
                "kind": "region",
                "subtype": "test",
                "name": "Boston Harbor",
                "source_agency": settings.host_agency,
                "external_id": "harbor",
                "handling": "TLP:CLEAR",
                "geometry": "SRID=4326;MULTIPOLYGON(((-71.2 42.2,-70.8 42.2,-70.8 42.5,"
                "-71.2 42.5,-71.2 42.2)))",
            },
        )
    window = TimeWindow((UNTIL - pd.Timedelta(days=7)).to_pydatetime(), UNTIL.to_pydatetime())
    with session_scope(engine) as s:
        return build_briefing(
            session=s, viewer=viewer, area_id=area_id, window=window, tz=settings.timezone
        ).html


def _briefing_route(client: FlaskClient) -> str:
    week = (UNTIL - pd.Timedelta(days=7)).to_pydatetime(), UNTIL.to_pydatetime()
    state = ScreenState("custom", *week)
    resp = client.get(
        "/briefing/download", query_string={"format": "html", "state": state.to_json()}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_data(as_text=True)


def _flags_row(html: str) -> str:
    (row,) = re.findall(r"<h2>Open flags inside the area</h2>.*?</table>", html, re.S)
    return row


def _assert_withheld(view: dict[str, Any], api: dict[str, Any] | None = None) -> None:
    row, hover = view["row"], view["hover"]
    assert row["priority"] is None and row["q_value"] == "withheld"
    assert row["observed_expected"].endswith("/ withheld")
    assert hover[1] == "withheld" and STATISTICS_WITHHELD in hover[2]
    detail = " ".join(view["detail"])
    assert STATISTICS_WITHHELD in detail
    assert "expected" not in detail and "q =" not in detail and "priority" not in detail
    if api is not None:
        for source in (api["csv"], api["ogc"]):
            assert all(source[c] in ("", None) for c in STAT_COLUMNS), source
            assert source["statistics"] == STATISTICS_WITHHELD
            assert STATISTICS_WITHHELD in source["summary"] and "expected" not in source["summary"]


def _assert_shown(view: dict[str, Any], flag: dict[str, Any]) -> None:
    row = view["row"]
    assert row["priority"] == round(flag["priority"], 1)
    assert row["q_value"] == f"{flag['q_value']:.2g}"
    assert row["observed_expected"] == f"{flag['observed']} / {flag['expected']:.1f}"
    assert f"q = {flag['q_value']:.2g}" in " ".join(view["detail"])
    assert STATISTICS_WITHHELD not in json.dumps(view)


def test_red_baseline_of_another_agency_withholds_the_statistics(
    engine: Engine, settings: Settings, clients: dict[str, Any]
) -> None:
    """The attack replayed: B's hidden RED baseline may no longer move what A (or staff) read."""
    _green_world(engine)
    _add_red_baseline(engine)
    flag = _detect_afresh(engine, settings)
    flag_id = str(flag["id"])
    # Partner A sees the flag (GREEN, built from its own reports) but not its statistics.
    view = _dashboard(clients["partner-a"], flag_id)
    api = _api(clients)
    _assert_withheld(view, api)
    assert view["row"]["observed_expected"].startswith(f"{flag['observed']} /")
    assert STATISTICS_WITHHELD in _flags_row(_briefing(engine, settings, PARTNER_A))
    # Center staff may not see B's RED either: withheld in the queue, the export, the briefing.
    staff = clients["analyst"]
    _assert_withheld(_dashboard(staff, flag_id))
    state = ScreenState("all").to_json()
    export = staff.get("/export/download", query_string={"layer": "flags", "format": "geojson",
                                                         "state": state})  # fmt: skip
    assert export.status_code == 200
    (feature,) = json.loads(export.get_data())["features"]
    assert all(feature["properties"][c] is None for c in STAT_COLUMNS)
    assert feature["properties"]["statistics"] == STATISTICS_WITHHELD
    briefing = _flags_row(_briefing_route(staff))
    assert STATISTICS_WITHHELD in briefing and f"{flag['priority']:.1f}" not in briefing
    # Agency B may see every report the run read: its partner gets the figures.
    _assert_shown(_dashboard(clients["partner-b"], flag_id), flag)


def test_nothing_partner_a_reads_depends_on_the_hidden_red_reports(
    engine: Engine, settings: Settings, clients: dict[str, Any]
) -> None:
    """With, and without, B's RED baseline: partner A's every answer is the same."""
    _green_world(engine)
    # Only what A may see: A reads the figures, the same as the system's.
    open_flag = _detect_afresh(engine, settings)
    _assert_shown(_dashboard(clients["partner-a"], str(open_flag["id"])), open_flag)
    assert float(_api(clients)["csv"]["expected"]) == pytest.approx(open_flag["expected"])
    # B's AMBER far away: the run holds something A may not see, so A's figures are withheld.
    amber = sc.plant(*FAR, n=5, until=UNTIL, seed=11, days=40)
    _events(engine, amber, prefix="b-amber", source=AGENCY_B, handling="TLP:AMBER")
    answers = []
    flags = []
    for add_red in (False, True):
        if add_red:
            _add_red_baseline(engine)
        flag = _detect_afresh(engine, settings)
        flags.append(flag)
        view = _dashboard(clients["partner-a"], str(flag["id"]))
        api = _api(clients)
        _assert_withheld(view, api)
        briefing = _flags_row(_briefing(engine, settings, PARTNER_A))
        answers.append(_normalised(view, api, briefing, str(flag["id"])))
    # The RED baseline moves the figures of the run (what the attack read before)...
    without, with_red = flags
    assert with_red["expected"] != pytest.approx(without["expected"])
    assert with_red["q_value"] != pytest.approx(without["q_value"])
    # ...and nothing partner A receives.
    assert answers[0] == answers[1]


def _normalised(view: dict[str, Any], api: dict[str, Any], briefing: str, flag_id: str) -> str:
    """Everything partner A received, with the flag's id (new on every run) blanked."""
    view["row"].pop("id")
    view["hover"][0] = None
    view["detail"] = [t.replace(f"Flag {flag_id} ", "Flag ID ") for t in view["detail"]]
    for source in api.values():
        assert str(source.pop("id")) == flag_id
    briefing = briefing.replace(f'<td class="n">{flag_id}</td>', "<td>ID</td>", 1)
    return json.dumps({"view": view, "api": api, "briefing": briefing}, sort_keys=True)


def test_flags_stored_before_inputs_were_recorded_withhold_until_detection_refreshes(
    engine: Engine, settings: Settings
) -> None:
    """A flag without recorded inputs shows its figures to no one but the system, until a run."""
    _green_world(engine)
    flag = _detect_afresh(engine, settings)
    with session_scope(engine) as s:  # as stored by the code before the rule
        stored = s.execute(select(Flag)).scalar_one()
        explanation = json.loads(stored.explanation)
        del explanation["inputs"]
        stored.explanation = json.dumps(explanation)
    with session_scope(engine) as s:
        staff = flag_rows(session=s, viewer=OFFICER)
        alerts = flag_alerts(session=s, viewer=OFFICER, since=None)
        assert flag_rows(session=s, viewer=SYSTEM).iloc[0]["priority"] == flag["priority"]
    assert staff["priority"].isna().all() and staff.iloc[0]["statistics"] == STATISTICS_WITHHELD
    assert [a.priority for a in alerts] == [None]
    # The next run over the flag's window records its inputs: the figures come back.
    assert run_detection(engine, settings, until=UNTIL.to_pydatetime()).unchanged == 1
    with session_scope(engine) as s:
        staff = flag_rows(session=s, viewer=OFFICER)
        history = s.execute(select(FlagHistory.action)).scalars().all()
    assert staff.iloc[0]["priority"] == flag["priority"] and history == ["detected"]

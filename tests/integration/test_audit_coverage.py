"""Every audited action of issue #6 really writes an entry: one test per action, read from the log.

Sign-ins, views of event details, filters applied, exports, flag changes, imports (dashboard,
command line, API), user changes and key changes; each entry with time, user, agency, action,
object and outcome.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from analytics.cells import cells_to_parent, cells_to_str
from domain.roles import Viewer
from security.users import add_user, change_password, reset_password, set_disabled
from settings import Settings, get_settings
from store.engine import session_scope
from store.flag_writes import upsert_flags
from store.models import AuditEntry, Flag, User
from testkit.factories import raw_events
from testkit.security_kit import (
    AGENCY_A,
    PASSWORD,
    callback_payload,
    event_frame,
    flag_candidate,
    make_users,
    sign_in,
)

ORIGIN = {"Origin": "http://localhost"}


def _log(engine: Engine, action: str) -> list[dict[str, Any]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).scalars()
        return [
            {
                "at": r.at,
                "user": r.username,
                "agency": r.agency,
                "object": r.object,
                "outcome": r.outcome,
                "details": json.loads(r.details) if r.details else {},
            }
            for r in rows
        ]


def _post(client: FlaskClient, output: str, values: dict[str, Any], changed: str = "") -> Any:
    deps = client.get("/_dash-dependencies").get_json()
    payload = callback_payload(next(c for c in deps if output in c["output"]), values)
    payload["changedPropIds"] = [changed] if changed else []
    return client.post("/_dash-update-component", json=payload, headers=ORIGIN)


@pytest.fixture()
def analyst(engine: Engine, settings: Settings) -> FlaskClient:
    from app import create_app

    make_users(engine, settings, ("analyst",))
    client = create_app(settings).server.test_client()
    assert sign_in(client, "analyst") == 302
    return client


@pytest.fixture()
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import manage

    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield manage
    get_settings.cache_clear()


def _events(engine: Engine, settings: Settings) -> pd.DataFrame:
    from data_loaders.ingest import ingest_table
    from data_loaders.profiles import load_profile

    profile = load_profile("bpd_incidents").model_copy(
        update={"name": "audit", "source": AGENCY_A, "handling": "TLP:GREEN"}
    )
    ingest_table(
        engine,
        raw_events(30, seed=5),
        profile,
        origin="a.csv",
        sha256=None,
        area=None,
        store_res=settings.h3_store_res,
    )
    return event_frame(engine)


def test_sign_ins_success_and_failure(
    engine: Engine, settings: Settings, analyst: FlaskClient
) -> None:
    assert sign_in(analyst, "analyst", "wrong password!") == 401
    entries = _log(engine, "signin")
    assert [(e["user"], e["agency"], e["object"], e["outcome"]) for e in entries] == [
        ("analyst", settings.host_agency, "analyst", "ok"),
        ("analyst", settings.host_agency, "analyst", "denied"),
    ]
    assert entries[1]["details"] == {"reason": "wrong password"}
    assert all(e["at"] is not None for e in entries)


def test_views_of_event_details_and_filters_applied(
    engine: Engine, settings: Settings, analyst: FlaskClient
) -> None:
    frame = _events(engine, settings)
    with session_scope(engine) as s:
        upsert_flags(s, [flag_candidate(frame, "TLP:GREEN", "audited flag")], gap_s=3600.0)
        flag_id = s.execute(select(Flag.public_id)).scalar_one()
    window = {"preset": "all", "start": None, "end": None}
    # Filters: the map's layers, window and resolution; the flag queue's "show all".
    values = {"layer-toggles.value": ["hexes"], "window-store.data": window, "hex-res.value": 7}
    assert _post(analyst, "map-spec.data", values, "layer-toggles.value").status_code == 200
    (entry,) = _log(engine, "map.filter")
    assert entry["user"] == "analyst" and entry["details"]["res"] == 7
    assert entry["details"]["visible"] == ["hexes"] and entry["details"]["window"] == window
    shown = _post(
        analyst, "flags-grid.rowData", {"flags-show-all.value": ["all"]}, "flags-show-all.value"
    )
    assert shown.status_code == 200
    assert [e["details"] for e in _log(engine, "flags.filter")] == [{"show": "all"}]
    # Event details: a hexagon's events and a flag's explanation.
    cell = cells_to_str(np.array([int(cells_to_parent(frame["cell"].to_numpy()[:1], 6)[0])]))[0]
    click = {"points": [{"location": cell}]}
    values = {"map-graph.clickData": click, "window-store.data": window}
    assert _post(analyst, "cell-panel.hidden", values).status_code == 200
    (view,) = _log(engine, "cell.view")
    assert view["object"] == cell and view["details"]["events"] > 0
    selected = {"flags-grid.selectedRows": [{"id": flag_id}]}
    assert _post(analyst, "flag-detail.children", selected).status_code == 200
    assert [(e["object"], e["outcome"]) for e in _log(engine, "flag.view")] == [
        (str(flag_id), "ok")
    ]


def test_flag_changes(engine: Engine, settings: Settings, analyst: FlaskClient) -> None:
    frame = _events(engine, settings)
    with session_scope(engine) as s:
        upsert_flags(s, [flag_candidate(frame, "TLP:GREEN", "audited flag")], gap_s=3600.0)
        flag_id = s.execute(select(Flag.public_id)).scalar_one()
    values = {
        "flag-apply.n_clicks": 1,
        "flags-grid.selectedRows": [{"id": flag_id}],
        "flag-action.value": "acknowledge",
        "flags-version.data": 0,
    }
    assert _post(analyst, "flag-message.children", values).status_code == 200
    (entry,) = _log(engine, "flag.change")
    assert (entry["user"], entry["object"], entry["outcome"]) == ("analyst", str(flag_id), "ok")
    assert entry["details"]["action"] == "acknowledge"


def test_exports_record_filters_rows_and_format(
    engine: Engine, settings: Settings, cli: Any, tmp_path: Path
) -> None:
    _events(engine, settings)
    out = tmp_path / "incidents.csv"
    args = ["export", "--layer", "incidents", "--format", "csv", "-o", str(out)]
    assert cli.main([*args, "--since", "2023-01-01", "--user", "ana"]) == 0
    (entry,) = _log(engine, "export")
    assert (entry["user"], entry["object"]) == ("ana", str(out))
    details = entry["details"]
    assert details["format"] == "csv" and details["layers"] == ["incidents"]
    assert details["rows"]["incidents"] == len(pd.read_csv(out)) > 0
    assert details["filters"]["start_at"].startswith("2023-01-01")


def test_imports_from_the_dashboard_the_command_line_and_the_api(
    engine: Engine, settings: Settings, analyst: FlaskClient, cli: Any, tmp_path: Path
) -> None:
    from app import create_app
    from security.apikeys import create_key

    csv = raw_events(4, seed=9).frame.to_csv(index=False)
    contents = "data:text/csv;base64," + base64.b64encode(csv.encode()).decode()
    upload = {
        "upload-button.n_clicks": 1,
        "upload-file.contents": contents,
        "upload-file.filename": "partner.csv",
        "upload-kind.value": "incident",
    }
    missing_source = _post(analyst, "upload-summary.children", upload)
    assert missing_source.status_code == 200
    source = {"upload-source.value": settings.host_agency}  # the analyst's own agency
    ok = _post(analyst, "upload-summary.children", {**upload, **source})
    assert ok.status_code == 200
    path = tmp_path / "cli.csv"
    path.write_text(raw_events(3, seed=10).frame.to_csv(index=False))
    args = ["ingest", str(path), "--kind", "incident", "--source", "BPD", "--quiet", "--no-area"]
    assert cli.main(args) == 0
    with session_scope(engine) as s:
        key, stored = create_key(session=s, agency=AGENCY_A)
    api = create_app(settings).server.test_client()
    item = {"id": "x1", "occurred_at": "2023-02-01T10:00:00Z", "lat": 42.35, "lon": -71.06}
    item["category"] = "PHOTO"
    auth = {"Authorization": f"Bearer {key}"}
    assert api.post("/api/v1/events", json=[item], headers=auth).status_code == 201
    assert api.post("/api/v1/events", json=[{"id": "x2"}], headers=auth).status_code == 422
    entries = _log(engine, "import")
    got = [(e["user"], e["agency"], e["object"], e["outcome"]) for e in entries]
    assert got == [
        ("analyst", settings.host_agency, "partner.csv", "error"),
        ("analyst", settings.host_agency, "partner.csv", "ok"),
        ("system", Viewer.system().agency, path.name, "ok"),
        (f"apikey:{stored.prefix}", AGENCY_A, "api", "ok"),
        (f"apikey:{stored.prefix}", AGENCY_A, "api", "error"),
    ]
    assert entries[1]["details"]["inserted"] == 4
    assert entries[2]["details"]["rows_read"] == 3
    assert entries[3]["details"]["inserted"] == 1


def test_user_changes(engine: Engine, settings: Settings) -> None:
    admin = Viewer.system()
    with session_scope(engine) as s:
        add_user(
            session=s, actor=admin, username="pat", role="partner", agency="Y", password=PASSWORD
        )
        set_disabled(session=s, actor=admin, username="pat", disabled=True)
        set_disabled(session=s, actor=admin, username="pat", disabled=False)
        otp = reset_password(session=s, actor=admin, username="pat")
        user = s.execute(select(User).where(User.username == "pat")).scalar_one()
        assert change_password(session=s, user=user, current=otp, new="another long phrase") is None
        assert change_password(session=s, user=user, current=otp, new="x") is not None
    for action in ("user.add", "user.disable", "user.enable", "user.reset"):
        (entry,) = _log(engine, action)
        assert (entry["user"], entry["object"], entry["outcome"]) == ("system", "pat", "ok")
    changes = _log(engine, "user.password")
    assert [(e["user"], e["outcome"]) for e in changes] == [("pat", "ok"), ("pat", "denied")]


def test_key_changes(engine: Engine, cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["apikeys", "create", AGENCY_A, "--label", "feed", "--json"]) == 0
    prefix = json.loads(capsys.readouterr().out.splitlines()[-1])["prefix"]
    assert cli.main(["apikeys", "revoke", prefix]) == 0
    assert cli.main(["apikeys", "revoke", "nosuchkey"]) == 1
    (added,) = _log(engine, "key.add")
    assert (added["object"], added["details"]) == (prefix, {"agency": AGENCY_A, "label": "feed"})
    revoked = _log(engine, "key.revoke")
    assert [(e["object"], e["outcome"]) for e in revoked] == [
        (prefix, "ok"),
        ("nosuchkey", "error"),
    ]

"""Finding 1 (High): an import may only create or change records its importer may see.

Red-team replay: an analyst of the host agency named another agency as the source of a
one-row upload and overwrote, and downgraded, that agency's TLP:RED record. Here agency A has
delegated its imports to the center (``WATCHFLOOR_IMPORT_DELEGATIONS``), and holds a TLP:RED
event, an LES event and a TLP:RED site. Every channel (the upload panel's real callback,
``manage.py ingest --as USER``, the partner API) goes through the same rule, on both backends.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from data_loaders.ingest import ingest_table
from data_loaders.readers import RawTable
from data_loaders.recognize import auto_profile
from rules.write_rights import NOT_WRITABLE, NOT_WRITABLE_DETAIL
from security.apikeys import create_key
from settings import Settings, get_settings
from store.engine import session_scope
from store.models import AuditEntry, Event, IngestBatch, QuarantinedRow, Site
from testkit.security_kit import AGENCY_A, AGENCY_B, callback_payload, make_users, sign_in

ORIGIN = {"Origin": "http://localhost"}
# Agency A's records as first stored (by the system: A's own feed).
SECRET_TEXT = "A-ONLY: informant meeting at the pier"
A_EVENTS = pd.DataFrame(
    {
        "id": ["R-1", "L-1"],
        "occurred_at": ["2023-02-01T10:00:00Z", "2023-02-02T10:00:00Z"],
        "lat": ["42.3500", "42.3600"],
        "lon": ["-71.0600", "-71.0500"],
        "category": ["SURVL", "PHOTO"],
        "description": [SECRET_TEXT, "photographing the gate"],
    }
)
A_CAVEATS = {"R-1": "TLP:RED", "L-1": "LES"}
# The attacker's row: same id, another time, place, text (and the upload's caveat, TLP:AMBER).
FORGED = {
    "occurred_at": "2023-03-01T12:00:00Z",
    "lat": "42.3000",
    "lon": "-71.1000",
    "category": "PHOTO",
    "description": "overwritten by the importer",
}


def _table(frame: pd.DataFrame) -> RawTable:
    return RawTable(frame=frame.reset_index(drop=True).astype(str))


def _seed(engine: Engine, settings: Settings) -> None:
    """Agency A's RED and LES events and its RED site, stored by the system (A's own feed)."""
    for ext, caveat in A_CAVEATS.items():
        table = _table(A_EVENTS[A_EVENTS["id"] == ext])
        profile = auto_profile(table, kind="suspicious", source=AGENCY_A).model_copy(
            update={"handling": caveat, "name": f"seed-{ext}"}
        )
        summary = ingest_table(
            engine, table, profile, origin="a.csv", sha256=None, area=None, store_res=11
        )
        assert summary.inserted == 1
    site = _table(pd.DataFrame({"id": ["S-1"], "name": ["A's vault"], "lat": ["42.35"]}))
    site.frame["lon"] = "-71.06"
    profile = auto_profile(site, kind="site", source=AGENCY_A, sector="Energy").model_copy(
        update={"handling": "TLP:RED", "name": "seed-site"}
    )
    assert (
        ingest_table(engine, site, profile, origin="s.csv", sha256=None, area=None, store_res=11)
    ).inserted == 1


@pytest.fixture()
def delegated(engine: Engine, settings: Settings) -> Settings:
    """Settings of a center to which agency A (not B) has delegated its imports; A's records."""
    delegated = settings.model_copy(update={"import_delegations": [AGENCY_A]})
    _seed(engine, delegated)
    make_users(engine, delegated, ("analyst",))
    return delegated


@pytest.fixture()
def analyst(delegated: Settings) -> FlaskClient:
    from app import create_app

    client = create_app(delegated).server.test_client()
    assert sign_in(client, "analyst") == 302
    return client


def _upload(
    client: FlaskClient, csv: str, *, source: str | None, kind: str = "suspicious", name: str
) -> dict[str, Any]:
    deps = client.get("/_dash-dependencies").get_json()
    cb = next(c for c in deps if "upload-summary.children" in c["output"])
    contents = "data:text/csv;base64," + base64.b64encode(csv.encode()).decode()
    values = {
        "upload-button.n_clicks": 1,
        "upload-file.contents": contents,
        "upload-file.filename": name,
        "upload-kind.value": kind,
        "upload-source.value": source,
    }
    resp = client.post("/_dash-update-component", json=callback_payload(cb, values), headers=ORIGIN)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["response"]  # type: ignore[no-any-return]


def _event(engine: Engine, ext: str) -> dict[str, Any]:
    with session_scope(engine) as s:
        e = s.execute(
            select(Event).where(Event.source_agency == AGENCY_A, Event.external_id == ext)
        ).scalar_one()
        return {
            "handling": e.handling,
            "description": e.description,
            "occurred_at": e.occurred_at,
            "lon": round(e.lon, 6),
            "lat": round(e.lat, 6),
            "batch_id": e.batch_id,
        }


def _batch(engine: Engine, batch_id: int) -> tuple[Any, list[tuple[str, str | None]]]:
    with session_scope(engine) as s:
        b = s.get(IngestBatch, batch_id)
        assert b is not None
        counts = (b.rows_read, b.inserted, b.updated, b.unchanged, b.quarantined)
        rows = s.execute(
            select(QuarantinedRow.reason, QuarantinedRow.detail).where(
                QuarantinedRow.batch_id == batch_id
            )
        ).all()
        return counts, [tuple(r) for r in rows]  # type: ignore[misc]


def _forged(ext: str) -> str:
    return pd.DataFrame([{"id": ext, **FORGED}]).to_csv(index=False)


def test_a_delegated_upload_cannot_touch_a_record_its_importer_may_not_see(
    engine: Engine, analyst: FlaskClient
) -> None:
    before = _event(engine, "R-1")
    answer = _upload(analyst, _forged("R-1"), source=AGENCY_A, name="one-row.csv")
    batch_id = answer["upload-batch"]["data"]
    assert _event(engine, "R-1") == before  # time, place, text and TLP:RED all kept
    counts, quarantined = _batch(engine, batch_id)
    assert counts == (1, 0, 0, 0, 1)
    assert quarantined == [(NOT_WRITABLE, NOT_WRITABLE_DETAIL)]
    # The panel says nothing of the hidden record: no "updated", no caveat, none of its text.
    shown = json.dumps(answer["upload-summary"])
    assert SECRET_TEXT not in shown and "TLP:RED" not in shown
    assert '"upload-count-updated"' in shown  # the count is there, and it is 0
    # The quarantine download of the importer's own batch holds only the importer's own row.
    deps = analyst.get("/_dash-dependencies").get_json()
    cb = next(c for c in deps if "upload-download.data" in c["output"])
    values = {"upload-quarantine-button.n_clicks": 1, "upload-batch.data": batch_id}
    got = analyst.post(
        "/_dash-update-component", json=callback_payload(cb, values), headers=ORIGIN
    ).get_data(as_text=True)
    assert "overwritten by the importer" in got and SECRET_TEXT not in got


def test_a_delegate_changes_what_it_sees_but_never_lowers_a_caveat(
    engine: Engine, analyst: FlaskClient, delegated: Settings
) -> None:
    answer = _upload(analyst, _forged("L-1"), source=AGENCY_A, name="update.csv")
    counts, _ = _batch(engine, answer["upload-batch"]["data"])
    assert counts == (1, 0, 1, 0, 0)
    after = _event(engine, "L-1")
    assert after["description"] == FORGED["description"]
    assert after["handling"] == "LES"  # the upload said TLP:AMBER: the stricter caveat stays
    # The same file again changes nothing.
    again = _upload(analyst, _forged("L-1"), source=AGENCY_A, name="update.csv")
    assert _batch(engine, again["upload-batch"]["data"])[0] == (1, 0, 0, 1, 0)
    # The owner (A's own key) may lower its caveat: the API's rows are TLP:AMBER.
    from app import create_app

    with session_scope(engine) as s:
        key, _ = create_key(session=s, agency=AGENCY_A)
    item = {"id": "L-1", **FORGED, "description": "A lowers its own caveat"}
    api = create_app(delegated).server.test_client()
    resp = api.post("/api/v1/events", json=[item], headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 201 and resp.get_json()["updated"] == 1
    assert _event(engine, "L-1")["handling"] == "TLP:AMBER"


def test_the_source_is_one_of_the_importers_own_list(
    engine: Engine, analyst: FlaskClient, delegated: Settings
) -> None:
    component = _component(analyst.get("/_dash-layout").get_json(), "upload-source")
    assert component["type"] == "Dropdown"
    assert [o["value"] for o in component["props"]["options"]] == [
        delegated.host_agency,
        AGENCY_A,
    ]
    with session_scope(engine) as s:
        before = s.execute(select(func.count()).select_from(Event)).scalar_one()
    answer = _upload(analyst, _forged("B-1"), source=AGENCY_B, name="b.csv")
    assert "may not import for 'AGENCY-B'" in json.dumps(answer["upload-summary"])
    assert answer["upload-batch"]["data"] is None
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(Event)).scalar_one() == before
        outcome = s.execute(
            select(AuditEntry.outcome).where(AuditEntry.action == "import")
        ).scalar_one()
    assert outcome == "error"


def _component(node: Any, cid: str) -> Any:
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == cid:
            return node
        for value in node.get("props", {}).values():
            if (found := _component(value, cid)) is not None:
                return found
    if isinstance(node, list):
        for item in node:
            if (found := _component(item, cid)) is not None:
                return found
    return None


@pytest.fixture()
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import manage

    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    monkeypatch.setenv("WATCHFLOOR_IMPORT_DELEGATIONS", AGENCY_A)
    get_settings.cache_clear()
    yield manage
    get_settings.cache_clear()


def test_the_command_line_as_a_user_follows_the_same_rule(
    engine: Engine, delegated: Settings, cli: Any, tmp_path: Path
) -> None:
    before = _event(engine, "R-1")
    path = tmp_path / "cli.csv"
    path.write_text(_forged("R-1"))
    args = ["ingest", str(path), "--kind", "suspicious", "--quiet", "--no-area", "--json"]
    assert cli.main([*args, "--source", AGENCY_A, "--as", "analyst"]) == 0
    assert _event(engine, "R-1") == before
    assert cli.main([*args, "--source", AGENCY_B, "--as", "analyst"]) != 0
    with session_scope(engine) as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "import")).scalar_one()
    assert (entry.username, entry.object) == ("analyst", "cli.csv")
    assert json.loads(entry.details or "{}")["reasons"] == {NOT_WRITABLE: 1}
    # The operator (no --as) is the system, and may.
    assert cli.main([*args, "--source", AGENCY_A]) == 0
    assert _event(engine, "R-1")["description"] == FORGED["description"]


def test_sites_take_the_same_path(engine: Engine, analyst: FlaskClient) -> None:
    csv = "id,name,lat,lon,sector\nS-1,renamed by the importer,42.30,-71.10,Energy\n"
    answer = _upload(analyst, csv, source=AGENCY_A, kind="site", name="sites.csv")
    counts, quarantined = _batch(engine, answer["upload-batch"]["data"])
    assert counts == (1, 0, 0, 0, 1)
    assert quarantined == [(NOT_WRITABLE, NOT_WRITABLE_DETAIL)]
    with session_scope(engine) as s:
        site = s.execute(select(Site).where(Site.external_id == "S-1")).scalar_one()
        assert (site.name, site.handling) == ("A's vault", "TLP:RED")


def test_the_import_audit_commits_or_rolls_back_with_its_batch(
    engine: Engine, analyst: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import data_loaders.ingest as ingest

    real = ingest.record

    def record_then_crash(**kwargs: Any) -> Any:
        real(**kwargs)
        raise RuntimeError("crash after the audit entry, before the commit")

    monkeypatch.setattr(ingest, "record", record_then_crash)
    with session_scope(engine) as s:
        batches = s.execute(select(func.count()).select_from(IngestBatch)).scalar_one()
    with pytest.raises(RuntimeError):
        ingest.ingest_table(
            engine,
            _table(pd.DataFrame([{"id": "N-1", **FORGED}])),
            auto_profile(_table(A_EVENTS), kind="suspicious", source=AGENCY_A),
            origin="crash.csv",
            sha256=None,
            area=None,
            store_res=11,
            importer=_viewer("analyst"),
            channel="test",
        )
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(IngestBatch)).scalar_one() == batches
        assert not s.execute(select(AuditEntry).where(AuditEntry.object == "crash.csv")).all()
        assert not s.execute(select(Event).where(Event.external_id == "N-1")).all()


def _viewer(name: str) -> Any:
    from domain.roles import Role, Viewer

    return Viewer(name, Role.ANALYST, "MA-CFC")

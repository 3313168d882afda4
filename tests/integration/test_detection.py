"""Detection end to end on both backends: flags persist, evolve, obey visibility and follow-up."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from analytics.cells import points_to_cells
from domain.roles import Role, Viewer
from jobs.detection import run_detection
from settings import Settings
from store.engine import session_scope
from store.flag_writes import (
    FlagNotFound,
    FlagTransitionError,
    add_note,
    change_status,
    snooze,
)
from store.models import Flag, FlagHistory
from store.queries.flags import flag_detail, flag_rows
from store.writes import finish_batch, start_batch, upsert_events, upsert_sites
from testkit import detection_scenarios as sc

UNTIL = pd.Timestamp("2023-05-01", tz="UTC")
LOGAN = (42.3656, -71.0096)
CENTER = Viewer("officer", Role.WATCH_OFFICER, "MA-CFC")
MSP = Viewer("trooper", Role.PARTNER, "MSP")
SYSTEM = Viewer.system()


def _store(engine: Engine, frame: pd.DataFrame, *, kind: str, source: str) -> None:
    with session_scope(engine) as s:
        batch = start_batch(
            s, source_agency=source, kind=kind, origin="test", content_sha256=None, profile=None
        )
        upsert = upsert_sites if kind == "site" else upsert_events
        counts = upsert(s, frame, source_agency=source, batch_id=batch.id)
        finish_batch(s, batch, rows_read=len(frame), counts=counts, quarantined=0)


def _sites(engine: Engine) -> None:
    frame = pd.DataFrame(
        {
            "external_id": ["logan", "plant"],
            "name": ["Logan International", "Far power plant"],
            "sector": ["Transportation Systems", "Energy"],
            "subtype": [None, None],
            "tier": [1, 2],
            "address": [None, None],
            "handling": ["TLP:CLEAR", "TLP:CLEAR"],
            "lon": [LOGAN[1], -72.9],
            "lat": [LOGAN[0], 42.6],
        }
    )
    frame["cell"] = points_to_cells(frame["lat"], frame["lon"], 11)
    frame["content_hash"] = [hashlib.sha256(e.encode()).hexdigest() for e in frame.external_id]
    _store(engine, frame, kind="site", source="TEST")


def _events(engine: Engine, frame: pd.DataFrame, *, prefix: str, source: str = "BPD") -> None:
    rows = sc.with_ids(frame, prefix=prefix)
    _store(engine, sc.canonical(rows), kind="event", source=source)


def _world(engine: Engine, *, planted: int = 10, handling: str = "TLP:GREEN") -> None:
    _sites(engine)
    _events(engine, sc.background(6_000, seed=31, start="2023-01-01", days=120), prefix="bg")
    if planted:
        burst = sc.plant(*LOGAN, n=planted, until=UNTIL, seed=5).assign(handling=handling)
        _events(engine, burst, prefix="burst", source="MSP" if handling == "TLP:RED" else "BPD")


def _flags(engine: Engine, viewer: Viewer = SYSTEM) -> pd.DataFrame:
    with session_scope(engine) as s:
        return flag_rows(session=s, viewer=viewer)


def test_planted_cluster_is_flagged_once_and_rerun_is_idempotent(
    engine: Engine, settings: Settings
) -> None:
    _world(engine)
    first = run_detection(engine, settings, until=UNTIL.to_pydatetime())
    assert (first.created, first.candidates) == (1, 1)
    flags = _flags(engine)
    assert len(flags) == 1
    row = flags.iloc[0]
    assert row["site_name"] == "Logan International" and row["status"] == "new"
    assert row["observed"] >= 10 > row["expected"]
    again = run_detection(engine, settings, until=UNTIL.to_pydatetime())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Flag)) == 1
        assert s.scalar(select(func.count()).select_from(FlagHistory)) == 1
        detail = flag_detail(session=s, viewer=SYSTEM, flag_id=row["id"])
    assert detail is not None
    ex = detail["explanation"]
    assert ex["sites"][0]["distance_m"] <= ex["sites"][0]["radius_m"]
    assert len(detail["event_ids"]) == ex["observed"] == row["observed"]


def test_quiet_on_pure_background(engine: Engine, settings: Settings) -> None:
    _world(engine, planted=0)
    report = run_detection(
        engine,
        settings,
        since=(UNTIL - pd.Timedelta(weeks=6)).to_pydatetime(),
        until=UNTIL.to_pydatetime(),
    )
    assert len(report.windows) == 6 and report.tests > 0
    assert report.candidates == 0 and _flags(engine).empty


def test_grown_cluster_updates_flag_keeps_history_and_closed_flag_reopens(
    engine: Engine, settings: Settings
) -> None:
    _world(engine)
    run_detection(engine, settings, until=UNTIL.to_pydatetime())
    flag_id = str(_flags(engine).iloc[0]["id"])
    later = UNTIL + pd.Timedelta(days=1)
    _events(engine, sc.plant(*LOGAN, n=4, until=later, seed=6, days=0.9), prefix="grow")
    grown = run_detection(engine, settings, until=later.to_pydatetime())
    assert (grown.created, grown.updated) == (0, 1)
    with session_scope(engine) as s:
        change_status(
            session=s, flag_id=flag_id, viewer=CENTER, status="closed", disposition="benign"
        )
    assert run_detection(engine, settings, until=later.to_pydatetime()).unchanged == 1
    assert _flags(engine).iloc[0]["status"] == "closed"
    recur = later + pd.Timedelta(days=1)
    _events(engine, sc.plant(*LOGAN, n=5, until=recur, seed=7, days=0.9), prefix="again")
    assert run_detection(engine, settings, until=recur.to_pydatetime()).reopened == 1
    with session_scope(engine) as s:
        detail = flag_detail(session=s, viewer=SYSTEM, flag_id=flag_id)
    assert detail is not None
    assert detail["status"] == "new" and detail["recurrences"] == 1
    assert [h["action"] for h in detail["history"]] == ["detected", "updated", "status", "reopened"]
    assert len(_flags(engine)) == 1


def test_flag_from_restricted_events_is_hidden_from_who_may_not_see_them(
    engine: Engine, settings: Settings
) -> None:
    _world(engine, handling="TLP:RED")
    run_detection(engine, settings, until=UNTIL.to_pydatetime())
    flags = _flags(engine)
    assert len(flags) == 1 and flags.iloc[0]["handling"] == "TLP:RED"
    assert _flags(engine, CENTER).empty
    assert len(_flags(engine, MSP)) == 1
    flag_id = str(flags.iloc[0]["id"])
    with session_scope(engine) as s, pytest.raises(FlagNotFound):
        add_note(session=s, flag_id=flag_id, viewer=CENTER, note="peek")
    with session_scope(engine) as s:
        assert flag_detail(session=s, viewer=CENTER, flag_id=flag_id) is None


def test_follow_up_records_who_and_when(engine: Engine, settings: Settings) -> None:
    _world(engine)
    run_detection(engine, settings, until=UNTIL.to_pydatetime())
    flag_id = str(_flags(engine).iloc[0]["id"])
    with session_scope(engine) as s:
        with pytest.raises(FlagTransitionError, match="assignee"):
            change_status(session=s, flag_id=flag_id, viewer=CENTER, status="assigned")
        change_status(session=s, flag_id=flag_id, viewer=CENTER, status="acknowledged")
        change_status(
            session=s, flag_id=flag_id, viewer=CENTER, status="assigned", assignee="analyst1"
        )
        add_note(session=s, flag_id=flag_id, viewer=CENTER, note="called airport police")
        with pytest.raises(FlagTransitionError, match="disposition"):
            change_status(session=s, flag_id=flag_id, viewer=CENTER, status="closed")
        with pytest.raises(FlagTransitionError, match="not allowed"):
            change_status(session=s, flag_id=flag_id, viewer=CENTER, status="new")
    now = UNTIL.to_pydatetime()
    with session_scope(engine) as s:
        snooze(session=s, flag_id=flag_id, viewer=CENTER, until=now + timedelta(hours=4))
    with session_scope(engine) as s:
        assert flag_rows(session=s, viewer=CENTER, now=now).empty
        assert len(flag_rows(session=s, viewer=CENTER, now=now + timedelta(hours=5))) == 1
        detail = flag_detail(session=s, viewer=CENTER, flag_id=flag_id)
    assert detail is not None and detail["assignee"] == "analyst1"
    history = detail["history"]
    assert [h["action"] for h in history] == ["detected", "status", "status", "note", "snooze"]
    assert {h["actor"] for h in history[1:]} == {"officer"}
    assert history[2]["to_status"] == "assigned" and history[3]["note"] == "called airport police"
    assert all(h["at"] is not None for h in history)


def test_manage_detect_json(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import manage
    from settings import get_settings

    _world(engine)
    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        code = manage.main(["detect", "--until", "2023-05-01T00:00:00", "--json"])
    finally:
        get_settings.cache_clear()
    assert code == 0
    assert len(_flags(engine)) == 1


def test_manage_detect_output_is_json(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import manage
    from settings import get_settings

    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        code = manage.main(["detect", "--since", "2023-04-01", "--dry-run", "--json"])
    finally:
        get_settings.cache_clear()
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["created"] == 0 and payload["parameters"]["res"] == 9

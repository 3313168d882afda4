"""Ingest on real databases: exact demo counts, idempotency, history, crash safety."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from data_loaders.demo import DEMO_DIR, seed_demo
from data_loaders.ingest import ingest_table
from data_loaders.profiles import load_profile
from data_loaders.readers import RawTable
from settings import Settings
from store.engine import session_scope
from store.models import Event, EventRevision, IngestBatch, QuarantinedRow, Site
from testkit.factories import raw_events

SUSPICIOUS_OFFENCES = [
    "INVESTIGATE PERSON",
    "THREATS TO DO BODILY HARM",
    "HARASSMENT/ CRIMINAL HARASSMENT",
    "INVESTIGATE PROPERTY",
    "WEAPON VIOLATION - CARRY/ POSSESSING/ SALE/ TRAFFICKING/ OTHER",
    "FIREARM/WEAPON - FOUND OR CONFISCATED",
    "BOMB THREAT",
]


def _count(engine: Engine, stmt) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return int(s.execute(stmt).scalar_one())


def _ingest(engine: Engine, table: RawTable, settings: Settings):  # type: ignore[no-untyped-def]
    return ingest_table(
        engine,
        table,
        load_profile("bpd_incidents"),
        origin="test.csv",
        sha256=None,
        area=None,
        store_res=settings.h3_store_res,
    )


def test_demo_kit_loads_with_exact_counts(engine: Engine, settings: Settings) -> None:
    summaries = {s.origin: s for s in seed_demo(engine, settings)}
    boston = summaries["boston_crime_incidents_2023q1.csv"]
    assert (boston.rows_read, boston.inserted, boston.quarantined) == (14527, 12045, 2482)
    assert boston.reasons == {"missing_coordinates": 2482}
    for s in summaries.values():
        assert s.rows_read == s.inserted + s.updated + s.unchanged + s.quarantined
    by_kind = dict(_rows(engine, select(Event.kind, func.count()).group_by(Event.kind)))
    # Reference straight from the file: the seven suspicious offence types, geolocated rows.
    raw = pd.read_csv(
        DEMO_DIR / "boston_crime_incidents_2023q1.csv", dtype=str, keep_default_na=False
    )
    located = raw[(raw["Lat"] != "") & (raw["Long"] != "")]
    n_suspicious = int(located["OFFENSE_DESCRIPTION"].isin(SUSPICIOUS_OFFENCES).sum())
    assert n_suspicious == 2594
    assert by_kind == {"suspicious": n_suspicious, "incident": 12045 - n_suspicious}
    sites = dict(
        _rows(engine, select(Site.source_agency, func.count()).group_by(Site.source_agency))
    )
    assert sites == {"HIFLD": 135, "EIA": 612, "FAA": 30, "MBTA": 170, "BPD": 13}
    assert _count(engine, select(func.count()).select_from(QuarantinedRow)) == sum(
        s.quarantined for s in summaries.values()
    )
    # A second run loads nothing twice.
    again = seed_demo(engine, settings)
    assert all(s.already_loaded for s in again)
    assert _count(engine, select(func.count()).select_from(Event)) == 12045


def _rows(engine: Engine, stmt):  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return list(s.execute(stmt).all())


def test_reimport_changes_nothing_and_a_changed_row_keeps_history(
    engine: Engine, settings: Settings
) -> None:
    table = raw_events(300, seed=7)
    first = _ingest(engine, table, settings)
    assert (first.inserted, first.updated, first.unchanged) == (300, 0, 0)
    second = _ingest(engine, table, settings)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 300)

    changed = table.frame.copy()
    changed.loc[5, "OFFENSE_DESCRIPTION"] = "BOMB THREAT"
    changed.loc[5, "STREET"] = "ELSEWHERE ST"
    third = _ingest(engine, RawTable(frame=changed), settings)
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 299)
    with session_scope(engine) as s:
        event = s.execute(select(Event).where(Event.external_id == "T7-5")).scalar_one()
        assert event.location_text == "ELSEWHERE ST" and event.severity == 5
        revisions = (
            s.execute(select(EventRevision).where(EventRevision.event_id == event.id))
            .scalars()
            .all()
        )
        assert len(revisions) == 1
        assert json.loads(revisions[0].content)["location_text"] == "TEST ST"
    assert _count(engine, select(func.count()).select_from(Event)) == 300


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_land(
    engine: Engine, settings: Settings
) -> None:
    frame = raw_events(10, seed=3).frame
    frame.loc[0, "Lat"] = ""
    frame.loc[1, "Lat"] = "north"
    frame.loc[2, ["Lat", "Long"]] = ["0", "0"]
    frame.loc[3, "Lat"] = "195"  # out of range whichever way round
    frame.loc[4, "OCCURRED_ON_DATE"] = "not a date"
    soon = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=30)
    frame.loc[5, "OCCURRED_ON_DATE"] = soon.strftime("%Y-%m-%d %H:%M:%S+00")
    frame.loc[6, "INCIDENT_NUMBER"] = frame.loc[7, "INCIDENT_NUMBER"]
    summary = _ingest(engine, RawTable(frame=frame), settings)
    assert summary.reasons == {
        "missing_coordinates": 1,
        "bad_coordinates": 1,
        "null_island": 1,
        "out_of_range": 1,
        "bad_time": 1,
        "future_time": 1,
        "duplicate_in_file": 1,
    }
    assert (summary.inserted, summary.quarantined, summary.rows_read) == (3, 7, 10)
    with session_scope(engine) as s:
        rows = s.execute(select(QuarantinedRow).order_by(QuarantinedRow.row_number)).scalars().all()
        assert [r.row_number for r in rows] == [1, 2, 3, 4, 5, 6, 8]
        assert json.loads(rows[1].raw)["Lat"] == "north"


def test_a_crash_mid_batch_leaves_no_half_batch(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import data_loaders.ingest as ingest_mod

    def explode(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk on fire")

    # Fault injection after the events were written inside the open transaction.
    monkeypatch.setattr(ingest_mod, "add_quarantined", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _ingest(engine, raw_events(50, seed=1), settings)
    assert _count(engine, select(func.count()).select_from(Event)) == 0
    assert _count(engine, select(func.count()).select_from(IngestBatch)) == 0
    monkeypatch.undo()
    # Running the same import again finishes the job.
    summary = _ingest(engine, raw_events(50, seed=1), settings)
    assert summary.inserted == 50
    assert _count(engine, select(func.count()).select_from(Event)) == 50


def test_times_are_stored_in_utc(engine: Engine, settings: Settings) -> None:
    frame = raw_events(2, seed=2).frame
    frame.loc[0, "OCCURRED_ON_DATE"] = "2023-03-12 01:30:00"  # naive: Boston time, EST
    frame.loc[1, "OCCURRED_ON_DATE"] = "2023-03-12 03:30:00"  # naive: after the spring change, EDT
    _ingest(engine, RawTable(frame=frame), settings)
    with session_scope(engine) as s:
        got = dict(s.execute(select(Event.external_id, Event.occurred_at)).all())
    assert pd.Timestamp(got["T2-0"]) == pd.Timestamp("2023-03-12 06:30", tz="UTC")
    assert pd.Timestamp(got["T2-1"]) == pd.Timestamp("2023-03-12 07:30", tz="UTC")

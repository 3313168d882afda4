"""`manage.py replay`: a historic file fed as if live, through the normal ingest path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from data_loaders.cli import run_ingest
from data_loaders.replay import replay_file
from settings import Settings
from store.engine import session_scope
from store.models import Event
from testkit.factories import raw_events

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
N = 30


class FakeClock:
    """Monotonic time that only moves when the replay sleeps: no real waiting in tests."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.001)


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "bpd_history.csv"
    raw_events(N, seed=3).frame.to_csv(path, index=False)
    return path


def _stored(engine: Engine) -> pd.DataFrame:
    with session_scope(engine) as s:
        rows = s.execute(select(Event.external_id, Event.occurred_at, Event.source_agency)).all()
    return pd.DataFrame(rows, columns=["external_id", "occurred_at", "source"])


def test_replay_feeds_in_time_order_with_times_now_and_prefixed_ids(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    path = _file(tmp_path)
    clock = FakeClock()
    speed = 30 * 86_400 / 10  # the file's 30 days in 10 seconds
    report = replay_file(
        engine,
        settings,
        path,
        source="BPD",
        speed=speed,
        run="drill1",
        clock=clock,
        sleep=clock.sleep,
        now=lambda: NOW + timedelta(seconds=clock.t),
    )
    assert (report.events, report.inserted, report.quarantined) == (N, N, 0)
    assert 5 <= report.batches <= 15  # small batches over the run, not one import
    stored = _stored(engine)
    history = raw_events(N, seed=3).frame
    assert sorted(stored["external_id"]) == sorted(
        f"replay-drill1:{i}" for i in history["INCIDENT_NUMBER"]
    )
    at = pd.to_datetime(stored["occurred_at"], utc=True)
    assert at.min() >= NOW and at.max() <= NOW + timedelta(seconds=12)
    # Fed in historic order: the stored times keep the order of the original ones.
    original = pd.to_datetime(history["OCCURRED_ON_DATE"], utc=True)
    by_id = dict(zip("replay-drill1:" + history["INCIDENT_NUMBER"], original, strict=True))
    stored = stored.assign(original=stored["external_id"].map(by_id), at=at)
    ordered = stored.sort_values("original")["at"]
    assert ordered.is_monotonic_increasing


def test_replay_never_collides_with_real_records_or_doubles_a_run(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    path = _file(tmp_path)
    real, _ = run_ingest(engine, settings, path, kind="incident", source="BPD", show_progress=False)
    assert real.inserted == N
    for _ in range(2):  # the same run twice: the same records, updated, never doubled
        clock = FakeClock()
        report = replay_file(
            engine,
            settings,
            path,
            source="BPD",
            speed=1e9,
            run="drill2",
            clock=clock,
            sleep=clock.sleep,
            now=lambda: NOW,
        )
        assert report.events == N
    stored = _stored(engine)
    assert len(stored) == 2 * N  # the real N and the drill's N
    assert stored["external_id"].str.startswith("replay-drill2:").sum() == N

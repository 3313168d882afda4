"""`manage.py ingest` on both backends: a kill mid-import keeps nothing, re-runs finish the job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from data_loaders.ingest import BatchSummary, ingest_path, on_ingested, remove_hook
from data_loaders.profiles import load_profile
from store.engine import session_scope
from store.models import Event, IngestBatch
from testkit.synthetic import events as synthetic_events

ROOT = Path(__file__).resolve().parents[2]
N = 6_000


def _write_events(path: Path, n: int) -> None:
    frame = synthetic_events(n, seed=11)
    frame.insert(0, "event_id", [f"S{i}" for i in range(n)])
    frame["occurred_at"] = frame["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.to_csv(path, index=False)


def _cli(db_url: str, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "WATCHFLOOR_DATABASE_URL": db_url,
        "WATCHFLOOR_INGEST_CHUNK_ROWS": "500",
        "WATCHFLOOR_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _count(engine: Engine, model: type) -> int:
    with session_scope(engine) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_killed_import_leaves_no_half_batch_and_a_rerun_finishes(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    _write_events(path, N)
    args = ("ingest", str(path), "--kind", "suspicious", "--source", "SYN", "--json", "--no-area")
    proc = _cli(db_url, *args)
    assert proc.stderr is not None
    # Kill it once it has written a few chunks inside its open transaction.
    for line in proc.stderr:
        if "rows," in line and int(line.split(":")[1].split()[0].replace(",", "")) >= 1500:
            proc.send_signal(signal.SIGKILL)
            break
    proc.communicate(timeout=60)  # reap it and close its pipes
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    assert _count(engine, Event) == 0
    assert _count(engine, IngestBatch) == 0

    out, err = _cli(db_url, *args).communicate(timeout=300)
    first = json.loads(out)
    assert (first["rows_read"], first["inserted"], first["quarantined"]) == (N, N, 0), err
    out, _ = _cli(db_url, *args).communicate(timeout=300)
    again = json.loads(out)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, N)
    assert _count(engine, Event) == N
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # The R*Tree was rebuilt after the bulk load and holds every point.
            n_index = conn.execute(text("SELECT count(*) FROM idx_events_geometry")).scalar()
            assert n_index == N


def test_hooks_run_after_each_committed_batch(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    _write_events(path, 50)
    seen: list[BatchSummary] = []

    def broken(engine: Engine, summary: BatchSummary) -> None:
        raise RuntimeError("a failing hook never undoes the batch")

    hooks = [on_ingested(lambda engine, s: seen.append(s)), on_ingested(broken)]
    try:
        summary = ingest_path(
            engine, path, None, kind="incident", source="SYN", area=None, store_res=11
        )
    finally:
        for hook in hooks:
            remove_hook(hook)
    assert [s.batch_id for s in seen] == [summary.batch_id]
    assert _count(engine, Event) == 50


def test_the_boston_file_with_its_shipped_profile(engine: Engine) -> None:
    summary = ingest_path(
        engine,
        ROOT / "data" / "demo" / "boston_crime_incidents_2023q1.csv",
        load_profile("bpd_incidents"),
        area=None,
        store_res=11,
        chunk_rows=5000,  # three chunks: duplicates across chunks are still caught
    )
    assert (summary.rows_read, summary.inserted, summary.quarantined) == (14527, 12045, 2482)


@pytest.fixture(autouse=True)
def _no_leftover_hooks() -> None:
    from data_loaders import ingest

    before = list(ingest._HOOKS)
    yield
    assert before == ingest._HOOKS

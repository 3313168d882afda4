"""Detection runs by itself after an import that changes events (the ingest hook)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from data_loaders.demo import seed_demo
from data_loaders.ingest import ingest_table
from data_loaders.profiles import load_profile
from data_loaders.readers import RawTable
from domain.roles import Viewer
from jobs.detection import _DEBOUNCED, DebouncedDetection, enable_detection_after_ingest
from settings import Settings
from store.engine import session_scope
from store.models import Flag
from store.queries.flags import flag_rows

LOGAN = (42.3656, -71.0096)


def _planted(n: int, seed: int = 5) -> RawTable:
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2023-03-10", tz="UTC") + pd.to_timedelta(rng.uniform(0, 2 * 86400, n), "s")
    return RawTable(
        frame=pd.DataFrame(
            {
                "INCIDENT_NUMBER": [f"PLANT-{i}" for i in range(n)],
                "OFFENSE_DESCRIPTION": "INVESTIGATE PERSON",
                "OCCURRED_ON_DATE": when.strftime("%Y-%m-%d %H:%M:%S+00"),
                "Lat": (LOGAN[0] + rng.normal(0, 0.0008, n)).round(6).astype(str),
                "Long": (LOGAN[1] + rng.normal(0, 0.0008, n)).round(6).astype(str),
                "STREET": "AIRPORT",
                "SHOOTING": "0",
            }
        )
    )


def _flags(engine: Engine) -> int:
    with session_scope(engine) as s:
        return int(s.execute(select(func.count()).select_from(Flag)).scalar_one())


def test_an_import_with_a_cluster_near_a_site_raises_a_flag(
    engine: Engine, settings: Settings
) -> None:
    seed_demo(engine, settings)  # the hook is not on yet: no detection ran
    assert _flags(engine) == 0
    enable_detection_after_ingest(settings)
    try:
        summary = ingest_table(
            engine,
            _planted(25),
            load_profile("bpd_incidents"),
            origin="plant.csv",
            sha256=None,
            area=None,
            store_res=settings.h3_store_res,
        )
        assert summary.inserted == 25
        assert _flags(engine) >= 1
        with session_scope(engine) as s:
            top = flag_rows(session=s, viewer=Viewer.system()).iloc[0]
        assert top["site_name"] == "Gen Edw L Logan Intl" and top["observed"] >= 20
    finally:
        enable_detection_after_ingest(settings.model_copy(update={"detect_after_ingest": False}))


def test_debounced_detection_runs_after_the_batch_at_most_once_an_interval(
    engine: Engine, settings: Settings
) -> None:
    seed_demo(engine, settings)
    debounced = settings.model_copy(update={"detect_debounce_s": 3600.0})
    enable_detection_after_ingest(debounced)
    try:
        runner = _DEBOUNCED[0]
        assert isinstance(runner, DebouncedDetection)

        def load(seed: int) -> None:
            table = _planted(25, seed=seed)
            table.frame["INCIDENT_NUMBER"] = [f"PLANT-{seed}-{i}" for i in range(25)]
            summary = ingest_table(
                engine,
                table,
                load_profile("bpd_incidents"),
                origin=f"plant-{seed}.csv",
                sha256=None,
                area=None,
                store_res=settings.h3_store_res,
            )
            assert summary.inserted == 25

        load(5)
        # The first run starts at once, in the background thread; wait for it (no sleeping).
        with runner._wake:
            assert runner._wake.wait_for(lambda: runner.runs == 1 and not runner._due, 120)
        assert _flags(engine) >= 1
        for seed in (6, 7, 8):
            load(seed)
        # Within the interval the later batches are due together, not run one by one.
        with runner._wake:
            assert runner.runs == 1 and list(runner._due) == [str(engine.url)]
    finally:
        enable_detection_after_ingest(settings.model_copy(update={"detect_after_ingest": False}))
    assert not _DEBOUNCED

"""The columnar snapshot under a trickle of small batches: refresh and aggregation cost, PostGIS.

A throw-away PostGIS schema with ``WATCHFLOOR_BENCH_REFRESH_EVENTS`` (1,000,000) synthetic
events; the snapshot is warmed (res 7-9 codes), then ``..._BATCHES`` (40) batches of 10 events
are inserted one by one (as the partner API does) and after each the dashboard's (lagging)
snapshot is refreshed and a 30-day res-8 aggregation asked for. Reports the median wall and
CPU time of a refresh and of the aggregation right after it: what a worker pays per data
version under a live stream.
Needs WATCHFLOOR_BENCH_POSTGIS_URL (``make bench`` sets it).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

import numpy as np
from sqlalchemy import text

from analytics.timebuckets import TimeWindow
from bench import _hexload
from bench._report import Report
from domain.roles import Role, Viewer
from store.columnar import clear_cache, event_columns, mark_stale, with_snapshot_lag
from store.engine import make_engine, session_scope
from store.models import Event
from store.queries import EventFilter, cell_counts

VIEWER = Viewer("bench", Role.WATCH_OFFICER, "MA-CFC")


def _env(name: str, default: int) -> int:
    return int(os.environ.get(f"WATCHFLOOR_BENCH_REFRESH_{name}", default))


def _insert_batch(engine: object, k: int, rows: int) -> None:
    # A copy gets its own public id (the column's default): it is unique per event.
    skip = ("id", "external_id", "public_id")
    cols = [c.key for c in Event.__table__.columns if c.key not in skip]
    names = ", ".join(cols)
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(
            text(
                f"INSERT INTO events ({names}, external_id) SELECT {names}, "
                f"external_id || '-r{k}' FROM events WHERE id IN "
                f"(SELECT id FROM events ORDER BY id DESC LIMIT {rows})"
            )
        )


def run(report: Report) -> None:
    base_url = os.environ.get("WATCHFLOOR_BENCH_POSTGIS_URL", "")
    if not base_url:
        sys.stdout.write("  skipped: WATCHFLOOR_BENCH_POSTGIS_URL is needed\n")
        return
    n, batches = _env("EVENTS", 1_000_000), _env("BATCHES", 40)
    tag = f"{n // 1000}k"
    with _hexload.postgis(base_url, n) as (url, load_s):
        sys.stdout.write(f"  {n:,} events loaded in {load_s:.0f} s\n")
        engine = make_engine(url)
        clear_cache()
        with session_scope(engine) as s:
            cols = event_columns(session=s)
            for res in (7, 8, 9):
                cols.cell_index(res)
            last = int(cols.main.t_us.max())
        end = np.datetime64(last, "us").astype(object)
        from datetime import UTC

        end = end.replace(tzinfo=UTC) + timedelta(seconds=1)
        filters = EventFilter(window=TimeWindow(end - timedelta(days=30), end))
        # The dashboard's path: a lagging snapshot, here made to refresh after every batch.
        lagging = with_snapshot_lag(engine, 1.0)
        wall, cpu, agg_wall, agg_cpu, count_wall = [], [], [], [], []
        for k in range(batches):
            _insert_batch(engine, k, 10)
            mark_stale(engine)
            with session_scope(lagging) as s:
                w0, c0 = time.perf_counter(), time.process_time()
                event_columns(session=s)
                wall.append(time.perf_counter() - w0)
                cpu.append(time.process_time() - c0)
                w0, c0 = time.perf_counter(), time.process_time()
                cell_counts(session=s, viewer=VIEWER, filters=filters, res=8)
                agg_wall.append(time.perf_counter() - w0)
                agg_cpu.append(time.process_time() - c0)
                # The refresh's check for rows committed out of id order (the server's side).
                w0 = time.perf_counter()
                s.execute(text("SELECT count(*) FROM events WHERE id <= :i"), {"i": 10**12})
                count_wall.append(time.perf_counter() - w0)
        engine.dispose()
    for name, values in (
        ("refresh after 10 new events, wall", wall),
        ("refresh after 10 new events, CPU", cpu),
        ("30-day res-8 aggregation after it, wall", agg_wall),
        ("30-day res-8 aggregation after it, CPU", agg_cpu),
        ("count of the events up to the largest id, wall", count_wall),
    ):
        report.record(
            f"refresh {tag} {name} p50",
            float(np.median(values)) * 1000,
            "ms",
            p90=round(float(np.percentile(values, 90)) * 1000, 2),
            batches=batches,
            host_load=round(os.getloadavg()[0], 2),
        )

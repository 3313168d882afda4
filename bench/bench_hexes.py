"""The hex engine at 1 and 5 million events on SpatiaLite and PostGIS, against a naive baseline.

Figures per backend and size: the 30-day aggregation at res 7, 8, 9 (columnar cache, warm), the
same through SQL ``GROUP BY`` on the raw table and on a rollup table, the numpy ``bincount`` floor,
the cache's cold load, the whole map-update callback (query + figure + serialisation) and its
payload, and the naive pandas + ``h3.latlng_to_cell`` per row + ``groupby`` baseline.
Set WATCHFLOOR_BENCH_SIZES (e.g. ``1000000``) to run fewer sizes.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import h3
import numpy as np
import pandas as pd
from plotly.io.json import to_json_plotly
from sqlalchemy import Engine, select, text

from analytics.timebuckets import trailing_window
from bench import _hexload
from bench._report import Report
from domain.roles import Role, Viewer
from layers.payload import map_payload
from layers.view import MapConfig, build_map_view
from rules.visibility import visible_clause
from store.columnar import clear_cache, event_columns
from store.engine import make_engine, session_scope
from store.models import Event
from store.queries import EventFilter, cell_counts, hex_counts
from store.spatial import cell_parent_sql

VIEWER = Viewer("officer", Role.WATCH_OFFICER, "MA-CFC")
TZ = "America/New_York"
CONFIG = MapConfig(42.3, -71.8, 8, "white-bg", None)


def _median_ms(fn: Callable[[], Any], repeat: int = 7) -> float:
    fn()  # warm (first call at a resolution builds its cell codes)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _window(engine: Engine) -> Any:
    with session_scope(engine) as s:
        last = s.execute(text("SELECT max(occurred_at) FROM events")).scalar_one()
    return trailing_window(pd.Timestamp(last, tz="UTC") if isinstance(last, str) else last, 30, TZ)


def _rollup_ms(engine: Engine, window: Any, res: int) -> float:
    """SQL GROUP BY over a (res-9 cell, UTC day, kind, handling, agency) rollup table."""
    dialect = engine.dialect.name
    day = (
        "date(occurred_at)"
        if dialect == "sqlite"
        else "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    )
    parent9 = cell_parent_sql(Event.cell, 9).compile(
        dialect=engine.dialect, compile_kwargs={"literal_binds": True}
    )
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_rollup"))
        conn.execute(
            text(
                f"CREATE TABLE bench_rollup AS SELECT {parent9} AS cell, {day} AS day, kind, "
                "handling, source_agency, count(*) AS n, sum(severity) AS sev FROM events "
                "GROUP BY 1, 2, 3, 4, 5"
            )
        )
        conn.execute(text("CREATE INDEX ix_bench_rollup_day ON bench_rollup (day)"))
    from sqlalchemy import column, func, table

    rollup = table(
        "bench_rollup",
        column("cell"),
        column("day"),
        column("kind"),
        column("handling"),
        column("source_agency"),
        column("n"),
        column("sev"),
    )
    start = window.start_at.strftime("%Y-%m-%d")
    end = window.end_at.strftime("%Y-%m-%d")
    hexcol = cell_parent_sql(rollup.c.cell, res)
    stmt = (
        select(hexcol, func.sum(rollup.c.n), func.sum(rollup.c.sev))
        .where(visible_clause(VIEWER, rollup.c), rollup.c.day >= start, rollup.c.day < end)
        .group_by(hexcol)
    )
    try:
        with engine.connect() as conn:
            return _median_ms(lambda: conn.execute(stmt).all(), repeat=5)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE bench_rollup"))


def _naive_ms(engine: Engine, window: Any, res: int) -> float:
    """What a typical Dash app does: rows into pandas, h3 per row with apply, groupby."""
    stmt = select(Event.lat, Event.lon, Event.kind, Event.severity).where(
        visible_clause(VIEWER, Event),
        Event.occurred_at >= window.start_at,
        Event.occurred_at < window.end_at,
    )

    def run() -> pd.DataFrame:
        with engine.connect() as conn:
            frame = pd.read_sql(stmt, conn)
        frame["cell"] = frame.apply(lambda r: h3.latlng_to_cell(r.lat, r.lon, res), axis=1)
        return frame.groupby("cell").agg(total=("kind", "size"), severity=("severity", "sum"))

    return _median_ms(run, repeat=2)


# (label, resolution, viewport): statewide at res 7 and 8, Greater Boston at res 8 and 9.
VIEWS = (
    ("statewide res 7", 7, (-73.5, 41.2, -69.9, 42.9)),
    ("statewide res 8", 8, (-73.5, 41.2, -69.9, 42.9)),
    ("Boston res 8", 8, (-71.35, 42.2, -70.85, 42.5)),
    ("Boston res 9", 9, (-71.2, 42.28, -70.95, 42.42)),
)


def _callback(engine: Engine, report: Report, tag: str) -> None:
    """Whole map update (query + figure + serialisation) and its payload, hexes layer only.

    "full" is a new resolution or viewport: the figure spec and the cells (the browser builds
    the polygons); "update" is a window or colour change: the values only (a Dash Patch), what
    playback, brushing and live refresh send. Serialised as Dash does (plotly's JSON encoder).
    """
    for label, res, bbox in VIEWS:

        def view(preset: str = "30d", res: int = res, bbox: Any = bbox) -> Any:
            with session_scope(engine) as s:
                return build_map_view(
                    session=s,
                    viewer=VIEWER,
                    filters=EventFilter(),
                    preset=preset,
                    custom=None,
                    visible=("hexes",),
                    res=res,
                    max_points=5_000,
                    tz=TZ,
                    config=CONFIG,
                    viewport=bbox,
                    with_geometry=False,
                )

        def full() -> str:
            payload = map_payload(view(), values_only=False, held_digest=None)
            return to_json_plotly({"map-spec": payload.spec, "hex-cells": payload.cells})

        first = map_payload(view(), values_only=False, held_digest=None)

        def update(held: str = first.digest) -> str:
            payload = map_payload(view("7d"), values_only=True, held_digest=held)
            assert payload.cells is None  # same cells: the browser keeps its polygons
            return to_json_plotly({"map-spec": payload.spec.to_plotly_json()})

        cells = first.cells["n"] if first.cells else 0
        name = f"hexes {tag} callback {label} ({cells} cells)"
        report.record(f"{name} full figure", _median_ms(full, 3), "ms")
        report.record(f"{name} full payload", len(full()) / 1024, "KiB")
        report.record(f"{name} update (Patch)", _median_ms(update, 3), "ms")
        report.record(f"{name} update payload", len(update()) / 1024, "KiB")


def _refresh_ms(engine: Engine, rows: int = 100) -> float:
    """Time the cache refresh after ``rows`` new events (the live case); removes them after."""
    cols = [c.key for c in Event.__table__.columns if c.key not in ("id", "external_id")]
    names = ", ".join(cols)
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO events ({names}, external_id) SELECT {names}, "
                f"external_id || '-live' FROM events WHERE id IN "
                f"(SELECT id FROM events ORDER BY id DESC LIMIT {rows})"
            )
        )
    try:
        with session_scope(engine) as s:
            started = time.perf_counter()
            event_columns(session=s)
            return (time.perf_counter() - started) * 1000
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM events WHERE external_id LIKE '%-live'"))


def _run_backend(report: Report, tag: str, url: str, load_s: float) -> None:
    engine = make_engine(url)
    if load_s == load_s:  # not NaN: loaded in this run
        report.record(f"hexes {tag} bulk load", load_s, "s")
    window = _window(engine)
    filters = EventFilter(window=window)
    clear_cache()
    with session_scope(engine) as s:
        started = time.perf_counter()
        cols = event_columns(session=s)
        report.record(f"hexes {tag} cache cold load", time.perf_counter() - started, "s")
        report.record(
            f"hexes {tag} data-version read",
            _median_ms(lambda: s.execute(text("SELECT token FROM data_versions")).all()),
            "ms",
        )
    report.record(f"hexes {tag} cache refresh after 100 new events", _refresh_ms(engine), "ms")
    with session_scope(engine) as s:
        cols = event_columns(session=s)  # the deletion above made a full reload due
    main = cols.main  # a fresh load: every event is in the main block, none in the tail
    lo = int(np.searchsorted(main.t_us, int(pd.Timestamp(window.start_at).value // 1000)))
    hi = int(np.searchsorted(main.t_us, int(pd.Timestamp(window.end_at).value // 1000)))
    report.record(f"hexes {tag} events in 30-day window", hi - lo, "events")
    codes = cols.cell_index(8).main_codes
    report.record(
        f"hexes {tag} floor: bincount all precomputed res-8 cells",
        _median_ms(lambda: np.bincount(codes)),
        "ms",
    )
    for res in (7, 8, 9):
        with session_scope(engine) as s:
            started = time.perf_counter()
            # Time the first use at a resolution too: forget the memoised codes of ``res``.
            clear_groups = (cols.main._groups.pop(res, None), cols._index.pop(res, None))
            cell_counts(session=s, viewer=VIEWER, filters=filters, res=res)
            first = (time.perf_counter() - started) * 1000
            del clear_groups
            ms = _median_ms(
                lambda s=s, res=res: cell_counts(session=s, viewer=VIEWER, filters=filters, res=res)
            )
        report.record(f"hexes {tag} 30-day aggregation res {res} (cache)", ms, "ms")
        report.record(f"hexes {tag} 30-day aggregation res {res} (first at res)", first, "ms")
    with session_scope(engine) as s:
        sql_ms = _median_ms(lambda: hex_counts(session=s, viewer=VIEWER, filters=filters, res=8), 5)
    report.record(f"hexes {tag} 30-day aggregation res 8 (SQL GROUP BY raw table)", sql_ms, "ms")
    report.record(
        f"hexes {tag} 30-day aggregation res 8 (SQL rollup table)",
        _rollup_ms(engine, window, 8),
        "ms",
    )
    with session_scope(engine) as s:
        cache_ms = _median_ms(lambda: cell_counts(session=s, viewer=VIEWER, filters=filters, res=8))
    naive = _naive_ms(engine, window, 8)
    report.record(f"hexes {tag} naive pandas+h3 per row res 8", naive, "ms")
    report.record(f"hexes {tag} speed-up over naive res 8", naive / cache_ms, "x")
    _callback(engine, report, tag)
    engine.dispose()


def run(report: Report) -> None:
    """Load each size on each backend and record the figures."""
    sizes = [int(n) for n in os.environ.get("WATCHFLOOR_BENCH_SIZES", "1000000,5000000").split(",")]
    pg_base = os.environ.get("WATCHFLOOR_BENCH_POSTGIS_URL")
    report.record("hexes machine load (1 min)", os.getloadavg()[0], "")
    for n in sizes:
        label = f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"
        url, load_s = _hexload.spatialite(n)
        _run_backend(report, f"spatialite {label}", url, load_s)
        if pg_base:
            with _hexload.postgis(pg_base, n) as (pg_url, pg_load_s):
                _run_backend(report, f"postgis {label}", pg_url, pg_load_s)
    clear_cache()

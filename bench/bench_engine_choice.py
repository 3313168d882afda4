"""The read engine's choice (issue #19): today's numpy snapshot against DuckDB, side by side.

One run, one SpatiaLite file of ``WATCHFLOOR_BENCH_ENGINE_EVENTS`` (1,000,000) synthetic events
(``bench._hexload``), two viewers (a partner, center staff). Contestants: the numpy engine through
its public functions (``cell_counts``, ``newest_points``, ``cell_bucket_counts``: what the map,
its points and the timeline call), its kept main-block answers dropped before every timed call;
and an in-process DuckDB table of the same rows (read from the same file: the sqlite scanner is
an extension DuckDB downloads, not available here), queried with SQL compiled from the SAME
SQLAlchemy expressions as the reference queries (``visible_clause``, ``EventFilter.clauses``,
``cell_parent_sql``). Every answer is compared (counts per cell, point ids in order, counts per
day) before it is timed. Medians of ``..._REPEAT`` (7) runs, contestants alternated; the
machine is shared, so compare only within one run. Cold load and memory are taken in a fresh
child process per contestant (RSS delta from the file to the first answer).
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sqlalchemy import case, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import Select

from analytics.timebuckets import TimeWindow
from bench import _hexload
from bench._report import ROOT, Report
from domain.roles import Role, Viewer
from rules.visibility import visible_clause
from store.columnar import clear_cache, event_columns
from store.engine import make_engine, session_scope
from store.models import Event
from store.queries import EventFilter, cell_bucket_counts, cell_counts, hex_counts
from store.queries.events import HEX_COLUMNS
from store.queries.hexagg import forget_kept_answers
from store.queries.points import newest_points
from store.spatial import cell_parent_sql

PARTNER = Viewer("partner", Role.PARTNER, "BPD")
STAFF = Viewer("officer", Role.WATCH_OFFICER, "MA-CFC")
TZ = "America/New_York"
BOSTON = (-71.2, 42.28, -70.95, 42.42)
CATEGORIES = ("THREAT", "VANDALISM")
SCHEMA = (
    "id BIGINT, cell BIGINT, occurred_at TIMESTAMPTZ, kind VARCHAR, category VARCHAR, "
    "source_agency VARCHAR, handling VARCHAR, severity INTEGER, lon DOUBLE, lat DOUBLE"
)
POINTS = ["id", "kind", "category", "occurred_at", "lon", "lat", "severity", "handling"]
_CON: list[Any] = []  # the run's DuckDB connection
REPEAT = int(os.environ.get("WATCHFLOOR_BENCH_ENGINE_REPEAT", 7))
READ = "SELECT id, cell, occurred_at, kind, category, source_agency, handling, severity, lon, lat"


def _sql(stmt: Select[Any]) -> str:
    """The statement as DuckDB reads it (PostgreSQL's spelling, values inlined)."""
    kw = {"literal_binds": True, "render_postcompile": True}
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs=kw))


def duck_open(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with an empty ``events`` table (or the persisted file ``path``)."""
    con = duckdb.connect(str(path) if path else ":memory:", read_only=path is not None)
    con.execute("SET TimeZone = 'UTC'")
    if path is None:
        con.execute(f"CREATE TABLE events ({SCHEMA})")
    return con


def duck_load(con: duckdb.DuckDBPyConnection, sqlite_path: str, after_id: int = 0) -> int:
    """Append the events with an id above ``after_id`` from the SQLite file; return the max id."""
    with sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True) as src:
        rows = src.execute(f"{READ} FROM events WHERE id > ? ORDER BY id", (after_id,)).fetchall()
    names = READ.removeprefix("SELECT ").split(", ")
    incoming = pd.DataFrame.from_records(rows, columns=names)  # noqa: F841 (DuckDB reads it)
    del rows
    con.execute(
        "INSERT INTO events SELECT id, cell, CAST(occurred_at AS TIMESTAMP)::TIMESTAMPTZ, kind, "
        "category, source_agency, handling, severity, lon, lat FROM incoming ORDER BY 3, 1"
    )
    return int(con.execute("SELECT max(id) FROM events").fetchone()[0])  # type: ignore[index]


def hexes_stmt(viewer: Viewer, filters: EventFilter, res: int = 8) -> Select[Any]:
    """``store.queries.hex_counts``'s statement (ordered by cell)."""
    cell = cell_parent_sql(Event.cell, res).label("cell")
    return (
        select(
            cell,
            func.count().label("total"),
            func.sum(case((Event.kind == "suspicious", 1), else_=0)).label("suspicious"),
            func.sum(case((Event.kind == "incident", 1), else_=0)).label("incident"),
            func.sum(Event.severity).label("severity_sum"),
        )
        .where(visible_clause(viewer, Event), *filters.clauses(Event))
        .group_by(cell)
        .order_by(cell)
    )


def points_stmt(viewer: Viewer, filters: EventFilter, limit: int = 5000) -> Select[Any]:
    """``store.queries.event_points``'s statement (without ``location_text``)."""
    return (
        select(*[getattr(Event, n) for n in POINTS])
        .where(visible_clause(viewer, Event), *filters.clauses(Event))
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(limit)
    )


def timeline_stmt(viewer: Viewer, filters: EventFilter) -> Select[Any]:
    """Visible events per local day (the timeline), from the same expressions."""
    day = func.timezone(TZ, func.date_trunc("day", func.timezone(TZ, Event.occurred_at)))
    return (
        select(day.label("bucket_start"), func.count().label("total"))
        .where(visible_clause(viewer, Event), *filters.clauses(Event))
        .group_by(day)
        .order_by(day)
    )


def duck(con: Any, stmt: Select[Any] | str) -> pd.DataFrame:
    """Run ``stmt`` (compiled now unless it is SQL text already) in DuckDB."""
    return con.execute(stmt if isinstance(stmt, str) else _sql(stmt)).df()


def _same(name: str, a: pd.DataFrame, b: pd.DataFrame, cols: list[str]) -> None:
    """Fail the bench when two answers differ: comparing speeds of wrong answers is worthless."""
    left, right = a[cols].reset_index(drop=True), b[cols].reset_index(drop=True)
    if len(left) != len(right) or not all(
        np.array_equal(left[c].to_numpy(), right[c].to_numpy()) for c in cols
    ):
        raise AssertionError(f"{name}: numpy {len(left)} rows, duckdb {len(right)}: they differ")


def _alternate(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU ms of each function, run in turn (the order rotated every round)."""
    for fn in fns.values():
        fn()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            w, c = time.perf_counter(), time.process_time()
            fns[name]()
            wall[name].append((time.perf_counter() - w) * 1000)
            cpu[name].append((time.process_time() - c) * 1000)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in fns}


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process, MiB."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def cold(which: str, url: str, duck_file: str, end_us: int) -> None:
    """Child process: load ``which`` from its file, answer one aggregation, print the figures."""
    end = datetime.fromtimestamp(end_us / 1e6, UTC)
    filters = EventFilter(window=TimeWindow(end - timedelta(days=30), end))
    before = _rss_mb()[0]
    started = time.perf_counter()
    if which == "numpy":
        engine = make_engine(url)
        with session_scope(engine) as s:
            cell_counts(session=s, viewer=STAFF, filters=filters, res=8)
    else:
        con = duck_open(Path(duck_file) if which == "duckdb-file" else None)
        if which == "duckdb":
            duck_load(con, url.removeprefix("sqlite:///"))
        duck(con, hexes_stmt(STAFF, filters))
    seconds = time.perf_counter() - started
    now, peak = _rss_mb()
    sys.stdout.write(json.dumps({"s": seconds, "rss": now - before, "peak": peak - before}) + "\n")


def _cold_child(which: str, url: str, duck_file: Path, end_us: int) -> dict[str, float]:
    code = f"from bench.bench_engine_choice import cold; cold({which!r}, {url!r}, "
    code += f"{str(duck_file)!r}, {end_us})"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _insert(engine: Any, k: int, rows: int) -> None:
    """Copy the newest ``rows`` events as new ones. The public id is set here, as the writers
    set it: left empty, the insert trigger's UPDATE would count as a rewrite (a full reload)."""
    names = ", ".join(
        c.key for c in Event.__table__.columns if c.key not in ("id", "external_id", "public_id")
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO events ({names}, external_id, public_id) SELECT {names}, "
                f"external_id || '-ec{k}', lower(hex(randomblob(16))) FROM events WHERE id IN "
                f"(SELECT id FROM events ORDER BY id DESC LIMIT {rows})"
            )
        )


def _clean(engine: Any) -> None:
    """Delete the rows ``_insert`` added (also those of a run that was killed)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE external_id LIKE '%-ec%'"))


def _duel(
    report: Report, name: str, ours: Callable[[], Any], stmt: Select[Any], cols: list[str]
) -> None:
    """Check that both engines answer the same, then time them alternately: the numpy engine,
    DuckDB with the SQLAlchemy statement compiled per call (as an engine would), and DuckDB
    running SQL text compiled once (its own floor)."""
    con, sql = _CON[0], _sql(stmt)
    cases = {
        "numpy": ours,
        "duckdb": lambda: duck(con, stmt),
        "duckdb SQL ready": lambda: duck(con, sql),
    }
    answers = [ours(), duck(con, stmt)]
    for frame in answers:  # one unit for the timeline's comparison (pandas ns, DuckDB us)
        if "bucket_start" in frame:
            frame["bucket_start"] = frame["bucket_start"].astype("datetime64[us, UTC]")
    _same(name, *answers, cols)
    for who, (wall, cpu) in _alternate(cases, REPEAT).items():
        report.record(f"{name} ({who})", wall, "ms", cpu_ms=round(cpu, 2))


def run(report: Report) -> None:
    n = int(os.environ.get("WATCHFLOOR_BENCH_ENGINE_EVENTS", 1_000_000))
    tag = f"engine {n // 1_000_000}M" if n >= 1_000_000 else f"engine {n // 1000}k"
    url, _ = _hexload.spatialite(n)
    path = url.removeprefix("sqlite:///")
    engine = make_engine(url)
    _clean(engine)
    report.record(f"{tag} machine load (1 min)", os.getloadavg()[0], "")
    clear_cache()
    con = duck_open()
    _CON[:] = [con]
    max_id = duck_load(con, path)
    with session_scope(engine) as s:
        end_us = int(event_columns(session=s).main.t_us.max()) + 1_000_000
    end = datetime.fromtimestamp(end_us / 1e6, UTC)
    month = EventFilter(window=TimeWindow(end - timedelta(days=30), end))
    box, hexes, days = EventFilter(bbox=BOSTON), list(HEX_COLUMNS), ["bucket_start", "total"]
    with session_scope(engine) as s:

        def numpy_hexes(viewer: Viewer, filters: EventFilter) -> pd.DataFrame:
            forget_kept_answers()  # the kept main-block answer would make it a dict lookup
            return cell_counts(session=s, viewer=viewer, filters=filters, res=8)

        def numpy_days() -> pd.DataFrame:
            forget_kept_answers()
            return cell_bucket_counts(
                session=s, viewer=PARTNER, filters=EventFilter(), res=None, bucket="day", tz=TZ
            )

        reference = hex_counts(session=s, viewer=PARTNER, filters=month, res=8)
        _same("SQL reference", reference.sort_values("cell"), numpy_hexes(PARTNER, month), hexes)
        for label, viewer, f in (
            ("partner", PARTNER, month),
            ("center staff", STAFF, month),
            ("partner, 2 categories", PARTNER, replace(month, categories=CATEGORIES)),
        ):
            ours = partial(numpy_hexes, viewer, f)
            name = f"{tag} 30-day res-8 aggregation, {label}"
            _duel(report, name, ours, hexes_stmt(viewer, f), hexes)
        for viewer, label in ((PARTNER, "partner"), (STAFF, "center staff")):
            ours = partial(newest_points, session=s, viewer=viewer, filters=box, limit=5000)
            name = f"{tag} newest 5,000 points in Boston, {label}"
            _duel(report, name, ours, points_stmt(viewer, box), POINTS)
        name = f"{tag} daily timeline, partner"
        _duel(report, name, numpy_days, timeline_stmt(PARTNER, EventFilter()), days)
    # Cold load and memory, each in a fresh process; DuckDB also from its own persisted file.
    duck_file = Path(path).with_suffix(".duckdb")
    duck_file.unlink(missing_ok=True)
    con.execute(
        f"ATTACH '{duck_file}' AS disk; CREATE TABLE disk.events AS "
        "SELECT * FROM events ORDER BY occurred_at; DETACH disk"
    )
    report.record(f"{tag} duckdb file size", duck_file.stat().st_size / 2**20, "MiB")
    colds: dict[str, list[dict[str, float]]] = {"numpy": [], "duckdb": [], "duckdb-file": []}
    for _ in range(3):
        for which in colds:
            colds[which].append(_cold_child(which, url, duck_file, end_us))
    for which, runs in colds.items():
        for key, label, unit in (
            ("s", "cold load to first answer", "s"),
            ("rss", "RSS delta per million events", "MiB"),
            ("peak", "peak RSS delta per million events", "MiB"),
        ):
            per = 1 if key == "s" else n / 1e6
            report.record(
                f"{tag} {label} ({which})", statistics.median(r[key] for r in runs) / per, unit
            )
    _refresh(report, tag, engine, con, path, max_id, month)
    duck_file.unlink(missing_ok=True)
    engine.dispose()


def _refresh(
    report: Report, tag: str, engine: Any, con: Any, path: str, max_id: int, filters: EventFilter
) -> None:
    """1,000 new rows per round: each engine catches up, then answers the aggregation (the
    numpy engine with its kept main-block answers, as in a live worker)."""
    times: dict[str, list[float]] = {"numpy": [], "duckdb": [], "numpy agg": [], "duckdb agg": []}
    try:
        for k in range(REPEAT):
            _insert(engine, k, 1000)
            for name in ("numpy", "duckdb") if k % 2 == 0 else ("duckdb", "numpy"):
                started = time.perf_counter()
                if name == "numpy":
                    with session_scope(engine) as s:
                        event_columns(session=s)
                        times[name].append(time.perf_counter() - started)
                        w = time.perf_counter()
                        ours = cell_counts(session=s, viewer=PARTNER, filters=filters, res=8)
                else:
                    max_id = duck_load(con, path, max_id)
                    times[name].append(time.perf_counter() - started)
                    w = time.perf_counter()
                    theirs = duck(con, hexes_stmt(PARTNER, filters))
                times[f"{name} agg"].append(time.perf_counter() - w)
            _same(f"after refresh {k}", ours, theirs, list(HEX_COLUMNS))
    finally:
        _clean(engine)
    for name, values in times.items():
        what = f"{'aggregation' if name.endswith('agg') else 'refresh'} after 1,000 new rows"
        report.record(f"{tag} {what} ({name.split()[0]})", statistics.median(values) * 1000, "ms")

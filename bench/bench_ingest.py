"""End-to-end ingest of a 1,000,000-row CSV into SpatiaLite and PostGIS: rows/s and peak memory.

Each load runs in its own process (``python -m bench.bench_ingest worker URL CSV``) so its peak
resident memory is its own. End to end means: read the CSV in chunks, recognise the columns,
validate, index the H3 cell, store through the staging table, and build the indexes (on
SpatiaLite the R*Tree is rebuilt after the bulk load). Set ``WATCHFLOOR_BENCH_ROWS`` for another
size; PostGIS runs in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ROWS = int(os.environ.get("WATCHFLOOR_BENCH_ROWS", "1000000"))


def write_csv(path: Path, n: int) -> None:
    """Write ``n`` synthetic events (testkit/synthetic.py) as a partner CSV, in slices."""
    from testkit.synthetic import events

    frame = events(n, seed=3)
    frame.insert(0, "event_id", [f"B{i}" for i in range(n)])
    frame["occurred_at"] = frame["occurred_at"].dt.strftime("%Y-%m-%d %H:%M:%S+00:00")
    frame["lat"] = frame["lat"].round(6)
    frame["lon"] = frame["lon"].round(6)
    frame.to_csv(path, index=False)


def worker(url: str, csv_path: str) -> dict[str, Any]:
    """Ingest ``csv_path`` into ``url`` (migrated first); return timings and peak memory."""
    from data_loaders.ingest import ingest_path
    from store.engine import make_engine
    from store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    summary = ingest_path(
        engine, csv_path, None, kind="suspicious", source="BENCH", area=None, store_res=11
    )
    seconds = time.perf_counter() - started
    engine.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "rows": summary.rows_read,
        "inserted": summary.inserted,
        "seconds": seconds,
        # CPU time of the importing process: a figure the other tenants of a shared machine
        # disturb far less than wall time (the PostgreSQL server's own CPU is not in it).
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        # The same for the load alone, without starting Python and importing the libraries.
        "ingest_cpu_seconds": (usage.ru_utime + usage.ru_stime)
        - (before.ru_utime + before.ru_stime),
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }


def _run_worker(url: str, csv_path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_ingest", "worker", url, str(csv_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "WATCHFLOOR_LOG_LEVEL": "WARNING"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _report(report: Any, backend: str, result: dict[str, Any]) -> None:
    label = f"ingest {ROWS:,} CSV rows -> {backend}"
    report.record(f"{label}: rows/s", result["rows"] / result["seconds"], "rows/s")
    report.record(f"{label}: seconds", result["seconds"], "s")
    report.record(f"{label}: importer CPU", result["cpu_seconds"], "s")
    report.record(f"{label}: importer CPU, load only", result["ingest_cpu_seconds"], "s")
    report.record(f"{label}: peak RSS", result["peak_rss_mib"], "MiB")


def run(report: Any) -> None:
    """Generate the CSV once, load it into each backend, record rows/s and peak RSS."""

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "events.csv"
        write_csv(csv_path, ROWS)
        report.record(f"ingest CSV size ({ROWS:,} rows)", csv_path.stat().st_size / 2**20, "MiB")
        report.record("load average at start", os.getloadavg()[0], "")
        _report(report, "SpatiaLite", _run_worker(f"sqlite:///{Path(tmp) / 'b.sqlite'}", csv_path))
        base = os.environ.get("WATCHFLOOR_BENCH_POSTGIS_URL", "")
        if not base:
            sys.stdout.write("  (PostGIS skipped: WATCHFLOOR_BENCH_POSTGIS_URL is empty)\n")
            return
        from bench._schemas import postgis_schema

        with postgis_schema(base, "bench") as url:
            _report(report, "PostGIS", _run_worker(url, csv_path))
        report.record("load average at end", os.getloadavg()[0], "")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        sys.path.insert(0, str(ROOT))
        sys.stdout.write(json.dumps(worker(sys.argv[2], sys.argv[3])) + "\n")

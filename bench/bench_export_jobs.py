"""Dashboard export jobs (``jobs.exports``): seconds, rows/s and peak memory per format.

``WATCHFLOOR_BENCH_EXPORT_ROWS`` synthetic events (default 200,000) in a SpatiaLite file; an
analyst exports every layer (``all``, the dashboard's default) for the whole time range, in each
format, as the dashboard's Export button does but run to the end in the calling thread. Each
format runs in a fresh worker process, so its peak RSS (``VmHWM`` of ``/proc/self/status``, which
starts afresh at ``exec``; ``ru_maxrss`` would inherit the parent's high-water mark) is that
job's alone. The worker first loads its columnar cache, as every dashboard worker has, then
resets its high-water mark; the RSS then, before the job, is reported beside the job's peak.
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

from bench import _hexload
from bench._report import Report
from exports.formats import FORMATS

ROOT = Path(__file__).resolve().parents[1]


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker(url: str, fmt: str, var_dir: str) -> dict[str, object]:
    """Run one export job in this process; return its figures (the child's side)."""
    from domain.roles import Role, Viewer
    from jobs.exports import job_dir, job_status, start_export_job
    from layers.selection import ScreenState, screen_filter
    from settings import Settings
    from store.engine import make_engine, session_scope

    settings = Settings(database_url=url, env="test", var_dir=Path(var_dir))
    engine = make_engine(url)
    viewer = Viewer("bench-analyst", Role.ANALYST, "MA-CFC")
    state = ScreenState(preset="all")
    # A dashboard worker has its columnar cache loaded (the map needs it); so does this one
    # before the clock starts, so the figures are the job's own.
    with session_scope(engine, readonly=True) as session:
        screen_filter(state, session=session, viewer=viewer, tz=settings.timezone)
    # Loading that cache peaks higher than it stays: reset the high-water mark (Linux >= 4.0)
    # so the peak below is the job's.
    Path("/proc/self/clear_refs").write_text("5")
    before_mib, cpu0 = _status_mib("VmRSS"), _cpu_s()
    started = time.perf_counter()
    job_id = start_export_job(
        engine=engine,
        settings=settings,
        viewer=viewer,
        layer="all",
        fmt=fmt,
        res=8,
        state=state,
        background=False,
    )
    seconds = time.perf_counter() - started
    status = job_status(engine=engine, settings=settings, job_id=job_id, viewer=viewer)
    assert status is not None and status.status == "done", status
    size = (job_dir(settings, job_id) / str(status.filename)).stat().st_size
    engine.dispose()
    return {
        "seconds": seconds,
        "cpu_s": _cpu_s() - cpu0,
        "rows": status.rows_total,
        "layers": status.details["rows"],
        "mib": size / 2**20,
        "rss_before_mib": before_mib,
        "rss_peak_mib": _status_mib("VmHWM"),
    }


def run(report: Report) -> None:
    """Record one export job per format on ``WATCHFLOOR_BENCH_EXPORT_ROWS`` events."""
    n = int(os.environ.get("WATCHFLOOR_BENCH_EXPORT_ROWS", "200000"))
    url, _ = _hexload.spatialite(n)
    formats = os.environ.get("WATCHFLOOR_BENCH_EXPORT_FORMATS", ",".join(FORMATS)).split(",")
    for fmt in formats:
        with tempfile.TemporaryDirectory(prefix="watchfloor-bench-export-") as var_dir:
            out = subprocess.run(
                [sys.executable, "-m", "bench.bench_export_jobs", url, fmt, var_dir],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        name = f"export_jobs.spatialite.{n}.all.{fmt}"
        rows = int(figures["rows"])
        report.record(f"{name}.seconds", figures["seconds"], "s", cpu_s=figures["cpu_s"])
        report.record(
            f"{name}.rows_per_s",
            rows / figures["seconds"],
            "rows/s",
            rows=rows,
            layers=figures["layers"],
        )
        report.record(f"{name}.mib", figures["mib"], "MiB")
        report.record(
            f"{name}.peak_rss", figures["rss_peak_mib"], "MiB", before=figures["rss_before_mib"]
        )
    with open("/proc/loadavg") as handle:
        report.record("export_jobs.load_average_1m", float(handle.read().split()[0]), "")


if __name__ == "__main__":
    sys.stdout.write(json.dumps(worker(*sys.argv[1:4]), default=str) + "\n")

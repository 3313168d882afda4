"""The map update's server work in one process, on PostGIS: where ``make bench ARGS=load`` spends.

A throw-away PostGIS schema with ``WATCHFLOOR_BENCH_MAPVIEW_EVENTS`` (1,000,000) synthetic
events; ``..._REQUESTS`` (120) seeded map updates like the load bench's (a random historic or
preset window, all layers 70 % of the time, one of its six viewports at auto resolution, one of
six viewers), each built by ``layers.view.build_map_view`` without the shared cache (the load
bench rarely hits it: every request has its own window) and serialised as the callback does.
Reports the wall and CPU time per update (p50/p95) and, apart, of the point layers' ``query``
for the updates whose points are drawn. No HTTP, no other clients: the CPU one update costs.
Needs WATCHFLOOR_BENCH_POSTGIS_URL (``make bench`` sets it).
"""

from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from plotly.io.json import to_json_plotly

from analytics.timebuckets import TimeWindow
from bench import _hexload
from bench._report import Report
from bench.bench_load import VIEWS  # where the load bench's dashboards look: (lat, lon, zoom)
from domain.roles import Role, Viewer
from layers.base import LayerRequest
from layers.payload import map_payload
from layers.registry import LAYERS
from layers.view import MapConfig, build_map_view
from layers.viewport import approx_viewport, padded, res_for_zoom
from store.columnar import clear_cache, event_columns
from store.engine import make_engine, session_scope
from store.queries import EventFilter

TZ = "America/New_York"
CONFIG = MapConfig(42.3, -71.8, 8, "white-bg", None)
VIEWERS = (
    Viewer("officer", Role.WATCH_OFFICER, "MA-CFC"),
    Viewer("command", Role.COMMAND, "MA-CFC"),
    Viewer("analyst", Role.ANALYST, "MA-CFC"),
    Viewer("bpd", Role.PARTNER, "BPD"),
    Viewer("msp", Role.PARTNER, "MSP"),
    Viewer("cambridge", Role.PARTNER, "CAMBRIDGE-PD"),
)
MAX_POINTS = 5_000


def _env(name: str, default: int) -> int:
    return int(os.environ.get(f"WATCHFLOOR_BENCH_MAPVIEW_{name}", default))


def _request(rng: random.Random) -> dict[str, Any]:
    """One map update as bench_load's ``_map_values`` draws it."""
    lat, lon, zoom = rng.choice(VIEWS)
    if rng.random() < 0.5:
        start = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=rng.uniform(0, 330))
        preset, custom = (
            "custom",
            TimeWindow(start, start + timedelta(days=rng.choice([1, 7, 30, 90]))),
        )
    else:
        preset, custom = rng.choice(["24h", "7d", "30d", "90d", "all"]), None
    points = rng.random() < 0.7
    return {
        "viewer": rng.choice(VIEWERS),
        "preset": preset,
        "custom": custom,
        "visible": ("hexes", "suspicious", "incidents", "sites") if points else ("hexes",),
        "res": res_for_zoom(zoom),
        "colour": rng.choice(["total", "total", "suspicious", "severity", "change"]),
        "viewport": padded(approx_viewport(lat, lon, zoom)),
    }


def _pcts(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)) * 1000, float(np.percentile(values, 95)) * 1000


def run(report: Report) -> None:
    base_url = os.environ.get("WATCHFLOOR_BENCH_POSTGIS_URL", "")
    if not base_url:
        sys.stdout.write("  skipped: WATCHFLOOR_BENCH_POSTGIS_URL is needed\n")
        return
    n, count = _env("EVENTS", 1_000_000), _env("REQUESTS", 120)
    tag = f"{n // 1000}k"
    rng = random.Random(8)
    requests = [_request(rng) for _ in range(count)]
    with _hexload.postgis(base_url, n) as (url, load_s):
        sys.stdout.write(f"  {n:,} events loaded in {load_s:.0f} s\n")
        engine = make_engine(url)
        clear_cache()
        with session_scope(engine) as s:
            cols = event_columns(session=s)
            for res in (7, 8, 9, 10):
                cols.cell_index(res)
        wall, cpu, pts_wall, pts_cpu, tr_cpu, drawn = [], [], [], [], [], []
        for req in requests:
            with session_scope(engine) as s:
                w0, c0 = time.perf_counter(), time.process_time()
                view = build_map_view(
                    session=s,
                    filters=EventFilter(),
                    max_points=MAX_POINTS,
                    tz=TZ,
                    config=CONFIG,
                    with_geometry=False,
                    **req,
                )
                payload = map_payload(view, values_only=False, held_digest=None)
                to_json_plotly({"map-spec": payload.spec, "hex-cells": payload.cells})
                wall.append(time.perf_counter() - w0)
                cpu.append(time.process_time() - c0)
                # The point layers alone, as the view runs them when they are drawn.
                filters = replace(EventFilter(), window=view.window, bbox=req["viewport"])
                lr = LayerRequest(req["viewer"], filters, req["res"], MAX_POINTS, TZ)
                for key in ("suspicious", "incidents"):
                    if key not in req["visible"] or key in view.hidden_points:
                        continue
                    w0, c0 = time.perf_counter(), time.process_time()
                    frame = LAYERS[key].query(session=s, request=lr)
                    pts_wall.append(time.perf_counter() - w0)
                    pts_cpu.append(time.process_time() - c0)
                    c0 = time.process_time()
                    LAYERS[key].to_traces(frame, request=lr)
                    tr_cpu.append(time.process_time() - c0)
                    drawn.append(len(frame))
        engine.dispose()
    load = round(os.getloadavg()[0], 2)
    for name, values in (
        ("map update, wall", wall),
        ("map update, CPU", cpu),
        ("one point layer's query (drawn), wall", pts_wall),
        ("one point layer's query (drawn), CPU", pts_cpu),
        ("one point layer's traces (drawn), CPU", tr_cpu),
    ):
        extra = {
            "n": len(values),
            "mean_points": round(float(np.mean(drawn)), 1) if drawn else 0,
            "host_load": load,
        }
        p50, p95 = _pcts(values)
        report.record(f"mapview {tag} {name} p50", p50, "ms", **extra)
        report.record(f"mapview {tag} {name} p95", p95, "ms", **extra)

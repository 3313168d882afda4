"""Detection quality (recall, precision, false flags per week) and run time over 1,000,000 events.

Scenario: the demo kit's real sites; a year of 1,000,000 synthetic background events over
Massachusetts (``testkit/synthetic.py``, dense in downtown Boston, 5 % suspicious); each test week
gets planted clusters of pre-operational suspicious reports near randomly chosen sites and decoy
clusters more than 8 km from any site. The same weeks are also scanned without any plant (pure
background) for false flags. Then the 1,000,000 events are stored (SpatiaLite, and PostGIS when
``WATCHFLOOR_BENCH_POSTGIS_URL`` is set) and a full ``run_detection`` is timed.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from analytics.flags import build_flags
from analytics.hotspots import DetectionParams, scan
from analytics.proximity import protection_radii
from bench._report import ROOT
from bench._schemas import postgis_schema
from data_loaders.demo import DEMO_DIR, DEMO_KIT
from data_loaders.ingest import ingest_path
from data_loaders.profiles import load_profile
from domain.roles import Viewer
from jobs.detection import run_detection
from settings import Settings
from store.engine import make_engine, session_scope
from store.migrate import upgrade
from store.queries.sites import site_points
from store.writes import finish_batch, start_batch, upsert_events
from testkit import detection_scenarios as sc

N_EVENTS = 1_000_000
WEEKS = range(12, 32)  # week ends 2023-03-26 .. 2023-08-06: a full 8-week baseline before each
PLANTS_PER_WEEK = 4
DECOYS_PER_WEEK = 2
START = pd.Timestamp("2023-01-01", tz="UTC")


def _load_sites(engine: Engine) -> pd.DataFrame:
    upgrade(engine)
    for filename, profile in DEMO_KIT:
        if "incidents" in profile:
            continue
        ingest_path(
            engine, DEMO_DIR / filename, load_profile(profile), area=None, store_res=11,
            skip_if_loaded=True,
        )  # fmt: skip
    with session_scope(engine) as s:
        return site_points(session=s, viewer=Viewer.system())


def _match(flags: list[Any], groups: list[set[int]]) -> tuple[int, int]:
    """Return (groups found by a flag holding half their events, flags holding such a group)."""
    found, true_flags = 0, 0
    hit = [False] * len(groups)
    for flag in flags:
        ids = set(flag.event_ids)
        matched = [i for i, g in enumerate(groups) if len(g & ids) * 2 >= len(g)]
        true_flags += bool(matched)
        for i in matched:
            hit[i] = True
    found = sum(hit)
    return found, true_flags


def _quality(report: Any, sites: pd.DataFrame, background: pd.DataFrame) -> None:
    params = DetectionParams()
    radii = protection_radii(sites)
    rng = np.random.default_rng(2023)
    planted = recalled = flags_all = flags_true = decoys = decoys_flagged = bg_flags = 0
    bg_clusters = 0
    t0 = time.perf_counter()
    for week in WEEKS:
        until = START + pd.Timedelta(weeks=week)
        lo = until - pd.Timedelta(seconds=params.window_s + params.baseline_s)
        base = background[(background["occurred_at"] >= lo) & (background["occurred_at"] < until)]
        # Pure background: every flag is false.
        result = scan(base, until=until, params=params)
        bg_clusters += len(result.clusters)
        bg_flags += len(build_flags(result.clusters, base, sites, radii, params))
        # Planted near sites, decoys far from any.
        parts, groups, decoy_groups = [base], [], []
        offset = int(base["id"].max()) + 1
        chosen = rng.choice(len(sites), PLANTS_PER_WEEK, replace=False)
        far = sc.far_points(sites, n=DECOYS_PER_WEEK, seed=week, min_distance_m=8_000)
        spots = [(sites["lat"].iloc[i], sites["lon"].iloc[i], r) for i, r in
                 zip(chosen, radii[chosen], strict=True)]  # fmt: skip
        for j, (lat, lon, radius) in enumerate(spots + [(a, b, 0.0) for a, b in far]):
            # Within half the protection radius of the site (decoys: at their far point).
            ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.5 * radius)
            lat_c = lat + dist * np.sin(ang) / 111_320
            lon_c = lon + dist * np.cos(ang) / (111_320 * np.cos(np.radians(lat)))
            n = int(rng.integers(8, 13))
            burst = sc.plant(lat_c, lon_c, n=n, until=until, seed=week * 100 + j)
            burst = sc.with_ids(burst, prefix=f"p{week}-{j}")
            burst["id"] += offset
            offset += n
            parts.append(burst)
            (groups if j < len(spots) else decoy_groups).append(set(burst["id"].tolist()))
        events = pd.concat(parts, ignore_index=True)
        result = scan(events, until=until, params=params)
        flags = build_flags(result.clusters, events, sites, radii, params)
        found, true_flags = _match(flags, groups)
        d_found, _ = _match(flags, decoy_groups)
        planted += len(groups)
        recalled += found
        flags_all += len(flags)
        flags_true += true_flags
        decoys += len(decoy_groups)
        decoys_flagged += d_found
    weeks = len(WEEKS)
    report.record("detection recall (planted near-site clusters)", recalled / planted, "ratio",
                  planted=planted)  # fmt: skip
    report.record("detection precision (flags in planted weeks)", flags_true / max(flags_all, 1),
                  "ratio", flags=flags_all)  # fmt: skip
    report.record("detection decoys flagged (far from sites)", decoys_flagged, "count",
                  decoys=decoys)  # fmt: skip
    report.record(
        "detection false flags per week (pure background)", bg_flags / weeks, "flags/week"
    )
    report.record("detection clusters per week (pure background)", bg_clusters / weeks,
                  "clusters/week")  # fmt: skip
    report.record("detection alpha (FDR level)", params.alpha, "")
    report.record("detection in-memory scan per week (incl. flags)",
                  (time.perf_counter() - t0) / (2 * weeks), "s")  # fmt: skip


def _store_events(engine: Engine, background: pd.DataFrame) -> None:
    chunk = 100_000
    for start in range(0, len(background), chunk):
        part = sc.canonical(background.iloc[start : start + chunk])
        with session_scope(engine) as s:
            batch = start_batch(s, source_agency="BENCH", kind="incident", origin="bench",
                                content_sha256=None, profile=None)  # fmt: skip
            counts = upsert_events(s, part, source_agency="BENCH", batch_id=batch.id)
            finish_batch(s, batch, rows_read=len(part), counts=counts, quarantined=0)


def _timed_run(report: Any, engine: Engine, backend: str, background: pd.DataFrame) -> None:
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False), env="test")
    t0 = time.perf_counter()
    _store_events(engine, background)
    report.record(f"detection store {len(background):,} events ({backend})",
                  time.perf_counter() - t0, "s")  # fmt: skip
    until = (START + pd.Timedelta(weeks=30)).to_pydatetime()
    for label, kwargs in [("latest window", {}), ("back-test 8 weeks", {"since": until})]:
        if kwargs:
            kwargs = {"since": until - pd.Timedelta(weeks=8).to_pytimedelta()}
        t0 = time.perf_counter()
        out = run_detection(engine, settings, until=until, **kwargs)
        report.record(f"detection run_detection {label}, 1M stored ({backend})",
                      time.perf_counter() - t0, "s", events_read=out.events_read,
                      flags=out.candidates)  # fmt: skip


def run(report: Any) -> None:
    """Run the detection benchmark and record its figures."""
    report.record("detection machine load (1 min)", os.getloadavg()[0], "")
    path = ROOT / "var" / "bench" / "detection.sqlite"
    path.unlink(missing_ok=True)
    lite = make_engine(f"sqlite:///{path}")
    sites = _load_sites(lite)
    background = sc.with_ids(sc.background(N_EVENTS, seed=42, days=365), prefix="bg")
    _quality(report, sites, background)
    _timed_run(report, lite, "spatialite", background)
    lite.dispose()
    base = os.environ.get("WATCHFLOOR_BENCH_POSTGIS_URL")
    if not base:
        return
    with postgis_schema(base, "bench_i5") as url:
        pg = make_engine(url)
        try:
            _load_sites(pg)
            _timed_run(report, pg, "postgis", background)
        finally:
            pg.dispose()

"""Seeded detection scenarios: realistic background, planted clusters near sites, decoys far away.

Used by ``bench/bench_detection.py`` and by the detection tests, so both measure the same thing.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from analytics.cells import points_to_cells
from analytics.proximity import to_state_plane
from testkit import synthetic

PRE_OPERATIONAL = np.array(["SURVL", "PHOTO", "TESTSEC", "INTRSN"])
_M_PER_DEG_LAT = 111_320.0


def background(
    n: int, *, seed: int, start: str = "2023-01-01", days: int = 365, sar_share: float = 0.05
) -> pd.DataFrame:
    """Return ``n`` background events over Massachusetts (``testkit.synthetic``), dense downtown.

    A realistic share of them (``sar_share``) are suspicious-activity reports.
    """
    frame = synthetic.events(n, seed=seed, start=start, days=days)
    rng = np.random.default_rng(seed + 1)
    suspicious = rng.random(n) < sar_share
    frame["kind"] = np.where(suspicious, "suspicious", "incident")
    frame["category"] = np.where(
        suspicious,
        rng.choice(synthetic.SAR_CODES, n),
        rng.choice(synthetic.INCIDENT_TYPES, n),
    ).astype(object)
    return frame


def plant(
    lat: float,
    lon: float,
    *,
    n: int,
    until: pd.Timestamp,
    seed: int,
    days: float = 5.0,
    spread_m: float = 120.0,
) -> pd.DataFrame:
    """Return ``n`` pre-operational suspicious events near a point, ``days`` before ``until``."""
    rng = np.random.default_rng(seed)
    dlat = rng.normal(0, spread_m, n) / _M_PER_DEG_LAT
    dlon = rng.normal(0, spread_m, n) / (_M_PER_DEG_LAT * np.cos(np.radians(lat)))
    return pd.DataFrame(
        {
            "lat": lat + dlat,
            "lon": lon + dlon,
            "occurred_at": until - pd.to_timedelta(rng.uniform(60, days * 86_400, n), unit="s"),
            "kind": "suspicious",
            "category": rng.choice(PRE_OPERATIONAL, n).astype(object),
            "severity": rng.integers(2, 5, n),
        }
    )


def far_points(
    sites: pd.DataFrame, *, n: int, seed: int, min_distance_m: float = 6_000.0
) -> list[tuple[float, float]]:
    """Return ``n`` (lat, lon) points in Massachusetts ``min_distance_m`` or more from any site."""
    rng = np.random.default_rng(seed)
    sx, sy = to_state_plane(sites["lon"], sites["lat"])
    west, south, east, north = synthetic.MA_BBOX
    out: list[tuple[float, float]] = []
    while len(out) < n:
        lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        x, y = to_state_plane([lon], [lat])
        if np.min(np.hypot(sx - x[0], sy - y[0])) >= min_distance_m:
            out.append((float(lat), float(lon)))
    return out


def with_ids(frame: pd.DataFrame, *, prefix: str, store_res: int = 11) -> pd.DataFrame:
    """Add ``id``, ``external_id``, ``cell`` and default handling/agency columns."""
    out = frame.reset_index(drop=True).copy()
    out["external_id"] = [f"{prefix}-{i}" for i in range(len(out))]
    out["id"] = np.arange(len(out), dtype=np.int64)
    out["cell"] = points_to_cells(out["lat"].to_numpy(), out["lon"].to_numpy(), store_res)
    out["occurred_at"] = pd.to_datetime(out["occurred_at"], utc=True)
    if "handling" not in out:
        out["handling"] = "TLP:GREEN"
    if "source_agency" not in out:
        out["source_agency"] = "BENCH"
    return out


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the rows in the canonical event columns (for ``store.writes.upsert_events``)."""
    out = pd.DataFrame(
        {
            "external_id": frame["external_id"],
            "kind": frame["kind"],
            "category": frame["category"],
            "source_category": frame["category"],
            "occurred_at": frame["occurred_at"],
            "reported_at": frame["occurred_at"],
            "description": None,
            "location_text": None,
            "handling": frame["handling"],
            "severity": frame.get("severity", 1),
            "lon": frame["lon"],
            "lat": frame["lat"],
            "cell": frame["cell"],
        }
    )
    out["content_hash"] = [
        hashlib.sha256(f"{e}|{t}".encode()).hexdigest()
        for e, t in zip(out["external_id"], out["occurred_at"], strict=True)
    ]
    return out

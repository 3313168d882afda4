"""Seeded synthetic events over Massachusetts, clustered like real incidents.

Most events fall in Gaussian hot spots around real urban centres (Boston weighted highest), the
rest uniformly over the state's bounding box; times follow a daily cycle over a year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# (lat, lon, weight, spread in degrees): Boston, Cambridge, Worcester, Springfield, Lowell,
# Brockton, New Bedford, Fall River, Lynn, Quincy.
HOTSPOTS = np.array(
    [
        (42.355, -71.060, 0.30, 0.020),
        (42.373, -71.110, 0.08, 0.012),
        (42.262, -71.802, 0.10, 0.020),
        (42.101, -72.590, 0.10, 0.020),
        (42.633, -71.316, 0.06, 0.015),
        (42.083, -71.018, 0.06, 0.015),
        (41.636, -70.934, 0.05, 0.015),
        (41.701, -71.155, 0.05, 0.015),
        (42.466, -70.949, 0.05, 0.012),
        (42.252, -71.002, 0.05, 0.012),
    ]
)
MA_BBOX = (-73.3, 41.3, -69.95, 42.85)  # west, south, east, north
SAR_CODES = np.array(["SURVL", "TESTSEC", "THREAT", "WPNS", "PHOTO", "INTRSN"])
INCIDENT_TYPES = np.array(
    ["LARCENY SHOPLIFTING", "VANDALISM", "M/V ACCIDENT", "ASSAULT - SIMPLE", "TOWED MOTOR VEHICLE"]
)


def events(
    n: int, *, seed: int = 42, start: str = "2023-01-01", days: int = 365, background: float = 0.15
) -> pd.DataFrame:
    """Return ``n`` synthetic events: lat, lon, occurred_at (UTC), kind, category, severity.

    Parameters
    ----------
    n
        Number of events.
    seed
        Random seed (same seed, same events).
    start, days
        Period covered.
    background
        Share of events spread uniformly over the state's bounding box.
    """
    rng = np.random.default_rng(seed)
    n_bg = int(n * background)
    n_hot = n - n_bg
    weights = HOTSPOTS[:, 2] / HOTSPOTS[:, 2].sum()
    which = rng.choice(len(HOTSPOTS), size=n_hot, p=weights)
    lat = np.concatenate(
        [
            HOTSPOTS[which, 0] + rng.normal(0, 1, n_hot) * HOTSPOTS[which, 3],
            rng.uniform(MA_BBOX[1], MA_BBOX[3], n_bg),
        ]
    )
    lon = np.concatenate(
        [
            HOTSPOTS[which, 1] + rng.normal(0, 1, n_hot) * HOTSPOTS[which, 3] * 1.35,
            rng.uniform(MA_BBOX[0], MA_BBOX[2], n_bg),
        ]
    )
    order = rng.permutation(n)
    day = rng.integers(0, days, n)
    # Daily cycle: more in the afternoon and evening (local hours ~ 14-22).
    hour = np.clip(rng.normal(17, 5, n), 0, 23.99)
    t0 = pd.Timestamp(start, tz="America/New_York")
    occurred = (t0 + pd.to_timedelta(day, unit="D") + pd.to_timedelta(hour, unit="h")).tz_convert(
        "UTC"
    )
    suspicious = rng.random(n) < 0.2
    category = np.where(suspicious, rng.choice(SAR_CODES, n), rng.choice(INCIDENT_TYPES, n)).astype(
        object
    )
    return pd.DataFrame(
        {
            "lat": lat[order],
            "lon": lon[order],
            "occurred_at": occurred,
            "kind": np.where(suspicious, "suspicious", "incident"),
            "category": category,
            "severity": rng.integers(1, 6, n),
        }
    )

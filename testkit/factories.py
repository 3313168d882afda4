"""Build canonical event frames and raw tables with sensible defaults for tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_loaders.readers import RawTable

BOSTON = (42.36, -71.06)


def raw_events(n: int, *, seed: int = 0, start: str = "2023-02-01", days: int = 30) -> RawTable:
    """Return a raw CSV-like table of ``n`` events around Boston, with mixed categories."""
    rng = np.random.default_rng(seed)
    lat = BOSTON[0] + rng.normal(0, 0.03, n)
    lon = BOSTON[1] + rng.normal(0, 0.04, n)
    t0 = pd.Timestamp(start, tz="UTC")
    when = t0 + pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s")
    cats = rng.choice(["INVESTIGATE PERSON", "LARCENY SHOPLIFTING", "BOMB THREAT", "VANDALISM"], n)
    frame = pd.DataFrame(
        {
            "INCIDENT_NUMBER": [f"T{seed}-{i}" for i in range(n)],
            "OFFENSE_DESCRIPTION": cats,
            "OCCURRED_ON_DATE": when.strftime("%Y-%m-%d %H:%M:%S+00"),
            "Lat": lat.round(6).astype(str),
            "Long": lon.round(6).astype(str),
            "STREET": "TEST ST",
            "SHOOTING": "0",
        }
    )
    return RawTable(frame=frame)

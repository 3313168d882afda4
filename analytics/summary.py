"""The regional picture: events by category against the previous period, sites, busiest cells."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.cells import cells_to_parent, cells_to_str


@dataclass(frozen=True)
class RegionSummary:
    """Tables for one area and window, ready to show or print."""

    categories: pd.DataFrame  # kind, category, now, before, change
    sites: pd.DataFrame  # sector, tier, sites
    busiest: pd.DataFrame  # h3_cell, events, suspicious
    totals: dict[str, int]


def summarise_region(
    now: pd.DataFrame, before: pd.DataFrame, sites: pd.DataFrame, *, res: int = 8, top: int = 10
) -> RegionSummary:
    """Summarise the events of a window (``now``) against the previous one (``before``).

    Parameters
    ----------
    now, before
        Events with ``kind``, ``category`` and ``cell`` (the stored int64 H3 cell).
    sites
        Sites inside the area, with ``sector`` and ``tier``.
    res
        H3 resolution of the busiest-cells table.
    top
        Number of busiest cells.

    Examples
    --------
    >>> now = pd.DataFrame({"kind": ["suspicious", "incident", "incident"],
    ...                     "category": ["SURVL", "VANDALISM", "VANDALISM"],
    ...                     "cell": [int("8b2a3066b8f0fff", 16)] * 3})
    >>> before = now.iloc[:1]
    >>> s = summarise_region(now, before, pd.DataFrame(columns=["sector", "tier"]))
    >>> s.categories[["category", "now", "before", "change"]].values.tolist()
    [['VANDALISM', 2, 0, 2], ['SURVL', 1, 1, 0]]
    """
    keys = ["kind", "category"]
    counts_now = now.groupby(keys).size().rename("now")
    counts_before = before.groupby(keys).size().rename("before")
    table = pd.concat([counts_now, counts_before], axis=1).fillna(0).astype("int64")
    table["change"] = table["now"] - table["before"]
    table = table.reset_index().sort_values(["now", "category"], ascending=[False, True])
    by_sector = (
        sites.groupby(["sector", "tier"]).size().rename("sites").reset_index()
        if len(sites)
        else pd.DataFrame(columns=["sector", "tier", "sites"])
    )
    if len(now):
        hexes = cells_to_parent(now["cell"].to_numpy(dtype=np.int64), res)
        busy = (
            pd.DataFrame({"hex": hexes, "suspicious": (now["kind"] == "suspicious").to_numpy()})
            .groupby("hex")
            .agg(events=("suspicious", "size"), suspicious=("suspicious", "sum"))
            .sort_values(["events", "suspicious"], ascending=False)
            .head(top)
            .reset_index()
        )
        busy.insert(0, "h3_cell", cells_to_str(busy.pop("hex").to_numpy()))
    else:
        busy = pd.DataFrame(columns=["h3_cell", "events", "suspicious"])
    totals = {
        "events_now": len(now),
        "events_before": len(before),
        "suspicious_now": int((now["kind"] == "suspicious").sum()) if len(now) else 0,
        "sites": len(sites),
    }
    return RegionSummary(table.reset_index(drop=True), by_sector, busy, totals)

"""Cluster near a site -> flag candidate: fingerprint, priority score and explanation.

Notes
-----
Priority (0-100) is a weighted sum of five parts in [0, 1], weights in ``PRIORITY_WEIGHTS``:

- significance: ``min(1, -log10(q) / 6)`` (q = 1e-6 or smaller scores 1);
- criticality of the most critical site in reach: tier 1 -> 1, tier 2 -> 0.6, tier 3 -> 0.3;
- proximity: ``1 - distance / radius`` for the nearest site (1 inside the cluster's cells);
- recency: ``exp(-age / 3 days)`` where age is from the cluster's newest event to the window end;
- suspicious share: the share of the cluster's event weight that comes from suspicious events.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics.cells import cell_centres, cells_to_str
from analytics.hotspots import Cluster, DetectionParams
from analytics.proximity import PROJECTED_CRS, sites_near
from domain.caveats import OPEN_CAVEATS, most_restrictive

PRIORITY_WEIGHTS = {
    "significance": 0.30,
    "criticality": 0.25,
    "proximity": 0.15,
    "recency": 0.15,
    "suspicious_share": 0.15,
}
TIER_CRITICALITY = {1: 1.0, 2: 0.6, 3: 0.3}
RECENCY_SCALE_S = 3 * 86_400
METHOD = (
    "Space-time permutation expectation (Kulldorff et al. 2005) with an exact conditional "
    "binomial test per H3 k-ring neighbourhood (Getis-Ord Gi* local sum, Getis & Ord 1992); "
    "Benjamini-Hochberg (1995) FDR across neighbourhoods; adjacent significant cells form one "
    "cluster; distances in metres in EPSG:26986."
)
MIXED_AGENCIES = ""  # no viewer has an empty agency, so only the caveat rule can open the flag
# The figures of a flag that come from the whole run (its expected counts through the area's
# window share, p through that share, q through every neighbourhood tested, priority through q):
# shown only to viewers who may see every input class (rules.statistics).
STATISTIC_FIELDS = ("expected", "expected_weight", "p_value", "q_value", "priority")


@dataclass(frozen=True)
class FlagCandidate:
    """What detection proposes to store: one cluster within reach of at least one site."""

    fingerprint: str
    res: int
    cells: tuple[int, ...]
    event_ids: tuple[int, ...]
    site_ids: tuple[int, ...]
    nearest_site_id: int
    nearest_distance_m: float
    priority: float
    p_value: float
    q_value: float
    observed: int
    expected: float
    handling: str
    source_agency: str
    lon: float
    lat: float
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    first_event_at: pd.Timestamp
    last_event_at: pd.Timestamp
    explanation: dict[str, Any]


def fingerprint(res: int, anchor_cell: int) -> str:
    """Return the fingerprint of a cluster: its resolution and its heaviest cell.

    Re-running on the same data yields the same anchor and so the same fingerprint; a cluster that
    grows keeps its flag through the cell overlap that the store also checks.

    Examples
    --------
    >>> fingerprint(9, 0x892A306603FFFFF)
    '9-892a306603fffff'
    """
    return f"{res}-{cells_to_str([anchor_cell])[0]}"


def priority_score(
    *, q_value: float, tier: int, distance_m: float, radius_m: float, age_s: float, share: float
) -> float:
    """Return the 0-100 priority of a flag (see the module notes).

    Examples
    --------
    >>> priority_score(q_value=1e-6, tier=1, distance_m=0, radius_m=500, age_s=0, share=1.0)
    100.0
    """
    parts = {
        "significance": min(1.0, -math.log10(max(q_value, 1e-300)) / 6.0),
        "criticality": TIER_CRITICALITY.get(int(tier), 0.3),
        "proximity": max(0.0, 1.0 - distance_m / radius_m) if radius_m > 0 else 0.0,
        "recency": math.exp(-max(age_s, 0.0) / RECENCY_SCALE_S),
        "suspicious_share": min(max(share, 0.0), 1.0),
    }
    return round(100.0 * sum(PRIORITY_WEIGHTS[k] * v for k, v in parts.items()), 2)


def flag_visibility(handlings: Sequence[str], agencies: Sequence[str]) -> tuple[str, str]:
    """Return ``(handling, source_agency)`` a flag carries so the event rule can filter it.

    ``handling`` is the most restrictive caveat of everything the flag is built from. The agency
    is the one agency owning every non-open (above TLP:GREEN) item, or ``MIXED_AGENCIES`` when
    several do: then only a viewer cleared for the caveat itself may see the flag (fail closed).

    Examples
    --------
    >>> flag_visibility(["TLP:GREEN", "TLP:RED"], ["BPD", "MSP"])
    ('TLP:RED', 'MSP')
    >>> flag_visibility(["LES", "TLP:RED"], ["BPD", "MSP"])
    ('TLP:RED', '')
    """
    handling = most_restrictive(handlings)
    owners = {a for h, a in zip(handlings, agencies, strict=True) if h not in OPEN_CAVEATS}
    if not owners:
        owners = set(agencies)
    agency = next(iter(owners)) if len(owners) == 1 else MIXED_AGENCIES
    return handling, agency


def input_classes(
    events: pd.DataFrame, *, window_end: pd.Timestamp, params: DetectionParams
) -> list[list[str]]:
    """Return the distinct ``[handling, source_agency]`` of the events a scan's statistics used.

    The expected counts of every cluster depend on the window share of the whole area (the
    space-time permutation model), and q on every neighbourhood tested, so every event in the
    window and its baseline, anywhere, is an input of every flag of that window.

    Examples
    --------
    >>> ev = pd.DataFrame({"occurred_at": pd.to_datetime(["2023-02-27", "2022-01-01"], utc=True),
    ...                    "handling": ["TLP:RED", "TLP:GREEN"], "source_agency": ["B", "A"]})
    >>> input_classes(ev, window_end=pd.Timestamp("2023-03-01", tz="UTC"), params=DetectionParams())
    [['TLP:RED', 'B']]
    """
    start = window_end - pd.Timedelta(seconds=params.window_s + params.baseline_s)
    times = pd.to_datetime(events["occurred_at"], utc=True)
    used = events.loc[(times >= start) & (times < window_end), ["handling", "source_agency"]]
    pairs = {(str(h), str(a)) for h, a in used.drop_duplicates().itertuples(index=False)}
    return [list(pair) for pair in sorted(pairs)]


def build_flags(
    clusters: Sequence[Cluster],
    events: pd.DataFrame,
    sites: pd.DataFrame,
    radii_m: np.ndarray,
    params: DetectionParams,
) -> list[FlagCandidate]:
    """Turn the clusters that reach a site's protection radius into flag candidates.

    Parameters
    ----------
    clusters
        From :func:`analytics.hotspots.scan` over ``events``.
    events
        The frame given to the scan, with ``handling`` and ``source_agency`` too.
    sites
        Columns ``id``, ``name``, ``sector``, ``tier``, ``lon``, ``lat``, ``handling``,
        ``source_agency``.
    radii_m
        Protection radius of each site in metres (:func:`analytics.proximity.protection_radii`).
    params
        The detection parameters (recorded in each explanation).

    Returns
    -------
    list of FlagCandidate
        Highest priority first. Distances are metres in EPSG:26986.
    """
    out = []
    inputs: dict[pd.Timestamp, list[list[str]]] = {}
    for cluster in clusters:
        hits = sites_near(cluster.cells, sites["lon"], sites["lat"], radii_m)
        if not hits:
            continue
        near = sites.iloc[[h.site_index for h in hits]]
        ev = events.iloc[cluster.rows]
        handling, agency = flag_visibility(
            [*ev["handling"], *near["handling"]], [*ev["source_agency"], *near["source_agency"]]
        )
        best_tier = int(near["tier"].min())
        nearest = hits[0]
        score = priority_score(
            q_value=cluster.q_value,
            tier=best_tier,
            distance_m=nearest.distance_m,
            radius_m=nearest.radius_m,
            age_s=(cluster.window_end - cluster.last_at).total_seconds(),
            share=cluster.suspicious_share,
        )
        lat, lon = cell_centres(np.asarray(cluster.cells))
        if cluster.window_end not in inputs:
            inputs[cluster.window_end] = input_classes(
                events, window_end=cluster.window_end, params=params
            )
        site_rows = [
            {
                "id": int(s["id"]),
                "name": str(s["name"]),
                "sector": str(s["sector"]),
                "tier": int(s["tier"]),
                "distance_m": h.distance_m,
                "radius_m": h.radius_m,
            }
            for h, (_, s) in zip(hits, near.iterrows(), strict=True)
        ]
        out.append(
            FlagCandidate(
                fingerprint=fingerprint(params.res, cluster.anchor_cell),
                res=params.res,
                cells=cluster.cells,
                event_ids=tuple(int(i) for i in np.sort(cluster.event_ids)),
                site_ids=tuple(int(s["id"]) for _, s in near.iterrows()),
                nearest_site_id=int(near.iloc[0]["id"]),
                nearest_distance_m=nearest.distance_m,
                priority=score,
                p_value=cluster.p_value,
                q_value=cluster.q_value,
                observed=cluster.observed,
                expected=round(cluster.expected, 3),
                handling=handling,
                source_agency=agency,
                lon=float(np.mean(lon)),
                lat=float(np.mean(lat)),
                window_start=cluster.window_start,
                window_end=cluster.window_end,
                first_event_at=cluster.first_at,
                last_event_at=cluster.last_at,
                explanation=explain(
                    cluster, site_rows, params, score, inputs=inputs[cluster.window_end]
                ),
            )
        )
    return sorted(out, key=lambda f: (-f.priority, f.fingerprint))


def explain(
    cluster: Cluster,
    site_rows: list[dict[str, Any]],
    params: DetectionParams,
    score: float,
    *,
    inputs: list[list[str]] | None = None,
) -> dict[str, Any]:
    """Return the JSON-ready explanation of one flag: what, how unusual, where, how found.

    ``inputs`` are the ``[handling, source_agency]`` classes of every event the statistics used
    (:func:`input_classes`); the store shows the statistics only to viewers who may see them all,
    and never shows the list itself.
    """
    return {
        "summary": (
            f"{cluster.observed} events in {len(cluster.cells)} cells where "
            f"{cluster.expected:.1f} were expected (q = {cluster.q_value:.2g}); nearest site "
            f"{site_rows[0]['name']} ({site_rows[0]['sector']}, tier {site_rows[0]['tier']}) at "
            f"{site_rows[0]['distance_m']:.0f} m"
        ),
        "observed": cluster.observed,
        "expected": round(cluster.expected, 3),
        "observed_weight": round(cluster.observed_weight, 3),
        "expected_weight": round(cluster.expected_weight, 3),
        "by_category": {
            cat: {"observed": obs, "expected": round(exp, 3)}
            for cat, (obs, exp) in cluster.by_category.items()
        },
        "p_value": cluster.p_value,
        "q_value": cluster.q_value,
        "suspicious_share": round(cluster.suspicious_share, 3),
        "cells": cells_to_str(cluster.cells),
        "event_ids": [int(i) for i in np.sort(cluster.event_ids)],
        "sites": site_rows,
        "window": [cluster.window_start.isoformat(), cluster.window_end.isoformat()],
        "events_between": [cluster.first_at.isoformat(), cluster.last_at.isoformat()],
        "priority": score,
        "priority_weights": PRIORITY_WEIGHTS,
        "method": METHOD,
        "distance_crs": PROJECTED_CRS,
        "parameters": params.to_dict(),
        "inputs": inputs,
    }

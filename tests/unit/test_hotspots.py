"""The hot-spot scan: its statistics against references, and its behaviour on seeded scenarios."""

from __future__ import annotations

import doctest
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

import analytics.hotspots as hs
from analytics.cells import cells_to_parent, points_to_cells
from testkit import detection_scenarios as sc

UNTIL = pd.Timestamp("2023-06-01", tz="UTC")
LOGAN = (42.3656, -71.0096)


def test_doctests_pass() -> None:
    result = doctest.testmod(hs)
    assert result.failed == 0 and result.attempted > 0


def test_benjamini_hochberg_equals_definition() -> None:
    p = np.random.default_rng(1).uniform(0, 0.2, 40) ** 2
    m = p.size
    order = np.argsort(p)
    # Reference straight from the definition: q_(i) = min over j >= i of p_(j) * m / j.
    ref = np.empty(m)
    for i, idx in enumerate(order):
        ref[idx] = min(1.0, min(p[order[j]] * m / (j + 1) for j in range(i, m)))
    assert np.allclose(hs.benjamini_hochberg(p), ref)
    assert hs.benjamini_hochberg([]).size == 0


@pytest.mark.parametrize(("x", "n", "share"), [(3, 10, 0.1), (1, 1, 0.3), (7, 40, 0.125)])
def test_binomial_upper_tail_matches_scipy_on_integers(x: int, n: int, share: float) -> None:
    got = hs.binomial_upper_tail([x], [n], share)[0]
    assert got == pytest.approx(binom.sf(x - 1, n, share), rel=1e-9)
    assert hs.binomial_upper_tail([0], [n], share)[0] == 1.0


def test_event_weights_follow_configuration() -> None:
    params = hs.DetectionParams(
        kind_weights={"suspicious": 2.0, "incident": 0.5}, category_weights={"PHOTO": 4.0}
    )
    got = hs.event_weights(
        ["suspicious", "suspicious", "incident"], ["PHOTO", "THREAT", "X"], params
    )
    assert got.tolist() == [8.0, 2.0, 0.5]


def test_params_reject_nonsense() -> None:
    for bad in ({"alpha": 0.0}, {"window_s": 0}, {"k": -1}, {"min_events": 0}, {"res": 16}):
        with pytest.raises(ValueError):
            hs.DetectionParams(**bad)  # type: ignore[arg-type]


@lru_cache(maxsize=4)
def _background(seed: int, n: int = 60_000) -> pd.DataFrame:
    return sc.with_ids(sc.background(n, seed=seed, days=180), prefix="bg")


def test_scan_finds_a_planted_cluster_and_reports_it() -> None:
    bg = _background(7)
    planted = sc.plant(*LOGAN, n=10, until=UNTIL, seed=3)
    events = sc.with_ids(pd.concat([bg, planted], ignore_index=True), prefix="ev")
    planted_ids = set(events["id"].iloc[len(bg) :])
    result = hs.scan(events, until=UNTIL, params=hs.DetectionParams())
    assert result.tests > 100
    best = [c for c in result.clusters if planted_ids & set(c.event_ids.tolist())]
    assert len(best) == 1
    cluster = best[0]
    assert len(planted_ids & set(cluster.event_ids.tolist())) >= 8
    assert cluster.q_value <= 0.05 and cluster.observed > cluster.expected
    # The reported events are the window events of the reported cells, nothing else.
    cells9 = cells_to_parent(events["cell"].to_numpy(), 9)
    in_window = (events["occurred_at"] >= UNTIL - pd.Timedelta(days=7)) & (
        events["occurred_at"] < UNTIL
    )
    ref = set(events["id"][in_window.to_numpy() & np.isin(cells9, cluster.cells)])
    assert set(cluster.event_ids.tolist()) == ref
    assert cluster.by_category["SURVL"][0] + cluster.by_category["PHOTO"][0] >= 1
    assert 0.5 < cluster.suspicious_share <= 1.0


@pytest.mark.parametrize("seed", [11, 12])
def test_scan_stays_quiet_on_pure_background(seed: int) -> None:
    bg = _background(seed)
    found = 0
    for week in range(10, 26, 3):
        until = pd.Timestamp("2023-01-01", tz="UTC") + pd.Timedelta(weeks=week)
        found += len(hs.scan(bg, until=until, params=hs.DetectionParams()).clusters)
    assert found == 0


def test_scan_needs_history_and_events() -> None:
    bg = _background(5, n=2_000)
    params = hs.DetectionParams()
    early = pd.Timestamp("2023-01-03", tz="UTC")  # the window holds data, its baseline none
    assert hs.scan(bg, until=early, params=params).clusters == []
    assert hs.scan(bg.iloc[:0], until=UNTIL, params=params).tests == 0
    with pytest.raises(ValueError, match="columns"):
        hs.scan(bg.drop(columns=["kind"]), until=UNTIL, params=params)
    with pytest.raises(ValueError, match="timezone"):
        hs.scan(bg, until=pd.Timestamp("2023-03-01"), params=params)


def test_scaling_all_weights_changes_nothing() -> None:
    events = sc.with_ids(
        pd.concat([_background(8, 20_000), sc.plant(*LOGAN, n=9, until=UNTIL, seed=4)]),
        prefix="w",
    )
    base = hs.DetectionParams()
    scaled = hs.DetectionParams(
        kind_weights={k: 10 * v for k, v in base.kind_weights.items()},
    )
    a = hs.scan(events, until=UNTIL, params=base).clusters
    b = hs.scan(events, until=UNTIL, params=scaled).clusters
    assert [c.cells for c in a] == [c.cells for c in b] and a
    assert [c.p_value for c in a] == pytest.approx([c.p_value for c in b])


def test_adjacent_cells_form_one_cluster_distant_ones_two() -> None:
    cells = points_to_cells([42.36, 42.36, 42.5], [-71.06, -71.0625, -71.3], 9)
    cells = np.unique(cells)
    labels = hs._components(cells)
    lab = dict(zip(cells.tolist(), labels.tolist(), strict=True))
    near_a, near_b, far = (
        int(c) for c in points_to_cells([42.36, 42.36, 42.5], [-71.06, -71.0625, -71.3], 9)
    )
    assert lab[near_a] == lab[near_b] != lab[far]

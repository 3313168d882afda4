"""Vectorised cell and bucket counts against plain-Python references."""

from __future__ import annotations

import doctest
from collections import Counter

import h3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analytics.hexagg as hexagg
from analytics.cells import points_to_cells


def test_doctests_pass() -> None:
    result = doctest.testmod(hexagg)
    assert result.failed == 0 and result.attempted > 0


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(0, 300),
    res=st.integers(0, 11),
    n_buckets=st.integers(1, 5),
    dense=st.booleans(),
)
def test_count_cells_equals_counter(
    seed: int, n: int, res: int, n_buckets: int, dense: bool
) -> None:
    rng = np.random.default_rng(seed)
    lat, lon = 42.3 + rng.normal(0, 0.3, n), -71.5 + rng.normal(0, 0.5, n)
    fine = points_to_cells(lat, lon, 11)
    susp = rng.random(n) < 0.3
    sev = rng.integers(1, 6, n)
    buckets = rng.integers(0, n_buckets, n)
    groups = hexagg.group_cells(fine, res)
    code, bidx, total, s, sv = hexagg.count_cells(
        groups.codes,
        len(groups.cells),
        suspicious=susp,
        severity=sev,
        buckets=buckets,
        n_buckets=n_buckets,
        dense_limit=4_000_000 if dense else 0,  # 0 forces the sparse, sort-based path
    )
    parents = [int(h3.cell_to_parent(h3.int_to_str(int(c)), res), 16) for c in fine]
    ref = Counter(zip(parents, buckets.tolist(), strict=True))
    got = {
        (int(groups.cells[c]), int(b)): int(t) for c, b, t in zip(code, bidx, total, strict=True)
    }
    assert got == dict(ref)
    ref_sev = Counter()
    for p, b, v in zip(parents, buckets.tolist(), sev.tolist(), strict=True):
        ref_sev[(p, b)] += v
    assert {
        (int(groups.cells[c]), int(b)): int(v) for c, b, v in zip(code, bidx, sv, strict=True)
    } == dict(ref_sev)
    assert int(s.sum()) == int(susp.sum())


def test_count_cells_without_buckets_and_empty() -> None:
    code, bidx, total, _, _ = hexagg.count_cells(
        np.array([], dtype=np.int32), 0, suspicious=np.array([], dtype=bool), severity=[]
    )
    assert bidx is None and code.size == 0 and total.size == 0


def test_bucket_index_edges_are_half_open() -> None:
    assert hexagg.bucket_index([-1, 0, 10, 19, 20], [0, 10, 20]).tolist() == [-1, 0, 1, 1, 2]


def test_change_scores_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        hexagg.change_scores([1, 2], [[1], [2], [3]])

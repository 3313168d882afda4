"""H3 adapter: vectorised indexing, bit-arithmetic parents and child ranges against h3-py."""

from __future__ import annotations

import doctest

import h3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analytics.cells as cells_mod
from analytics.cells import (
    cell_res,
    cells_to_parent,
    cells_to_str,
    check_res,
    children_range,
    parent_constants,
    points_to_cells,
    str_to_cells,
)

lats = st.floats(min_value=-85, max_value=85, allow_nan=False)
lons = st.floats(min_value=-179.9, max_value=179.9, allow_nan=False)


def test_doctests_pass() -> None:
    result = doctest.testmod(cells_mod)
    assert result.attempted > 0 and result.failed == 0


@settings(max_examples=200, deadline=None)
@given(lat=lats, lon=lons, res=st.integers(0, 15))
def test_points_to_cells_matches_h3(lat: float, lon: float, res: int) -> None:
    cell = points_to_cells([lat], [lon], res)
    assert cells_to_str(cell) == [h3.latlng_to_cell(lat, lon, res)]


@settings(max_examples=200, deadline=None)
@given(lat=lats, lon=lons, fine=st.integers(0, 15), data=st.data())
def test_cells_to_parent_matches_h3(lat: float, lon: float, fine: int, data: st.DataObject) -> None:
    coarse = data.draw(st.integers(0, fine))
    cell = points_to_cells([lat], [lon], fine)
    parent = cells_to_parent(cell, coarse)
    assert cells_to_str(parent) == [h3.cell_to_parent(cells_to_str(cell)[0], coarse)]
    assert cell_res(parent).tolist() == [coarse]


@settings(max_examples=200, deadline=None)
@given(lat=lats, lon=lons, res=st.integers(0, 11), data=st.data())
def test_children_range_holds_exactly_the_children(
    lat: float, lon: float, res: int, data: st.DataObject
) -> None:
    child_res = data.draw(st.integers(res, 15))
    # H3 nesting is approximate: a point's fine cell is a child of its fine cell's parent, not
    # always of the point's own coarse cell. The store counts by the former, so test that.
    child = points_to_cells([lat], [lon], child_res)
    parent = int(cells_to_parent(child, res)[0])
    lo, hi = children_range(parent, child_res)
    assert lo <= int(child[0]) <= hi
    if child_res - res <= 3:  # enumerate every child only while there are few (7**3)
        every = [int(c, 16) for c in h3.cell_to_children(cells_to_str([parent])[0], child_res)]
        assert all(lo <= c <= hi for c in every)
    # A child of a neighbouring cell never falls in the range.
    for neighbour in h3.grid_ring(cells_to_str([parent])[0], 1):
        other = int(h3.cell_to_center_child(neighbour, child_res), 16)
        assert not lo <= other <= hi


def test_parent_constants_fit_signed_bigint() -> None:
    for res in range(16):
        keep, add = parent_constants(res)
        assert -(2**63) <= keep < 2**63 and 0 <= add < 2**63


def test_cells_to_parent_refuses_coarser_cells() -> None:
    coarse = points_to_cells([42.36], [-71.06], 5)
    with pytest.raises(ValueError, match="coarser"):
        cells_to_parent(coarse, 8)


@pytest.mark.parametrize("bad", [-1, 16, 2.5, "8"])
def test_check_res_rejects_invalid(bad: object) -> None:
    with pytest.raises(ValueError):
        check_res(bad)  # type: ignore[arg-type]


def test_str_to_cells_rejects_invalid_ids() -> None:
    with pytest.raises(ValueError, match="not an H3 cell"):
        str_to_cells(["not-a-cell"])


def test_points_to_cells_vectorised_shapes() -> None:
    assert points_to_cells([], [], 8).dtype == np.int64
    with pytest.raises(ValueError, match="same shape"):
        points_to_cells([1.0, 2.0], [1.0], 8)

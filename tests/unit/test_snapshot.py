"""Snapshot blocks: merging a tail equals sorting everything; cell codes of main + tail agree."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.cells import cells_to_parent, points_to_cells
from analytics.hexagg import group_cells
from store.snapshot import FIELDS, Block, EventColumns, merge_blocks, sorted_block

# Few distinct times, so that ties between blocks (same time, ids in any order) are common.
TIMES = st.integers(0, 6)


def _arrays(ids: list[int], times: list[int], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = len(ids)
    lat = 42.36 + rng.normal(0, 0.2, n)
    lon = -71.06 + rng.normal(0, 0.3, n)
    return {
        "id": np.array(ids, dtype=np.int64),
        "cell": points_to_cells(lat, lon, 11),
        "t_us": np.array(times, dtype=np.int64),
        "kind": rng.integers(0, 2, n),
        "severity": rng.integers(1, 6, n),
        "category": rng.integers(0, 3, n),
        "agency": rng.integers(0, 4, n),
        "handling": rng.integers(0, 6, n),
        "lon": lon,
        "lat": lat,
    }


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, np.ndarray]]:
    """Distinct ids dealt into a first block and later batches, in any id order."""
    n = draw(st.integers(0, 60))
    ids = draw(st.permutations(list(range(1, n + 1))))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    times = draw(st.lists(TIMES, min_size=n, max_size=n))
    bounds = [0, *cuts, n]
    return [_arrays(ids[a:b], times[a:b], seed=i) for i, (a, b) in enumerate(pairwise(bounds))]


def _assert_same(a: Block, b: Block) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@settings(max_examples=150)
@given(parts=batches(), res=st.sampled_from([5, 8, 9]))
def test_merged_batches_equal_one_sorted_block(parts, res) -> None:
    main = sorted_block(parts[0])
    main.groups(res)  # memoised codes are carried through every merge
    tail = Block.empty()
    for batch in parts[1:]:
        tail = merge_blocks(tail, sorted_block(batch))
    snapshot = EventColumns(1, 1, main, tail, ("a", "b", "c"), ("w", "x", "y", "z"), ("h",) * 6)
    everything = sorted_block({n: np.concatenate([p[n] for p in parts]) for n in FIELDS})
    # The tail merged into the main block: the order of a full sort, codes as computed afresh.
    whole = snapshot.compacted()
    _assert_same(whole.main, everything)
    fresh = group_cells(everything.cell, res)
    np.testing.assert_array_equal(whole.main.groups(res).cells, fresh.cells)
    np.testing.assert_array_equal(whole.main.groups(res).codes, fresh.codes)
    # Before merging: both blocks' codes point into one sorted set of cells, each at its own.
    index = snapshot.cell_index(res)
    np.testing.assert_array_equal(index.cells, fresh.cells)
    for part, block in enumerate(snapshot.parts):
        codes = index.codes(part, slice(None), np.ones(len(block), dtype=bool))
        np.testing.assert_array_equal(index.cells[codes], cells_to_parent(block.cell, res))
    assert len(snapshot) == len(everything) and snapshot.max_id == len(everything)


def test_merge_places_a_late_row_between_rows_of_its_time() -> None:
    main = sorted_block(_arrays([1, 5, 9], [10, 10, 10], seed=1))
    late = sorted_block(_arrays([7, 3], [10, 10], seed=2))
    merged = merge_blocks(main, late)
    assert merged.id.tolist() == [1, 3, 5, 7, 9]
    assert merge_blocks(main, Block.empty()) is main


@settings(max_examples=60)
@given(
    tables=st.lists(
        st.lists(st.booleans(), min_size=24, max_size=24).map(
            lambda v: np.array(v, dtype=bool).reshape(6, 4)
        ),
        min_size=1,
        max_size=12,
    )
)
def test_visible_rows_equal_the_lookup_for_every_table_asked(tables) -> None:
    # More tables than are kept, repeated: each answer is the per-row lookup of its own table.
    block = sorted_block(_arrays(list(range(1, 41)), [i % 7 for i in range(40)], seed=3))
    for table in tables + tables[::-1]:
        np.testing.assert_array_equal(block.visible(table), table[block.handling, block.agency])


def test_recoded_block_does_not_reuse_visible_rows() -> None:
    block = sorted_block(_arrays(list(range(1, 21)), [0] * 20, seed=4))
    table = np.zeros((6, 4), dtype=bool)
    table[0] = True
    before = block.visible(table).copy()
    recoded = block.recoded(handling=(block.handling + 1) % 6)
    np.testing.assert_array_equal(recoded.visible(table), table[recoded.handling, recoded.agency])
    assert (recoded.visible(table) != before).any()

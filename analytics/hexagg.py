"""Vectorised counts per H3 cell (and per time bucket) over columnar event arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from analytics.cells import IntArray, cells_to_parent, check_res

BoolArray = npt.NDArray[np.bool_]

# Above this many (bucket x cell) slots a dense bincount would allocate too much; sort instead.
_DENSE_SLOTS = 4_000_000


@dataclass(frozen=True)
class CellGroups:
    """The distinct cells at ``res`` of a set of events and each event's index into them."""

    res: int
    cells: IntArray
    codes: npt.NDArray[np.int32]


def group_cells(cells: npt.ArrayLike, res: int) -> CellGroups:
    """Roll stored cells up to ``res`` and index each into the sorted distinct parents.

    Parameters
    ----------
    cells
        ``int64`` cells at the stored (finest) resolution.
    res
        Target resolution, not finer than the stored one.

    Returns
    -------
    CellGroups
        Sorted distinct parent cells and one ``int32`` code per input cell.

    Examples
    --------
    >>> from analytics.cells import points_to_cells
    >>> g = group_cells(points_to_cells([42.36, 42.36, 41.7], [-71.06, -71.06, -70.9], 11), 7)
    >>> len(g.cells), g.codes.tolist()
    (2, [0, 0, 1])
    """
    check_res(res)
    parents = cells_to_parent(cells, res)
    # Hash-based factorize (sorting only the distinct cells) is 2-3x faster than np.unique here.
    codes, uniq = pd.factorize(parents, sort=True)
    return CellGroups(res=res, cells=np.asarray(uniq, dtype=np.int64), codes=codes.astype(np.int32))


def bucket_index(t_us: npt.ArrayLike, edges_us: npt.ArrayLike) -> IntArray:
    """Return the index of the bucket holding each instant (``-1`` before the first edge).

    Bucket ``i`` is ``[edges_us[i], edges_us[i + 1])``; the last one is open-ended.

    Examples
    --------
    >>> bucket_index([0, 9, 10, 25], [0, 10, 20]).tolist()
    [0, 0, 1, 2]
    """
    edges = np.asarray(edges_us, dtype=np.int64)
    return (np.searchsorted(edges, np.asarray(t_us, dtype=np.int64), side="right") - 1).astype(
        np.int64
    )


def count_cells(
    codes: npt.ArrayLike,
    n_cells: int,
    *,
    suspicious: BoolArray,
    severity: npt.ArrayLike,
    buckets: npt.ArrayLike | None = None,
    n_buckets: int = 0,
    dense_limit: int = _DENSE_SLOTS,
) -> tuple[IntArray, IntArray | None, IntArray, IntArray, IntArray]:
    """Count events per cell code (and per bucket), returning only non-empty slots.

    Parameters
    ----------
    codes
        Cell code (``0..n_cells-1``) of each selected event.
    n_cells
        Number of distinct cells the codes index.
    suspicious
        Whether each event is suspicious (the rest are incidents).
    severity
        Severity of each event.
    buckets, n_buckets
        Optional bucket index (``0..n_buckets-1``) of each event.
    dense_limit
        Most slots counted with a dense ``bincount``; beyond, slots are found by sorting.

    Returns
    -------
    tuple
        ``(code, bucket or None, total, suspicious, severity_sum)`` arrays, sorted by bucket
        then code.

    Examples
    --------
    >>> code, _, total, susp, sev = count_cells(
    ...     [2, 0, 2], 3, suspicious=np.array([True, False, False]), severity=[5, 1, 2])
    >>> code.tolist(), total.tolist(), susp.tolist(), sev.tolist()
    ([0, 2], [1, 2], [0, 1], [1, 7])
    """
    code_a = np.asarray(codes, dtype=np.int64)
    sev = np.asarray(severity, dtype=np.float64)
    susp = np.asarray(suspicious, dtype=np.float64)
    if buckets is None:
        key, n_slots = code_a, max(n_cells, 1)
    else:
        key = np.asarray(buckets, dtype=np.int64) * n_cells + code_a
        n_slots = max(n_buckets * n_cells, 1)
    if n_slots <= dense_limit:
        slots = np.arange(n_slots, dtype=np.int64)
        dense_idx = key
    else:
        slots, dense_idx = np.unique(key, return_inverse=True)
        n_slots = len(slots)
    total = np.bincount(dense_idx, minlength=n_slots)
    keep = np.flatnonzero(total)
    susp_n = np.bincount(dense_idx, weights=susp, minlength=n_slots)[keep]
    sev_sum = np.bincount(dense_idx, weights=sev, minlength=n_slots)[keep]
    present = slots[keep]
    return (
        present % max(n_cells, 1) if buckets is not None else present,
        present // max(n_cells, 1) if buckets is not None else None,
        total[keep].astype(np.int64),
        np.rint(susp_n).astype(np.int64),
        np.rint(sev_sum).astype(np.int64),
    )


def change_scores(current: npt.ArrayLike, trailing: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Score each cell's count against the same cell in the trailing windows (a z-score).

    Parameters
    ----------
    current
        Count per cell in the window of interest.
    trailing
        Counts per cell in ``k`` earlier windows of the same length, shape ``(n_cells, k)``.

    Returns
    -------
    numpy.ndarray
        ``(current - mean) / max(std, 1)`` per cell: positive means more than usual.

    Notes
    -----
    The standard deviation is floored at one event so that a cell that was always empty and now
    has one event scores 1, not infinity; with few trailing windows the score is descriptive,
    not a significance test.

    Examples
    --------
    >>> change_scores([5, 0, 2], [[1, 1, 1, 1], [2, 2, 2, 2], [0, 4, 0, 4]]).tolist()
    [4.0, -2.0, 0.0]
    """
    cur = np.asarray(current, dtype=np.float64)
    past = np.asarray(trailing, dtype=np.float64)
    if past.ndim != 2 or past.shape[0] != cur.shape[0] or past.shape[1] < 1:
        raise ValueError("trailing must have shape (n_cells, k >= 1)")
    mean = past.mean(axis=1)
    std = np.maximum(past.std(axis=1), 1.0)
    scores: npt.NDArray[np.float64] = (cur - mean) / std
    return scores

"""Space-time hot spots on the H3 grid: a weighted test per cell neighbourhood, FDR, clusters.

Notes
-----
Method (see the README section "Detection"):

1. Every event gets a weight: its kind's weight (suspicious > incident) times its category's weight
   (ISE-SAR categories that point at pre-operational planning weigh more). Both are configuration.
2. Events are rolled up to H3 cells at ``res``. For the window ``[until - window_s, until)`` and the
   trailing baseline before it, each cell has a weighted window sum and a weighted total.
3. The expected window share of a cell follows the space-time permutation model of Kulldorff et
   al. (2005): ``expected = cell total * window total / grand total``, so a global rise or fall in
   reporting does not light up every cell. Conditional on a neighbourhood's total, its window sum
   is binomial with that share (the exact conditional test comparing two Poisson rates, which
   accounts for the uncertainty of a short baseline). Weighted sums use Satterthwaite's scaled
   approximation: sums divided by ``phi = sum(w**2) / sum(w)`` behave like counts.
4. The tested unit is each cell's k-ring (``grid_disk(cell, k)``), the local sum of Getis & Ord's
   Gi* (Getis & Ord 1992; Ord & Getis 1995) with binary k-ring weights, so a burst spread over a
   few adjacent cells is found as readily as one inside a single cell.
5. Multiple testing: Benjamini & Hochberg (1995) false-discovery-rate control over every
   neighbourhood with at least ``min_events`` window events (neighbourhoods that cannot reach
   ``min_events`` cannot be significant and are not counted, following Tarone 1990).
6. Significant neighbourhoods, and their cells that hold window events, are joined into clusters by
   H3 adjacency (connected components).

References
----------
Getis, A. and Ord, J. K. (1992). The analysis of spatial association by use of distance statistics.
Geographical Analysis 24(3).
Ord, J. K. and Getis, A. (1995). Local spatial autocorrelation statistics: distributional issues
and an application. Geographical Analysis 27(4).
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57(1).
Kulldorff, M., Heffernan, R., Hartman, J., Assunção, R. and Mostashari, F. (2005). A space-time
permutation scan statistic for disease outbreak detection. PLoS Medicine 2(3): e59.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import h3ronpy
import numpy as np
import numpy.typing as npt
import pandas as pd
from h3.api import basic_int as _h3int
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import betainc

from analytics.cells import IntArray, cells_to_parent, check_res
from domain.detection import DEFAULT_CATEGORY_WEIGHTS, DEFAULT_KIND_WEIGHTS

FloatArray = npt.NDArray[np.float64]

EVENT_COLUMNS = ("id", "cell", "occurred_at", "kind", "category")


@dataclass(frozen=True)
class DetectionParams:
    """Parameters of one detection run; the defaults work on the Boston demo (see README)."""

    res: int = 9
    window_s: int = 7 * 86_400
    baseline_s: int = 56 * 86_400
    k: int = 1
    alpha: float = 0.05
    min_events: int = 4
    kind_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS))
    category_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_WEIGHTS)
    )

    def __post_init__(self) -> None:
        check_res(self.res)
        if self.window_s <= 0 or self.baseline_s <= 0:
            raise ValueError("window_s and baseline_s must be positive")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if self.k < 0 or self.min_events < 1:
            raise ValueError("k must be >= 0 and min_events >= 1")

    def to_dict(self) -> dict[str, object]:
        """Return the parameters as a JSON-ready dict (for a flag's explanation)."""
        return {
            "res": self.res,
            "window_s": self.window_s,
            "baseline_s": self.baseline_s,
            "k": self.k,
            "alpha": self.alpha,
            "min_events": self.min_events,
            "kind_weights": dict(self.kind_weights),
            "category_weights": dict(self.category_weights),
        }


@dataclass(frozen=True)
class Cluster:
    """Adjacent significant cells in one window, with what was observed and expected there."""

    cells: tuple[int, ...]
    rows: IntArray  # positions of the cluster's window events in the input frame
    event_ids: IntArray
    anchor_cell: int  # the cell with the largest weighted window sum (ties: smallest id)
    observed: int
    expected: float
    observed_weight: float
    expected_weight: float
    by_category: dict[str, tuple[int, float]]  # category -> (observed, expected)
    p_value: float
    q_value: float
    suspicious_share: float
    first_at: pd.Timestamp
    last_at: pd.Timestamp
    window_start: pd.Timestamp
    window_end: pd.Timestamp


@dataclass(frozen=True)
class ScanResult:
    """Every cluster of one window, plus what the scan tested (for explanations and benches)."""

    clusters: list[Cluster]
    tests: int
    window_share: float


def event_weights(
    kind: npt.ArrayLike, category: npt.ArrayLike, params: DetectionParams
) -> FloatArray:
    """Return each event's weight: kind weight times category weight (1 when not listed).

    Examples
    --------
    >>> event_weights(["suspicious", "incident"], ["SURVL", "LARCENY"], DetectionParams()).tolist()
    [3.0, 0.2]
    """
    # Factorise first: a lookup per distinct value instead of per event.
    k_codes, k_uniq = pd.factorize(np.asarray(kind, dtype=object))
    c_codes, c_uniq = pd.factorize(np.asarray(category, dtype=object))
    k_table = np.array([params.kind_weights.get(v, 0.0) for v in k_uniq] + [0.0])
    c_table = np.array([params.category_weights.get(v, 1.0) for v in c_uniq] + [1.0])
    weights: FloatArray = k_table[k_codes] * c_table[c_codes]
    return weights


def benjamini_hochberg(p: npt.ArrayLike) -> FloatArray:
    """Return Benjamini-Hochberg (1995) adjusted p-values (q-values), monotone and capped at 1.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    p_arr = np.asarray(p, dtype=np.float64)
    m = p_arr.size
    if m == 0:
        return np.empty(0)
    order = np.argsort(p_arr)
    ranked = p_arr[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q_sorted, 1.0)
    return out


def binomial_upper_tail(x: npt.ArrayLike, n: npt.ArrayLike, share: float) -> FloatArray:
    """Return ``P(X >= x)`` for ``X ~ Binomial(n, share)``, continuous in ``x`` and ``n``.

    Notes
    -----
    ``P(X >= x) = I_share(x, n - x + 1)`` (regularised incomplete beta), which also serves the
    scaled (non-integer) counts of weighted sums. ``x <= 0`` gives 1.

    Examples
    --------
    >>> float(binomial_upper_tail([3], [3], 0.5)[0])
    0.125
    """
    x_arr = np.asarray(x, dtype=np.float64)
    n_arr = np.asarray(n, dtype=np.float64)
    out = np.ones_like(x_arr)
    ok = x_arr > 0
    out[ok] = betainc(x_arr[ok], np.maximum(n_arr[ok] - x_arr[ok], 0.0) + 1.0, share)
    return out


def _disks(cells: IntArray, k: int) -> IntArray:
    """Return an ``(n, 3k^2+3k+1)`` matrix of each cell's k-ring, padded with -1 (pentagons)."""
    width = 3 * k * k + 3 * k + 1
    if cells.size == 0:
        return np.empty((0, width), dtype=np.int64)
    flat = np.asarray(h3ronpy.grid_disk(cells.astype(np.uint64), k, flatten=True))
    if flat.size == cells.size * width:  # no pentagon among them: the fast vectorised path
        return flat.astype(np.int64).reshape(cells.size, width)
    out = np.full((cells.size, width), -1, dtype=np.int64)
    for i, cell in enumerate(cells.tolist()):
        ring = _h3int.grid_disk(cell, k)
        out[i, : len(ring)] = ring
    return out


def _epoch_ns(times: pd.Series) -> IntArray:
    """Return instants as int64 UTC nanoseconds (cheap when already timezone-aware)."""
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        times = pd.to_datetime(times, utc=True)  # text or naive values: read as UTC
    ns: IntArray = pd.DatetimeIndex(times).tz_convert("UTC").as_unit("ns").asi8
    return ns


def _lookup(sorted_cells: IntArray, query: IntArray) -> IntArray:
    """Return the position of each query cell in ``sorted_cells``, or -1 when absent."""
    pos = np.searchsorted(sorted_cells, query)
    pos = np.minimum(pos, max(sorted_cells.size - 1, 0))
    found = (sorted_cells.size > 0) & (sorted_cells[pos] == query) & (query >= 0)
    at: IntArray = np.where(found, pos, -1)
    return at


def _components(cells: IntArray) -> IntArray:
    """Label connected components of ``cells`` (sorted, unique) under H3 adjacency."""
    if cells.size == 0:
        return np.empty(0, dtype=np.int64)
    disks = _disks(cells, 1)
    nbr = _lookup(cells, disks.ravel()).reshape(disks.shape)
    rows, cols = np.nonzero(nbr >= 0)
    graph = coo_matrix(
        (np.ones(rows.size), (rows, nbr[rows, cols])), shape=(cells.size, cells.size)
    )
    _, labels = connected_components(graph, directed=False)
    out: IntArray = labels.astype(np.int64)
    return out


def scan(events: pd.DataFrame, *, until: pd.Timestamp, params: DetectionParams) -> ScanResult:
    """Find significant space-time clusters in the window ending at ``until``.

    Parameters
    ----------
    events
        Columns ``EVENT_COLUMNS``: ``id``, ``cell`` (int64 at any resolution not coarser than
        ``params.res``), ``occurred_at`` (UTC), ``kind`` and ``category``. Rows outside the
        window and its baseline are ignored.
    until
        End (exclusive, UTC) of the window tested.
    params
        Resolution, window and baseline lengths, k-ring size, FDR level, minimum events, weights.

    Returns
    -------
    ScanResult
        Clusters ordered by q-value, the number of neighbourhoods tested and the window share.

    Notes
    -----
    See the module docstring for the method and its references.

    Examples
    --------
    >>> empty = pd.DataFrame({c: [] for c in EVENT_COLUMNS})
    >>> scan(empty, until=pd.Timestamp("2023-03-01", tz="UTC"), params=DetectionParams()).tests
    0
    """
    missing = set(EVENT_COLUMNS) - set(events.columns)
    if missing:
        raise ValueError(f"events lack columns {sorted(missing)}")
    until = pd.Timestamp(until)
    if until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    win_start = until - pd.Timedelta(seconds=params.window_s)
    base_start = win_start - pd.Timedelta(seconds=params.baseline_s)
    t = _epoch_ns(events["occurred_at"])
    keep = (t >= base_start.value) & (t < until.value)
    rows = np.flatnonzero(keep)
    in_win = t[rows] >= win_start.value
    empty = ScanResult([], 0, 0.0)
    if not in_win.any() or in_win.all():
        return empty  # nothing to test, or no history to test it against
    sub = events.iloc[rows]
    w = event_weights(sub["kind"].to_numpy(), sub["category"].to_numpy(), params)
    cell = cells_to_parent(sub["cell"].to_numpy(dtype=np.int64), params.res)
    uniq, inv = np.unique(cell, return_inverse=True)
    n_u = uniq.size
    # Weighted bincounts are float64 already (astype without a copy); the stubs say int.
    win_w = np.bincount(inv, w * in_win, n_u).astype(np.float64, copy=False)
    tot_w = np.bincount(inv, w, n_u).astype(np.float64, copy=False)
    tot_w2 = np.bincount(inv, w * w, n_u).astype(np.float64, copy=False)
    win_n = np.bincount(inv, in_win.astype(np.float64), n_u).astype(np.float64, copy=False)
    grand = tot_w.sum()
    if grand <= 0 or win_w.sum() <= 0 or win_w.sum() >= grand:
        return empty
    share = float(win_w.sum() / grand)
    members, p_cell, q_cell, tests = _scan(uniq, win_w, tot_w, tot_w2, win_n, share, params)
    labels = _components(members)
    clusters: list[Cluster] = []
    for label in np.unique(labels):
        c_cells = members[labels == label]
        clusters.append(
            _describe(
                c_cells,
                p_cell[labels == label],
                q_cell[labels == label],
                sub=sub,
                rows=rows,
                cell=cell,
                in_win=in_win,
                w=w,
                share=share,
                window=(win_start, until),
            )
        )
    clusters.sort(key=lambda c: (c.q_value, c.p_value, c.anchor_cell))
    return ScanResult(clusters, tests, share)


def _scan(
    uniq: IntArray,
    win_w: FloatArray,
    tot_w: FloatArray,
    tot_w2: FloatArray,
    win_n: FloatArray,
    share: float,
    params: DetectionParams,
) -> tuple[IntArray, FloatArray, FloatArray, int]:
    """Test each candidate neighbourhood; return cluster member cells, their p and q, and tests."""
    active = uniq[win_n > 0]
    centres = np.unique(_disks(active, params.k).ravel()) if params.k else active
    centres = centres[centres >= 0]
    disks = _disks(centres, params.k)
    idx = _lookup(uniq, disks.ravel()).reshape(disks.shape)
    valid = idx >= 0
    safe = np.where(valid, idx, 0)

    def disk_sum(values: FloatArray) -> FloatArray:
        summed: FloatArray = np.where(valid, values[safe], 0.0).sum(axis=1)
        return summed

    x, total, total2, n_events = (disk_sum(v) for v in (win_w, tot_w, tot_w2, win_n))
    tested = n_events >= params.min_events
    tests = int(tested.sum())
    none = np.empty(0, dtype=np.int64)
    if tests == 0:
        return none, np.empty(0), np.empty(0), 0
    phi = total2[tested] / total[tested]
    p = binomial_upper_tail(x[tested] / phi, total[tested] / phi, share)
    q = benjamini_hochberg(p)
    sig = q <= params.alpha
    if not sig.any():
        return none, np.empty(0), np.empty(0), tests
    sig_idx = np.flatnonzero(tested)[sig]
    # A cluster holds its significant centres and every cell of their disks with window events.
    member_pos = idx[sig_idx][valid[sig_idx]]
    member_pos = member_pos[win_n[member_pos] > 0]
    members = np.union1d(centres[sig_idx], uniq[member_pos])
    # Each member carries the best p and q of the significant neighbourhoods that contain it.
    p_m = np.ones(members.size)
    q_m = np.ones(members.size)
    for disk, p_j, q_j in zip(disks[sig_idx], p[sig], q[sig], strict=True):
        pos = _lookup(members, disk[disk >= 0])
        pos = pos[pos >= 0]
        p_m[pos] = np.minimum(p_m[pos], p_j)
        q_m[pos] = np.minimum(q_m[pos], q_j)
    return members, p_m, q_m, tests


def _describe(
    c_cells: IntArray,
    p_cells: FloatArray,
    q_cells: FloatArray,
    *,
    sub: pd.DataFrame,
    rows: IntArray,
    cell: IntArray,
    in_win: npt.NDArray[np.bool_],
    w: FloatArray,
    share: float,
    window: tuple[pd.Timestamp, pd.Timestamp],
) -> Cluster:
    """Summarise one cluster: its events, observed vs expected overall and by category."""
    inside = np.isin(cell, c_cells)
    win_mask = inside & in_win
    n_share = float(in_win.sum() / in_win.size)
    cats = sub["category"].to_numpy(dtype=object)
    by_category: dict[str, tuple[int, float]] = {}
    for cat in sorted(set(cats[inside].tolist())):
        is_cat = inside & (cats == cat)
        by_category[str(cat)] = (int((is_cat & in_win).sum()), float(is_cat.sum() * n_share))
    win_w_cell = pd.Series(w[win_mask]).groupby(cell[win_mask]).sum()
    anchor = int(win_w_cell[win_w_cell == win_w_cell.max()].index.min())
    kinds = sub["kind"].to_numpy(dtype=object)
    obs_w = float(w[win_mask].sum())
    times = pd.DatetimeIndex(pd.to_datetime(sub["occurred_at"].to_numpy()[win_mask], utc=True))
    return Cluster(
        cells=tuple(int(c) for c in c_cells),
        rows=rows[win_mask],
        event_ids=sub["id"].to_numpy(dtype=np.int64)[win_mask],
        anchor_cell=anchor,
        observed=int(win_mask.sum()),
        expected=float(inside.sum() * n_share),
        observed_weight=obs_w,
        expected_weight=float(w[inside].sum() * share),
        by_category=by_category,
        p_value=float(p_cells.min()),
        q_value=float(q_cells.min()),
        suspicious_share=float(w[win_mask & (kinds == "suspicious")].sum() / obs_w)
        if obs_w
        else 0.0,
        first_at=times.min(),
        last_at=times.max(),
        window_start=window[0],
        window_end=window[1],
    )

"""One snapshot of the events' aggregate columns: a sorted main block plus a small sorted tail.

Notes
-----
A live stream adds a few rows many times a second. Inserting them into the million-row arrays
sorted by time copies every array (~50 MB per million events) on each refresh; instead they go
into a *tail*: a second, small block of the same columns, also sorted by ``(t_us, id)``. Every
aggregation reads both blocks (a window is a ``searchsorted`` slice of each, counts are one
``bincount`` of both blocks' codes), and the tail is merged into the main block only when it
grows large or old (``store.columnar.TAIL_MAX_ROWS``, ``TAIL_MAX_AGE_S``): the copy of the
big arrays then happens once per tens of thousands of events instead of once per batch.

Cell codes per resolution: the main block memoises its own (sorted distinct cells and one code
per row, ``analytics.hexagg.CellGroups``); a snapshot's :class:`CellIndex` adds the tail's new
cells to those in order and maps the main block's codes with a small position array (one entry
per distinct cell), so the main block's codes are never rewritten for a tail.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics.cells import IntArray, cells_to_parent
from analytics.hexagg import CellGroups, group_cells

FIELDS = ("id", "cell", "t_us", "kind", "severity", "category", "agency", "handling", "lon", "lat")
CODED = ("category", "agency", "handling")  # codes into the snapshot's sorted vocabularies
_DTYPES = {
    "id": np.int64,
    "cell": np.int64,
    "t_us": np.int64,
    "kind": np.int8,
    "severity": np.int8,
    "category": np.int32,
    "agency": np.int32,
    "handling": np.int32,
    "lon": np.float64,
    "lat": np.float64,
}
# Visibility masks kept per block (one byte per row each): one per visibility class in use.
_VISIBLE_KEPT = 8
# Above this many new rows that tie with main rows on time and sort before some of them by id
# (rows committed late), a merge sorts everything instead of placing each tie in a loop.
_TIE_LOOP_MAX = 2_000


@dataclass(eq=False)
class Block:
    """Event rows sorted by ``(t_us, id)``, one numpy array per aggregate column."""

    id: IntArray
    cell: IntArray
    t_us: IntArray
    kind: npt.NDArray[np.int8]
    severity: npt.NDArray[np.int8]
    category: npt.NDArray[np.int32]
    agency: npt.NDArray[np.int32]
    handling: npt.NDArray[np.int32]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    _groups: dict[int, CellGroups] = field(default_factory=dict, repr=False)
    _visible: dict[bytes, npt.NDArray[np.bool_]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __len__(self) -> int:
        return len(self.t_us)

    @classmethod
    def empty(cls) -> Block:
        """Return a block without rows."""
        # One array per field, each of its own dtype: a mapping mypy cannot type field by field.
        arrays: dict[str, Any] = {name: np.zeros(0, dtype=_DTYPES[name]) for name in FIELDS}
        return cls(**arrays)

    def groups(self, res: int) -> CellGroups:
        """Return every row's cell at ``res`` as codes into the sorted distinct cells (memoised)."""
        with self._lock:
            found = self._groups.get(res)
            if found is None:
                found = self._groups[res] = group_cells(self.cell, res)
            return found

    def visible(self, table: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Return whether each row's (handling, agency) pair is allowed by ``table`` (memoised).

        ``table[h, a]`` answers for handling code ``h`` and agency code ``a`` (one viewer's
        visibility, see ``store.queries.hexagg``). The per-row lookup over a window was the
        largest part of selecting rows; a viewer's class asks again with the same table, so the
        answer for every row is kept (one byte per row) and a window is a slice of it.
        Do not write to the result.
        """
        key = str(table.shape).encode() + table.tobytes()
        with self._lock:
            found = self._visible.pop(key, None)
            if found is None:
                found = table[self.handling, self.agency]
                while len(self._visible) >= _VISIBLE_KEPT:
                    self._visible.pop(next(iter(self._visible)))
            self._visible[key] = found  # most recently used last
            return found

    def known_groups(self) -> dict[int, CellGroups]:
        """The memoised cell codes, by resolution (a copy of the mapping)."""
        with self._lock:
            return dict(self._groups)

    def recoded(self, **codes: npt.NDArray[np.int32]) -> Block:
        """Return this block with other vocabulary codes (same rows, same cell codes)."""
        fields: dict[str, Any] = dict(codes)  # coded fields only: checked by name at run time
        return replace(
            self, **fields, _groups=self.known_groups(), _visible={}, _lock=threading.Lock()
        )


def sorted_block(arrays: dict[str, npt.NDArray[np.generic]]) -> Block:
    """Return a :class:`Block` of ``arrays`` (one per ``FIELDS`` name) in ``(t_us, id)`` order."""
    order = np.lexsort((arrays["id"], arrays["t_us"]))
    return Block(**{name: np.asarray(arrays[name], dtype=_DTYPES[name])[order] for name in FIELDS})


def _positions(main: Block, new: Block) -> IntArray | None:
    """Where each row of ``new`` goes in ``main`` to keep ``(t_us, id)`` order (``None``: sort).

    ``new`` is sorted. A new row after every main row of its time goes after them (the usual
    case: ids grow); a row committed late may belong between rows of the same time.
    """
    right = np.searchsorted(main.t_us, new.t_us, side="right")
    if not len(main):
        return right
    left = np.searchsorted(main.t_us, new.t_us, side="left")
    tied = np.flatnonzero((right > left) & (new.id < main.id[np.maximum(right - 1, 0)]))
    if len(tied) > _TIE_LOOP_MAX:
        return None
    for i in tied:  # within one time, main rows are in id order
        right[i] = left[i] + np.searchsorted(main.id[left[i] : right[i]], new.id[i])
    return right


def grow_cells(
    known: IntArray, parents: IntArray
) -> tuple[IntArray, npt.NDArray[np.int32] | None, npt.NDArray[np.int32]]:
    """Add ``parents`` to the sorted distinct cells ``known``.

    Returns
    -------
    tuple
        The sorted distinct cells of both, the new position of each of ``known`` (``None`` when
        nothing was added), and the code of each of ``parents``.
    """
    pos = np.searchsorted(known, parents)
    hit = pos < len(known)
    hit[hit] = known[pos[hit]] == parents[hit]
    if hit.all():
        return known, None, pos.astype(np.int32)
    # Insert the few new cells in order; each old cell moves up by the new cells before it (no
    # sort of the hundreds of thousands of known cells).
    fresh = np.unique(parents[~hit])
    moved = (np.arange(len(known)) + np.searchsorted(fresh, known)).astype(np.int32)
    cells = np.insert(known, np.searchsorted(known, fresh), fresh)
    return cells, moved, np.searchsorted(cells, parents).astype(np.int32)


def merge_blocks(main: Block, new: Block) -> Block:
    """Return the rows of both blocks in ``(t_us, id)`` order, memoised cell codes carried over.

    Costs one copy of every array of ``main``: merge a large block rarely (the tail, when it is
    due), a small one (a batch into the tail) as often as needed.
    """
    if not len(new):
        return main
    at = _positions(main, new)
    groups: dict[int, CellGroups] = {}
    known = main.known_groups()
    if at is None:
        both = {name: np.concatenate([getattr(main, name), getattr(new, name)]) for name in FIELDS}
        order = np.lexsort((both["id"], both["t_us"]))
        merged = {name: values[order] for name, values in both.items()}
    else:
        merged = {name: np.insert(getattr(main, name), at, getattr(new, name)) for name in FIELDS}
    for res, old in known.items():
        cells, moved, codes = grow_cells(old.cells, cells_to_parent(new.cell, res))
        main_codes = old.codes if moved is None else moved[old.codes]
        if at is None:
            all_codes = np.concatenate([main_codes, codes])[order]
        else:
            all_codes = np.insert(main_codes, at, codes)
        groups[res] = CellGroups(res, cells, all_codes.astype(np.int32))
    return Block(**merged, _groups=groups)


@dataclass(frozen=True)
class CellIndex:
    """The cells at ``res`` of a snapshot (main and tail) and each row's code into them.

    ``cells`` is sorted and distinct. A main row's code is ``main_pos[main_codes[i]]`` (or
    ``main_codes[i]`` when ``main_pos`` is ``None``: the tail brought no new cell); a tail row's
    is ``tail_codes[i]``.
    """

    res: int
    cells: IntArray
    main_codes: npt.NDArray[np.int32]
    main_pos: npt.NDArray[np.int32] | None
    tail_codes: npt.NDArray[np.int32]

    def codes(self, part: int, rows: slice, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int32]:
        """Codes into ``cells`` of the rows ``rows`` of block ``part`` (0 main, 1 tail) kept by
        ``mask``."""
        if part:
            return self.tail_codes[rows][mask]
        codes = self.main_codes[rows][mask]
        return codes if self.main_pos is None else self.main_pos[codes]


def cell_index(main: Block, tail: Block, res: int) -> CellIndex:
    """Build the :class:`CellIndex` of ``main`` plus ``tail`` at ``res`` (cost: the tail, and the
    distinct cells of the main block when the tail brings new ones)."""
    groups = main.groups(res)
    cells, moved, tail_codes = grow_cells(groups.cells, cells_to_parent(tail.cell, res))
    return CellIndex(res, cells, groups.codes, moved, tail_codes)


@dataclass(eq=False)
class EventColumns:
    """Every event's aggregate columns at one data version: ``main`` plus ``tail``.

    String columns are codes into the sorted vocabularies ``categories``, ``agencies`` and
    ``handlings``; ``kind`` indexes ``domain.vocab.EVENT_KINDS``. ``checked_at`` is when
    (``time.monotonic``) the data version was last read and found to be ``token``: the snapshot
    holds at least every event committed before then.
    """

    token: int
    rewrite: int  # the events_rewrite token at load: unchanged means only inserts since
    main: Block
    tail: Block
    categories: tuple[str, ...]
    agencies: tuple[str, ...]
    handlings: tuple[str, ...]
    checked_at: float = 0.0
    tail_since: float = 0.0  # when the oldest rows of the tail arrived (time.monotonic)
    # When all ids were last counted for rows committed out of id order, and whether the last
    # refresh did (``exact``: no row committed before ``checked_at`` is missing, however late).
    counted_at: float = 0.0
    exact: bool = True
    # Data-version tokens this snapshot is known to be at least as new as (its own, its
    # predecessors', and versions a live redraw asked for before the refresh that made it),
    # oldest first; bounded (``store.columnar.COVERS_KEPT``).
    covers: dict[int, None] = field(default_factory=dict, repr=False)
    _index: dict[int, CellIndex] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __len__(self) -> int:
        return len(self.main) + len(self.tail)

    @property
    def parts(self) -> tuple[Block, Block]:
        """The main block and the tail, in that order."""
        return self.main, self.tail

    @property
    def max_id(self) -> int:
        """The largest event id held (0 when empty)."""
        return max((int(b.id.max()) for b in self.parts if len(b)), default=0)

    def cell_index(self, res: int) -> CellIndex:
        """Return the cells at ``res`` and every row's code into them (memoised)."""
        with self._lock:
            found = self._index.get(res)
            if found is None:
                found = self._index[res] = cell_index(self.main, self.tail, res)
            return found

    def known_resolutions(self) -> tuple[int, ...]:
        """The resolutions whose cell codes were asked for (a refresh prepares them again)."""
        with self._lock:
            return tuple(self._index)

    def compacted(self) -> EventColumns:
        """Return the same events with the tail merged into the main block (same token)."""
        return replace(
            self,
            main=merge_blocks(self.main, self.tail),
            tail=Block.empty(),
            tail_since=0.0,
            _index={},
            _lock=threading.Lock(),
        )

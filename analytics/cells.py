"""The single H3 adapter: cells are ``int64`` inside, strings only at the edges.

Notes
-----
An H3 index is a 64-bit integer whose top bit is zero, so it fits a signed BIGINT. Bits 52-55
hold the resolution and each of the 15 digits takes 3 bits below the base cell; digits finer than
the resolution are set to 7. A parent cell is therefore pure bit arithmetic (2-3 ns per cell in
numpy), and all children at a finer resolution lie in one contiguous integer range, which lets the
database answer "events in this hexagon" with an indexed ``BETWEEN``.
"""

from __future__ import annotations

import h3
import numpy as np
import numpy.typing as npt
import shapely
from h3ronpy import vector as _h3v

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_RES_SHIFT = 52
_RES_MASK = 0xF << _RES_SHIFT
MAX_RES = 15


def check_res(res: int) -> int:
    """Return ``res`` if it is a valid H3 resolution, else raise ``ValueError``.

    Examples
    --------
    >>> check_res(8)
    8
    """
    if not isinstance(res, (int, np.integer)) or not 0 <= int(res) <= MAX_RES:
        raise ValueError(f"H3 resolution must be an integer in 0..15, got {res!r}")
    return int(res)


def _digit_mask(res: int) -> int:
    """Bits of the digits finer than ``res`` (all set means 'unused')."""
    return (1 << (3 * (MAX_RES - res))) - 1


def points_to_cells(lat: npt.ArrayLike, lon: npt.ArrayLike, res: int) -> IntArray:
    """Index WGS84 points into H3 cells, vectorised.

    Parameters
    ----------
    lat, lon
        Latitudes and longitudes in degrees (EPSG:4326), already validated.
    res
        H3 resolution.

    Returns
    -------
    numpy.ndarray
        ``int64`` cell ids, one per point.

    Examples
    --------
    >>> cells_to_str(points_to_cells([42.36], [-71.06], 8))
    ['882a306603fffff']
    """
    check_res(res)
    lat_a = np.ascontiguousarray(lat, dtype=np.float64)
    lon_a = np.ascontiguousarray(lon, dtype=np.float64)
    if lat_a.shape != lon_a.shape:
        raise ValueError("lat and lon must have the same shape")
    if lat_a.size == 0:
        return np.empty(0, dtype=np.int64)
    out = np.asarray(_h3v.coordinates_to_cells(lat_a, lon_a, res))
    return out.astype(np.int64)


def cell_res(cells: npt.ArrayLike) -> IntArray:
    """Return the resolution of each cell.

    Examples
    --------
    >>> cell_res(str_to_cells(['882a306603fffff'])).tolist()
    [8]
    """
    arr = np.asarray(cells, dtype=np.int64)
    return ((arr & _RES_MASK) >> _RES_SHIFT).astype(np.int64)


def cells_to_parent(cells: npt.ArrayLike, res: int) -> IntArray:
    """Roll cells up to their parent at the coarser ``res`` by bit arithmetic.

    Parameters
    ----------
    cells
        ``int64`` cells, all at a resolution not coarser than ``res``.
    res
        Target resolution.

    Returns
    -------
    numpy.ndarray
        Parent cells as ``int64``.

    Examples
    --------
    >>> fine = points_to_cells([42.36], [-71.06], 11)
    >>> cells_to_str(cells_to_parent(fine, 8))
    ['882a306603fffff']
    """
    check_res(res)
    arr = np.asarray(cells, dtype=np.int64)
    if arr.size and int(cell_res(arr).min()) < res:
        raise ValueError(f"cannot take a parent at res {res} of a coarser cell")
    keep, add = parent_constants(res)
    return (arr & np.int64(keep)) | np.int64(add)


def parent_constants(res: int) -> tuple[int, int]:
    """Return ``(keep, add)`` so that ``parent = (cell & keep) | add``, as signed 64-bit ints.

    The same two constants let SQL on SQLite and PostgreSQL compute parents inside the database.

    Examples
    --------
    >>> keep, add = parent_constants(15)
    >>> add == 15 << 52
    True
    """
    check_res(res)
    keep = ~_RES_MASK  # a negative Python int: fits a signed BIGINT
    add = (res << _RES_SHIFT) | _digit_mask(res)
    return keep, add


def children_range(cell: int, child_res: int) -> tuple[int, int]:
    """Return the inclusive integer range holding every child of ``cell`` at ``child_res``.

    Examples
    --------
    >>> parent = int(str_to_cells(['882a306603fffff'])[0])
    >>> lo, hi = children_range(parent, 11)
    >>> fine = int(points_to_cells([42.36], [-71.06], 11)[0])
    >>> lo <= fine <= hi
    True
    """
    res = int(cell_res(np.array([cell]))[0])
    check_res(child_res)
    if child_res < res:
        raise ValueError("child_res must not be coarser than the cell")
    base = (int(cell) & ~_RES_MASK) | (child_res << _RES_SHIFT)
    lo = (base & ~_digit_mask(res)) | _digit_mask(child_res)
    hi = base | _digit_mask(res)
    return lo, hi


def cells_to_str(cells: npt.ArrayLike) -> list[str]:
    """Convert ``int64`` cells to H3 strings (UI and export edge only).

    Examples
    --------
    >>> cells_to_str(str_to_cells(['882a306603fffff']))
    ['882a306603fffff']
    """
    return [format(int(c), "x") for c in np.asarray(cells, dtype=np.int64)]


def str_to_cells(cells: list[str]) -> IntArray:
    """Convert H3 strings to ``int64`` cells, rejecting invalid ids (edge only).

    Examples
    --------
    >>> str_to_cells(['882a306603fffff']).dtype
    dtype('int64')
    >>> str_to_cells(['-1'])
    Traceback (most recent call last):
    ...
    ValueError: not an H3 cell: '-1'
    """
    out = np.empty(len(cells), dtype=np.int64)
    for i, s in enumerate(cells):
        try:
            valid = h3.is_valid_cell(s)
        except (OverflowError, TypeError, ValueError):  # h3 parses ids as unsigned 64 bits
            valid = False
        if not valid:
            raise ValueError(f"not an H3 cell: {s!r}")
        out[i] = int(s, 16)
    return out


def cells_to_polygons(cells: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Return the hexagon (or pentagon) of each cell as shapely polygons in EPSG:4326.

    Examples
    --------
    >>> poly = cells_to_polygons(str_to_cells(['882a306603fffff']))[0]
    >>> len(poly.exterior.coords)
    7
    """
    arr = np.asarray(cells, dtype=np.int64)
    if arr.size == 0:
        return np.empty(0, dtype=object)
    wkb = _h3v.cells_to_wkb_polygons(arr.astype(np.uint64))
    polygons: npt.NDArray[np.object_] = shapely.from_wkb(np.asarray(wkb.to_pylist(), dtype=object))
    return polygons


def cell_centres(cells: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return ``(lat, lon)`` arrays of cell centres in degrees.

    Examples
    --------
    >>> lat, lon = cell_centres(str_to_cells(['882a306603fffff']))
    >>> bool(42.3 < lat[0] < 42.4)
    True
    """
    arr = np.asarray(cells, dtype=np.int64)
    if arr.size == 0:
        return np.empty(0), np.empty(0)
    polys = cells_to_polygons(arr)
    cent = shapely.centroid(polys)
    return shapely.get_y(cent), shapely.get_x(cent)

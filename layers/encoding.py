"""Compact array encodings for the browser: base64 typed arrays instead of JSON number lists.

A hexagon update for 10,000 cells as JSON lists of numbers and pairs costs about 100 KB and a
parse per number; as little-endian typed arrays in base64 it is 4 bytes a value and one
``atob``. The shape is plotly.js's own "typed array spec" (``{"dtype", "bdata", "shape"}``), which
``assets/watchfloor_map.js`` decodes before the figure reaches plotly.

H3 cells are 64-bit integers, which JSON numbers (doubles) cannot carry exactly: they travel as
pairs of little-endian 32-bit words (low word first), the form ``h3-js`` takes in
``splitLongToH3Index(low, high)``.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import numpy.typing as npt

# Plotly's dtype names for the little-endian numpy types used here.
_DTYPES = {"f4": "<f4", "f8": "<f8", "u1": "<u1", "u2": "<u2", "u4": "<u4", "i4": "<i4"}


def typed_array(values: npt.ArrayLike, dtype: str) -> dict[str, Any]:
    """Return ``values`` as a typed-array spec of ``dtype`` (``"f4"``, ``"u2"``, ...).

    A 2-D input keeps its shape (``"rows,cols"``), so ``[[1, 2], [3, 4]]`` round-trips.

    Examples
    --------
    >>> spec = typed_array([1, 2, 3], "u2")
    >>> spec["dtype"], spec["bdata"], spec["shape"]
    ('u2', 'AQACAAMA', '3')
    >>> decode_typed_array(spec).tolist()
    [1, 2, 3]
    """
    array = np.ascontiguousarray(np.asarray(values), dtype=_DTYPES[dtype])
    return {
        "dtype": dtype,
        "bdata": base64.b64encode(array.tobytes()).decode("ascii"),
        "shape": ",".join(str(n) for n in array.shape),
    }


def decode_typed_array(spec: dict[str, Any]) -> npt.NDArray[Any]:
    """Return the numpy array of a typed-array spec (the inverse of :func:`typed_array`)."""
    array = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=_DTYPES[spec["dtype"]])
    shape = tuple(int(n) for n in str(spec.get("shape", len(array))).split(",") if n)
    return array.reshape(shape)


def count_dtype(max_value: float) -> str:
    """Return the smallest unsigned dtype name that holds counts up to ``max_value``."""
    if max_value < 2**8:
        return "u1"
    if max_value < 2**16:
        return "u2"
    return "u4"


def cells_to_words(cells: npt.ArrayLike) -> str:
    """Return H3 cells as base64 little-endian (low, high) 32-bit word pairs.

    Examples
    --------
    >>> words = cells_to_words([0x882A1072B5FFFFF])
    >>> words_to_cells(words).tolist() == [0x882A1072B5FFFFF]
    True
    """
    array = np.ascontiguousarray(np.asarray(cells, dtype=np.int64)).astype("<u8")
    return base64.b64encode(array.view("<u4").tobytes()).decode("ascii")


def words_to_cells(words: str) -> npt.NDArray[np.int64]:
    """Return the cells of :func:`cells_to_words`."""
    return np.frombuffer(base64.b64decode(words), dtype="<u8").astype(np.int64)

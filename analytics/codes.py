"""Integer codes for repeated values (``pd.factorize``), exact for text holding NUL characters.

pandas' hash table compares strings as C strings, so it stops at a NUL: ``""`` and ``"\\x00"``
(and ``"a\\x00b"`` and ``"a\\x00c"``) become one value. Partner text can hold NUL characters, and
a value that silently takes another's code shows the wrong label or escapes the wrong text.
:func:`factorize` is ``pd.factorize``, checked by one vectorised comparison of every value with
its unique (a fraction of the factorize itself), and a dictionary walk when that finds a value
conflated with another.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd


def factorize(
    values: pd.Series | npt.ArrayLike, *, sort: bool = False
) -> tuple[npt.NDArray[np.intp], npt.NDArray[Any]]:
    """Return ``(codes, uniques)`` as ``pd.factorize`` does; missing values get code ``-1``.

    Examples
    --------
    >>> codes, uniques = factorize(["", "\\x00", "", None])
    >>> codes.tolist(), uniques.tolist()
    ([0, 1, 0, -1], ['', '\\x00'])
    """
    array = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values
    array = np.asarray(array, dtype=object)
    codes, found = pd.factorize(array, sort=sort)
    uniques = np.asarray(found, dtype=object)
    present = codes >= 0
    if present.all():
        exact = bool((uniques[codes] == array).all())
    else:
        exact = bool((uniques[codes[present]] == array[present]).all())
    return (codes, uniques) if exact else _by_dict(array, sort=sort)


def _by_dict(array: npt.NDArray[Any], *, sort: bool) -> tuple[npt.NDArray[np.intp], Any]:
    missing = pd.isna(array)
    index: dict[Any, int] = {}
    codes = np.full(len(array), -1, dtype=np.intp)
    for i, value in enumerate(array):
        if not missing[i]:
            codes[i] = index.setdefault(value, len(index))
    uniques = np.empty(len(index), dtype=object)
    for value, code in index.items():
        uniques[code] = value
    if sort and len(uniques):
        order = np.argsort(uniques, kind="stable")
        remap = np.empty(len(order), dtype=np.intp)
        remap[order] = np.arange(len(order))
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
        uniques = uniques[order]
    return codes, uniques

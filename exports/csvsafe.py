"""Neutralise spreadsheet formulas in CSV cells (OWASP "CSV injection"), one rule for every CSV.

Partner text reaches every CSV Watchfloor writes (exports, the export API, quarantined rows, the
audit log). A spreadsheet opening the file runs a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula (``=HYPERLINK(...)``, DDE), and a leading TAB or CR can hide such a start from
a naive check. OWASP's advice is followed: such a text cell gets a leading single quote, which
spreadsheets read as "this is text". Numbers stay numbers: only text is changed, and text that
is a plain decimal number (``-71.06``, a longitude read as text) is a number to a spreadsheet,
not a formula, so it is left as it is.

This module imports nothing of Watchfloor, so exports, data loaders and security can all use it.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import numpy as np
import pandas as pd

# OWASP, "CSV Injection": the characters that make a spreadsheet read a cell as a formula.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number (sign, digits, point, exponent): a spreadsheet reads it as a number.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

# Rows end in CRLF (RFC 4180): Python's CSV writer quotes a value holding a character of the line
# end only, so with "\n" alone a CR inside a value went out bare, and a spreadsheet starts a new
# row there ("note\r=cmd()" put a live "=cmd()" in a cell of its own).
LINE_END = "\r\n"

FrameT = TypeVar("FrameT", bound=pd.DataFrame)


def safe_cell(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula.

    Parameters
    ----------
    value
        One cell: text is checked, anything else (numbers, ``None``) is returned unchanged.

    Returns
    -------
    object
        The value, or ``"'" + value`` for text starting with ``= + - @``, TAB or CR that is not
        a plain number.

    Examples
    --------
    >>> safe_cell('=HYPERLINK("http://evil","x")')
    '\\'=HYPERLINK("http://evil","x")'
    >>> safe_cell("-71.06"), safe_cell(-71.06), safe_cell("Boston")
    ('-71.06', -71.06, 'Boston')
    """
    formula = isinstance(value, str) and value.startswith(FORMULA_PREFIXES)
    return "'" + value if formula and _NUMBER.fullmatch(value) is None else value


def safe_row(values: list[Any]) -> list[Any]:
    """Return one CSV row with :func:`safe_cell` applied to each cell."""
    return [safe_cell(v) for v in values]


def safe_frame(frame: FrameT) -> FrameT:
    """Return a copy of ``frame`` whose text cells are safe to open in a spreadsheet.

    Write it with ``lineterminator=LINE_END`` so that line breaks inside values are quoted.

    Only columns that can hold text (object and string dtypes) are looked at; numeric, boolean,
    time and geometry columns are kept as they are. Column names are made safe too (a source
    file's header is partner text as well).

    Parameters
    ----------
    frame
        A DataFrame or GeoDataFrame about to be written as CSV.

    Returns
    -------
    DataFrame
        A copy (same type) with neutralised text cells and column names.
    """
    out = frame.copy()
    geometry = getattr(frame, "_geometry_column_name", None)
    for col in out.columns:
        if col == geometry:
            continue
        series = out[col]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            # Values repeat (agencies, categories): each distinct one is checked once.
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
            if not len(uniques):
                continue
            fixed = [safe_cell(u) for u in uniques]
            if fixed == list(uniques):
                continue
            picked = np.array([*fixed, None], dtype=object)[codes]
            mapped = pd.Series(picked, index=series.index, dtype=object)
            out[col] = mapped.where(series.notna(), series)
    renamed = {c: safe_cell(c) for c in out.columns if isinstance(c, str) and c != geometry}
    safe: FrameT = out.rename(columns={k: v for k, v in renamed.items() if k != v})
    return safe

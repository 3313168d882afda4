"""Vectorised parsers for partner values: times to UTC, coordinates, point text and geometry cells.

Every function takes a column of source strings (``""`` for missing) and returns arrays of the
same length, with ``NaN``/``NaT`` where a value cannot be read; they never raise on bad data.
"""

from __future__ import annotations

import json
import re

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

FloatArray = npt.NDArray[np.float64]

# RE2 patterns (Arrow's regex engine, run over whole columns in C++); ``\p{Nd}`` is any decimal
# digit, as Python's ``\d``. A trailing UTC offset or Z: the value carries its own zone.
_OFFSET = r"(?:[+-]\p{Nd}{2}(?::?\p{Nd}{2})?|Z)$"
# Unix epoch seconds (9-10 digits: 1973-2286) or milliseconds (12-13 digits), optional fraction.
_EPOCH_S = r"^\p{Nd}{9,10}(?:\.\p{Nd}+)?$"
_EPOCH_MS = r"^\p{Nd}{12,13}$"
# "(42.30, -71.10)", "42.30,-71.10", "POINT (-71.1 42.3)" is handled as WKT instead.
_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_PAIR = re.compile(rf"^\s*[\(\[]?\s*{_NUM}\s*[,;\s]\s*{_NUM}\s*[\)\]]?\s*$")


def parse_times(
    values: pd.Series, *, timezone: str = "America/New_York", fmt: str | None = None
) -> pd.Series:
    """Parse source date/time strings to UTC timestamps.

    Parameters
    ----------
    values
        Strings: ISO 8601 (with or without offset), US dates (``03/04/2023 2:30 PM``), 12- or
        24-hour clocks, written-out dates, or Unix epoch seconds/milliseconds; ``""`` is missing.
    timezone
        IANA zone of naive values (the source's local time); aware values keep their offset.
    fmt
        A ``strftime`` format that every value follows, or ``None`` to recognise each value.

    Returns
    -------
    pandas.Series
        ``datetime64[ns, UTC]``, ``NaT`` where missing or unreadable.
    """
    s = strip_text(values).reset_index(drop=True)
    arrow = text_array(s)
    if fmt is None and len(s):
        # The usual machine-written column (the partner API's): every value ISO 8601 with its
        # offset, read by one Arrow cast in C++. A naive, epoch, empty or other value fails
        # the cast, and each value is then recognised below (the same instants: values with
        # an offset are read by this cast there too).
        zoned = _arrow_times(arrow, values.index, utc=True)
        if zoned is not None:
            return zoned
    return _recognise_times(values, s, arrow, timezone=timezone, fmt=fmt)


def _arrow_times(arrow: pa.StringArray | None, index: pd.Index, *, utc: bool) -> pd.Series | None:
    """Every value read by Arrow's ISO 8601 parser (with an offset when ``utc``), or ``None``
    when one value is missing or is not such a time."""
    if arrow is None or arrow.null_count:
        return None
    try:
        parsed = pc.cast(arrow, pa.timestamp("ns", tz="UTC" if utc else None))
    except (pa.ArrowException, UnicodeError):
        return None
    out = parsed.to_pandas()
    out.index = index
    return out


def _recognise_times(
    values: pd.Series, s: pd.Series, arrow: pa.StringArray | None, *, timezone: str, fmt: str | None
) -> pd.Series:
    """:func:`parse_times` value by value: epochs, values with an offset, local values."""
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    present = s != ""
    epoch_s = regex_mask(arrow, _EPOCH_S, s, index=s.index) & present
    epoch_ms = regex_mask(arrow, _EPOCH_MS, s, index=s.index) & present
    if epoch_s.any():
        secs = pd.to_numeric(s[epoch_s], errors="coerce")
        out[epoch_s] = pd.to_datetime(secs, unit="s", utc=True, errors="coerce")
    if epoch_ms.any():
        ms = pd.to_numeric(s[epoch_ms], errors="coerce")
        out[epoch_ms] = pd.to_datetime(ms, unit="ms", utc=True, errors="coerce")
    text = present & ~epoch_s & ~epoch_ms
    has_offset = regex_mask(arrow, _OFFSET, s, index=s.index) & text
    naive = text & ~has_offset
    if has_offset.any():
        out[has_offset] = _to_datetime(s[has_offset], fmt, utc=True)
    if naive.any():
        local = _to_datetime(s[naive], fmt, utc=False)
        if getattr(local.dt, "tz", None) is None:
            # A repeated autumn hour is read as its first (daylight-time) occurrence.
            local = local.dt.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")
        out[naive] = local.dt.tz_convert("UTC")
    out.index = values.index
    return out


# Every character Python's ``str.strip()`` removes (``str.isspace``), as an RE2 class: a value
# that neither starts nor ends with one is already stripped, and most values are.
_SPACE = (
    r"[\t-\r\x1c-\x20\x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}"
    r"\x{3000}]"
)
_EDGE_SPACE = rf"^{_SPACE}|{_SPACE}$"


def strip_text(values: pd.Series) -> pd.Series:
    """``values.astype(str).str.strip()``, with Python stripping only the values that need it.

    Arrow finds the values that start or end with white space (in C++); the others, nearly
    all, are kept as they are. Same result as pandas' per-value ``strip`` (a test compares
    them over every white-space character), at a fraction of the cost on big columns.
    """
    arrow = text_array(values) if values.dtype == object else None
    if arrow is None or arrow.null_count:  # not all text: the plain path (None -> "None")
        return values.astype(str).str.strip()
    out = values.to_numpy(dtype=object, copy=True)
    edge = pc.match_substring_regex(arrow, _EDGE_SPACE).to_numpy(zero_copy_only=False)
    if edge.any():
        out[edge] = [v.strip() for v in out[edge]]
    return pd.Series(out, index=values.index, dtype=object, name=values.name)


def text_array(s: pd.Series) -> pa.StringArray | None:
    """A column of Python strings as an Arrow array (``None`` if Arrow cannot encode it)."""
    try:
        return pa.array(s.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (pa.ArrowException, UnicodeError):  # e.g. a lone surrogate
        return None


def regex_mask(
    arrow: pa.StringArray | None, pattern: str, s: pd.Series, *, index: pd.Index
) -> pd.Series:
    """Where the RE2 ``pattern`` is found in each value, in C++ (Python's ``re`` as fallback)."""
    if arrow is None:
        fallback = pattern.replace(r"\p{Nd}", r"\d")
        return s.str.contains(fallback, regex=True).fillna(False).astype(bool)
    found = pc.match_substring_regex(arrow, pattern).fill_null(False)
    return pd.Series(found.to_numpy(zero_copy_only=False), index=index, dtype=bool)


def _to_datetime(s: pd.Series, fmt: str | None, *, utc: bool) -> pd.Series:
    """ISO 8601 on the fast vectorised path first; only the leftovers value by value."""
    if fmt is not None:
        return pd.to_datetime(s, format=fmt, errors="coerce", utc=utc)
    # Arrow's ISO 8601 parser in C++ when it reads every value (the usual machine-written
    # column); otherwise pandas' parsers, which read more spellings.
    whole = _arrow_times(text_array(s), s.index, utc=utc)
    if whole is not None:
        return whole
    parsed = pd.to_datetime(s, format="ISO8601", errors="coerce", utc=utc)
    left = parsed.isna()
    if left.any():
        rest = pd.to_datetime(s[left], format="mixed", errors="coerce", utc=utc)
        if not utc and getattr(rest.dt, "tz", None) is not None:
            rest = rest.dt.tz_convert("UTC").dt.tz_localize(None)
        parsed = parsed.astype(rest.dtype) if parsed.isna().all() else parsed
        parsed[left] = rest
    return parsed


def parse_numbers(values: pd.Series) -> FloatArray:
    """Parse decimal numbers (also with a decimal comma, ``42,30``); ``NaN`` where not a number."""
    s = strip_text(values)
    out = _exact_floats(s)
    failed = np.isnan(out)
    if failed.any():  # only the values that failed: try a decimal comma
        part = s[failed]
        comma = part.str.fullmatch(r"[-+]?\d+,\d+")
        if comma.any():
            out[failed] = _exact_floats(part.where(~comma, part.str.replace(",", ".", regex=False)))
    return out


def _exact_floats(s: pd.Series) -> FloatArray:
    """Numbers to float64 exactly (pandas' fast parser may be off by one unit in the last place)."""
    arrow = text_array(s) if s.dtype == object else None
    if arrow is not None and not arrow.null_count:
        try:  # every value a finite number, the common case: Arrow alone, in C++
            fast: FloatArray | None = pc.cast(arrow, pa.float64()).to_numpy()
        except (pa.ArrowException, UnicodeError):
            fast = None
        if fast is not None and np.isfinite(fast).all():
            return fast
    out: FloatArray = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    ok = ~np.isnan(out)
    if ok.any():
        values = s.to_numpy()[ok]
        try:  # Arrow's parser rounds correctly, like Python's float(), in C++
            out[ok] = pc.cast(pa.array(values, type=pa.string()), pa.float64()).to_numpy()
        except (pa.ArrowException, UnicodeError):  # a spelling Arrow does not read
            out[ok] = np.asarray(values, dtype=str).astype(float)
    return out


def parse_point_text(values: pd.Series) -> tuple[FloatArray, FloatArray]:
    """Parse a "Location" column such as ``(42.30, -71.10)`` as ``(lat, lon)``.

    Returns
    -------
    tuple of numpy.ndarray
        Latitudes and longitudes in degrees, ``NaN`` where the text is no pair of numbers.
    """
    parts = values.astype(str).str.extract(_PAIR)
    return _exact_floats(parts[0].fillna("")), _exact_floats(parts[1].fillna(""))


def parse_geometry_text(values: pd.Series) -> tuple[FloatArray, FloatArray]:
    """Parse WKT (``POINT (-71.1 42.3)``) or GeoJSON geometry text into point ``(lat, lon)``.

    Non-point shapes stand for a point on their surface; unreadable text gives ``NaN``.
    """
    s = values.astype(str).str.strip()
    geoms = np.full(len(s), None, dtype=object)
    is_json = s.str.startswith("{").to_numpy()
    wkt = (~is_json) & (s != "").to_numpy()
    if wkt.any():
        geoms[wkt] = shapely.from_wkt(s[wkt].to_numpy(), on_invalid="ignore")
    for i in np.flatnonzero(is_json):
        try:
            geoms[i] = shapely.from_geojson(s.iloc[i])
        except (shapely.errors.GEOSException, ValueError, json.JSONDecodeError):
            geoms[i] = None
    missing = shapely.is_missing(geoms)
    usable = ~missing
    usable[usable] = ~shapely.is_empty(geoms[usable])
    lat = np.full(len(s), np.nan)
    lon = np.full(len(s), np.nan)
    if usable.any():
        pts = shapely.point_on_surface(geoms[usable])
        lon[usable] = shapely.get_x(pts)
        lat[usable] = shapely.get_y(pts)
    return lat, lon


def swapped_mask(
    lat: FloatArray,
    lon: FloatArray,
    inside: npt.NDArray[np.bool_] | None = None,
    inside_swapped: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.bool_]:
    """Where latitude and longitude look swapped.

    A pair is swapped when ``lat`` is impossible as a latitude (beyond 90) but fine as a longitude
    while ``lon`` is fine as a latitude; or, given an area, when the point lies outside it but the
    swapped point lies inside.
    """
    with np.errstate(invalid="ignore"):
        swap = (np.abs(lat) > 90) & (np.abs(lat) <= 180) & (np.abs(lon) <= 90)
    if inside is not None and inside_swapped is not None:
        swap |= ~inside & inside_swapped
    return swap

"""Map a raw table through a profile into canonical rows, or a quarantine reason per row.

Each row gets at most one reason, the first that applies in the order of ``REASONS``; rows with
none are good. Everything works on whole columns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from shapely.geometry.base import BaseGeometry

from analytics.cells import points_to_cells
from analytics.codes import factorize
from data_loaders.areas import inside
from data_loaders.errors import ProfileError
from data_loaders.parsing import (
    parse_geometry_text,
    parse_numbers,
    parse_point_text,
    parse_times,
    strip_text,
    swapped_mask,
    text_array,
)
from data_loaders.profiles import Profile
from data_loaders.readers import RawTable
from domain.vocab import EVENT_KINDS, SAR_CATEGORIES, SECTOR_SYNONYMS, SECTORS

# Quarantine reasons, in the order they are tested.
REASONS = (
    "excluded",  # replaced by the profile's own reason, e.g. inactive_site
    "malformed_row",  # the reader could not split the line into the header's fields
    "missing_id",
    "bad_id",
    "bad_text",  # a NUL byte: PostgreSQL cannot store it, so no backend takes the row
    "missing_coordinates",
    "bad_coordinates",
    "swapped_coordinates",  # only when the profile says to quarantine rather than fix
    "out_of_range",
    "null_island",
    "outside_area",
    "missing_time",
    "bad_time",
    "future_time",
    "unknown_sector",  # a site whose sector is neither a DHS sector nor a known other name
    "duplicate_in_file",
)
# How far in the future a report may lie (clock skew between agencies), before it is refused.
FUTURE_TOLERANCE = timedelta(days=1)
# Longest external id (the column's width); longer text fields are cut to their column's width.
MAX_ID_LENGTH = 128
TEXT_LIMITS = {"category": 128, "source_category": 256, "location_text": 512, "name": 256}
TEXT_LIMITS |= {"address": 512, "subtype": 128, "description": 100_000}

EVENT_COLUMNS = (
    "external_id",
    "kind",
    "category",
    "source_category",
    "occurred_at",
    "reported_at",
    "description",
    "location_text",
    "handling",
    "severity",
    "lon",
    "lat",
    "cell",
    "content_hash",
)
SITE_COLUMNS = (
    "external_id",
    "name",
    "sector",
    "subtype",
    "tier",
    "address",
    "handling",
    "lon",
    "lat",
    "cell",
    "content_hash",
)


@dataclass(frozen=True)
class MappedRows:
    """The canonical good rows and the quarantined ones (row number, reason, detail, raw)."""

    good: pd.DataFrame
    rejects: pd.DataFrame
    notes: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)
    # Row of each good row in the table it was mapped from (0-based), to quarantine it later.
    positions: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def withdrawn(
        self,
        table: RawTable,
        external_ids: Iterable[str],
        *,
        reason: str,
        detail: str,
        row_offset: int = 0,
    ) -> pd.DataFrame:
        """Return the good rows with ``external_ids`` as quarantine rows of ``table``.

        For rows refused after mapping (the store's write rule): the original columns are kept
        as for every quarantined row.
        """
        wanted = set(external_ids)
        hit = self.good["external_id"].isin(wanted).to_numpy()
        pos = self.positions[hit]
        raw = table.frame.reset_index(drop=True).iloc[pos]
        return pd.DataFrame(
            {
                "row_number": pos + 1 + row_offset,
                "reason": np.full(len(pos), reason, dtype=object),
                "detail": np.full(len(pos), detail, dtype=object),
                "raw": [json.dumps(r, ensure_ascii=False) for r in raw.to_dict(orient="records")],
            }
        )

    @property
    def reason_counts(self) -> dict[str, int]:
        """Quarantined rows per reason."""
        return {str(k): int(v) for k, v in self.rejects["reason"].value_counts().items()}


class _Reasons:
    """One reason per row: the first one set wins."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)
        self.detail = np.full(n, None, dtype=object)

    def flag(
        self,
        mask: npt.NDArray[np.bool_],
        reason: str,
        detail: str | npt.NDArray[np.object_] | None = None,
    ) -> None:
        fresh = mask & pd.isna(self.reason)
        self.reason[fresh] = reason
        if isinstance(detail, np.ndarray):
            self.detail[fresh] = detail[fresh]
        elif detail is not None:
            self.detail[fresh] = detail

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        return np.asarray(pd.isna(self.reason), dtype=bool)


def _column(frame: pd.DataFrame, spec: str | list[str] | None, sep: str = "|") -> pd.Series:
    """Return the source column(s) named by ``spec`` as stripped strings ("" when missing)."""
    if spec is None:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    names = [spec] if isinstance(spec, str) else list(spec)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ProfileError(
            f"the profile maps columns {missing} that the file does not have; "
            f"the file has {list(frame.columns)}"
        )
    out = strip_text(frame[names[0]])
    for name in names[1:]:
        out = out + sep + strip_text(frame[name])
    return out


# Two fixed 16-character keys: a 128-bit row fingerprint from pandas' vectorised SipHash.
_HASH_KEYS = ("watchfloor-row-1", "watchfloor-row-2")


def _content_hash(frame: pd.DataFrame, columns: tuple[str, ...]) -> npt.NDArray[np.object_]:
    """A fingerprint of each row's canonical content (detects a changed re-import).

    Notes
    -----
    Vectorised (about 50 times faster than SHA-256 over joined text). It only has to tell a
    row from its own previous version, for which 128 bits are far more than enough.
    """
    part = frame.loc[:, list(columns)]
    high, low = (
        pd.util.hash_pandas_object(part, index=False, hash_key=key).to_numpy(dtype=np.uint64)
        for key in _HASH_KEYS
    )
    # Two decimal numbers (Arrow formats and joins them in C++): up to 41 characters.
    text_ = pc.binary_join_element_wise(
        pc.cast(pa.array(high), pa.string()), pc.cast(pa.array(low), pa.string()), "-"
    )
    return text_.to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]


def _coordinates(
    table: RawTable, profile: Profile, reasons: _Reasons
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    frame = table.frame
    cols = profile.columns
    if "lat" in cols and "lon" in cols:
        lat_s = _column(frame, cols["lat"])
        lon_s = _column(frame, cols["lon"])
        empty = ((lat_s == "") | (lon_s == "")).to_numpy()
        lat, lon = parse_numbers(lat_s), parse_numbers(lon_s)
    elif "location" in cols or "geometry" in cols:
        text = _column(frame, cols.get("location") or cols["geometry"])
        empty = (text == "").to_numpy()
        parse = parse_point_text if "location" in cols else parse_geometry_text
        lat, lon = parse(text)
    elif table.lat is not None and table.lon is not None:
        lat, lon = table.lat.astype(float), table.lon.astype(float)
        reasons.flag(np.isnan(lat) | np.isnan(lon), "missing_coordinates", "no geometry")
        return lat, lon
    else:
        raise ProfileError(
            "no coordinates: the profile maps no lat/lon, location or geometry column and the "
            f"file has no geometry; the file has the columns {list(frame.columns)}"
        )
    reasons.flag(empty, "missing_coordinates")
    reasons.flag(np.isnan(lat) | np.isnan(lon), "bad_coordinates", "not a number")
    return lat, lon


def _check_coordinates(
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    profile: Profile,
    reasons: _Reasons,
    area: BaseGeometry | None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]:
    """Swapped pairs, ranges, (0, 0) and the area; return the (fixed) coordinates and #fixes."""
    valid = ~np.isnan(lat) & ~np.isnan(lon) & reasons.ok
    in_area = in_swapped = None
    if area is not None:
        in_area = np.zeros(len(lat), dtype=bool)
        in_area[valid] = inside(area, lon[valid], lat[valid])
        in_swapped = np.zeros(len(lat), dtype=bool)
        retry = valid & ~in_area & (np.abs(lon) <= 90)
        in_swapped[retry] = inside(area, lat[retry], lon[retry])
    swap = swapped_mask(lat, lon, in_area, in_swapped) & valid
    fixed = 0
    if profile.swapped_coordinates == "quarantine":
        reasons.flag(swap, "swapped_coordinates", "latitude and longitude look swapped")
    elif swap.any():
        lat, lon = np.where(swap, lon, lat), np.where(swap, lat, lon)
        fixed = int(swap.sum())
        if in_area is not None and in_swapped is not None:
            in_area = in_area | (swap & in_swapped)
    with np.errstate(invalid="ignore"):
        bad_range = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    reasons.flag(bad_range, "out_of_range")
    reasons.flag((lat == 0) & (lon == 0), "null_island", "(0, 0) is a placeholder")
    if in_area is not None:
        outside = ~in_area & ~np.isnan(lat) & ~np.isnan(lon)
        reasons.flag(outside, "outside_area", "outside the area of responsibility")
    return lat, lon, fixed


def _times(series: pd.Series, profile: Profile) -> pd.Series:
    """Parse to UTC: aware values keep their offset, naive ones are local to the source."""
    return parse_times(series, timezone=profile.timezone, fmt=profile.time_format)


def map_rows(
    table: RawTable,
    profile: Profile,
    *,
    area: BaseGeometry | None,
    store_res: int,
    now: datetime,
    row_offset: int = 0,
    seen: set[str] | None = None,
) -> MappedRows:
    """Map ``table`` through ``profile`` into canonical rows, quarantining what cannot be used.

    Parameters
    ----------
    table
        The file as read (or one chunk of it).
    profile
        The partner's mapping profile.
    area
        The area of responsibility (EPSG:4326), or ``None`` to accept anywhere.
    store_res
        H3 resolution of the stored cell.
    now
        The current time (UTC), to refuse reports from the future.
    row_offset
        Rows of the file before this chunk (quarantined rows keep their row number in the file).
    seen
        External ids met in earlier chunks of the same file; updated in place.

    Returns
    -------
    MappedRows
        Good rows with ``EVENT_COLUMNS`` or ``SITE_COLUMNS``, the rejects, notes and the source
        categories that no crosswalk mapped.
    """
    frame = table.frame.reset_index(drop=True)
    n = len(frame)
    reasons = _Reasons(n)
    if table.malformed is not None:
        reasons.flag(pd.notna(table.malformed), "malformed_row", table.malformed)
    for exclusion in profile.exclude:
        reasons.flag(exclusion.when.evaluate(frame), exclusion.reason)

    id_spec = profile.columns.get("external_id")
    external_id = _content_ids(table, frame) if id_spec is None else _column(frame, id_spec)
    reasons.flag((external_id == "").to_numpy(), "missing_id")
    too_long = (_lengths(external_id) > MAX_ID_LENGTH).to_numpy()
    reasons.flag(too_long, "bad_id", f"id longer than {MAX_ID_LENGTH} characters")
    reasons.flag(_has_nul(frame, external_id), "bad_text", "a NUL byte in the text")

    lat, lon = _coordinates(table, profile, reasons)
    lat, lon, fixed = _check_coordinates(lat, lon, profile, reasons, area)

    is_site = profile.kind == "site"
    if not is_site:
        time_raw = _column(frame, profile.columns.get("occurred_at"), sep=" ")
        reasons.flag((time_raw == "").to_numpy(), "missing_time")
        occurred = _times(time_raw, profile)
        reasons.flag(occurred.isna().to_numpy(), "bad_time", "unparseable date/time")
        future = (occurred > pd.Timestamp(now) + FUTURE_TOLERANCE).fillna(False).to_numpy()
        reasons.flag(future, "future_time", "more than a day in the future")
    else:
        sector = _sectors(frame, profile)
        reasons.flag(
            sector.isna().to_numpy(), "unknown_sector", "not a DHS critical-infrastructure sector"
        )

    dup = external_id.duplicated(keep="first").to_numpy()
    if seen:
        # One set lookup per row: ``isin(seen)`` would copy the whole growing set for every
        # chunk (quadratic in the file's length).
        dup |= np.fromiter(map(seen.__contains__, external_id), dtype=bool, count=len(dup))
    reasons.flag(dup & reasons.ok, "duplicate_in_file", "the same id appears earlier in the file")

    ok = reasons.ok
    if seen is not None:
        seen.update(external_id[ok].tolist())
    rejects = _rejects(frame, reasons, ok, row_offset)
    good_frame = frame[ok]
    good = pd.DataFrame(index=good_frame.index)
    good["external_id"] = external_id[ok]
    good["lon"] = lon[ok]
    good["lat"] = lat[ok]
    good["cell"] = points_to_cells(lat[ok], lon[ok], store_res)
    unmapped: dict[str, int] = {}
    columns: tuple[str, ...]
    if is_site:
        good = _site_fields(good, good_frame, profile)
        good["sector"] = sector[ok].to_numpy()
        columns = SITE_COLUMNS
    else:
        good["occurred_at"] = occurred[ok]
        good, unmapped = _event_fields(good, good_frame, profile)
        columns = EVENT_COLUMNS
    truncated = _truncate(good)
    # Coordinates are compared at 1e-7 degrees (about 1 cm): a format that writes 15 significant
    # digits instead of 17 must not turn a re-import into an update.
    hashed = good.assign(lon=good["lon"].round(7), lat=good["lat"].round(7))
    good["content_hash"] = _content_hash(hashed, tuple(c for c in columns if c != "content_hash"))
    notes = {"swapped_coordinates_fixed": fixed, "truncated_fields": truncated}
    return MappedRows(
        good=good.loc[:, list(columns)].reset_index(drop=True),
        rejects=rejects,
        notes={k: v for k, v in notes.items() if v},
        unmapped=unmapped,
        positions=np.flatnonzero(ok).astype(np.int64),
    )


def _content_ids(table: RawTable, frame: pd.DataFrame) -> pd.Series:
    """Stable ids for a file without an id column, derived from each row's whole content."""
    content = _column(frame, list(frame.columns), sep="\x1f")
    if table.lon is not None and table.lat is not None:
        xy = pd.Series(table.lon).astype(str) + "," + pd.Series(table.lat).astype(str)
        content = content + "\x1f" + xy
    return pd.Series(
        ["h:" + hashlib.sha256(s.encode()).hexdigest()[:24] for s in content], dtype=object
    )


def _truncate(good: pd.DataFrame) -> int:
    """Cut text fields to their column's width; return how many values were cut."""
    cut = 0
    for name, limit in TEXT_LIMITS.items():
        if name in good.columns and len(good):
            col = good[name]
            long = col.notna() & (_lengths(col) > limit)
            if long.any():
                cut += int(long.sum())
                good.loc[long, name] = col[long].astype(str).str.slice(0, limit)
    return cut


def _lengths(col: pd.Series) -> pd.Series:
    """Characters in each value (as text), counted by Arrow in C++ where it can."""
    text_ = col.astype(str)
    arrow = text_array(text_)
    if arrow is None:
        return text_.str.len()
    return pd.Series(pc.utf8_length(arrow).to_numpy(zero_copy_only=False), index=col.index)


def _has_nul(frame: pd.DataFrame, external_id: pd.Series) -> npt.NDArray[np.bool_]:
    """Rows with a NUL byte in the id or any text cell (both backends refuse them alike)."""
    found = np.zeros(len(frame), dtype=bool)
    for col in (external_id, *(frame[c] for c in frame.columns if frame[c].dtype == object)):
        found |= col.astype(str).str.contains("\x00", regex=False).to_numpy(dtype=bool)
    return found


def _rejects(
    frame: pd.DataFrame, reasons: _Reasons, ok: npt.NDArray[np.bool_], row_offset: int = 0
) -> pd.DataFrame:
    bad = ~ok
    if not bad.any():  # the usual batch: nothing to write out
        return pd.DataFrame(
            {
                "row_number": np.zeros(0, dtype=np.int64),
                "reason": np.zeros(0, dtype=object),
                "detail": np.zeros(0, dtype=object),
                "raw": np.zeros(0, dtype=object),
            }
        )
    raw_rows = frame[bad]
    raw_json = [json.dumps(rec, ensure_ascii=False) for rec in raw_rows.to_dict(orient="records")]
    return pd.DataFrame(
        {
            "row_number": np.flatnonzero(bad) + 1 + row_offset,
            "reason": reasons.reason[bad],
            "detail": reasons.detail[bad],
            "raw": raw_json,
        }
    )


def _event_fields(
    good: pd.DataFrame, rows: pd.DataFrame, profile: Profile
) -> tuple[pd.DataFrame, dict[str, int]]:
    raw_category = _column(rows, profile.columns.get("category"))
    # Categories repeat: each distinct one is upper-cased and looked up once, then spread.
    codes, uniques = factorize(raw_category)
    upper_u = [u.upper() for u in uniques]
    sar = {k.upper(): v for k, v in profile.suspicious_categories.items()}
    # ISE-SAR codes and names are understood as given, whatever the profile.
    sar_vocab = {code.upper(): code for code in SAR_CATEGORIES}
    sar_vocab |= {name.upper(): code for code, name in SAR_CATEGORIES.items()}
    crosswalk = {k.upper(): v for k, v in profile.category_map.items()}

    def spread(per_unique: list[Any]) -> pd.Series:
        values: npt.NDArray[np.object_] | list[object] = (
            np.array([*per_unique, None], dtype=object)[codes] if len(codes) else []
        )
        return pd.Series(values, index=raw_category.index, dtype=object)

    if profile.kind == "mixed":
        is_sar = spread([u in sar for u in upper_u]).astype(bool)
    else:
        is_sar = pd.Series(profile.kind == "suspicious", index=rows.index)
    both = sar_vocab | sar
    mapped_sar = spread([both.get(u) for u in upper_u])
    mapped_other = spread([crosswalk.get(u) for u in upper_u])
    good["kind"] = np.where(is_sar, "suspicious", "incident")
    mapped = mapped_sar.where(is_sar, mapped_other)
    category = mapped.fillna(raw_category)
    good["category"] = category.replace("", "UNSPECIFIED")
    # The category as the source gave it; Watchfloor's own exports carry it in its own column.
    source_category = (
        _column(rows, profile.columns["source_category"])
        if "source_category" in profile.columns
        else raw_category
    )
    good["source_category"] = source_category.replace("", None)
    # Kept as given, and reported: categories no crosswalk knows (only where one is expected).
    expects_map = is_sar if not profile.category_map else pd.Series(True, index=rows.index)
    unmapped_mask = mapped.isna() & (raw_category != "") & expects_map
    unmapped = {str(k): int(v) for k, v in raw_category[unmapped_mask].value_counts().items()}
    good["reported_at"] = (
        _times(_column(rows, profile.columns["reported_at"], sep=" "), profile)
        if "reported_at" in profile.columns
        else pd.NaT
    )
    good["description"] = _optional(rows, profile, "description")
    good["location_text"] = _optional(rows, profile, "location_text")
    good["handling"] = good["kind"].map({k: profile.handling_for(k) for k in EVENT_KINDS})
    severity = pd.to_numeric(profile.severity.evaluate(rows), errors="coerce").fillna(1)
    # numpy's clip: pandas' costs ~0.3 ms of fixed work, on every API batch.
    good["severity"] = np.clip(severity.to_numpy(dtype=np.float64), 1, 5).astype("int64")
    return good, unmapped


# PPD-21 names and their other names, by their normalised text (see _sector_key).
_SECTOR_NAMES = {" ".join(s.lower().replace("&", "and").split()): s for s in SECTORS}
_SECTOR_NAMES |= SECTOR_SYNONYMS


def _sector_key(text: str) -> str:
    return " ".join(text.lower().replace("&", "and").split())


def _sectors(frame: pd.DataFrame, profile: Profile) -> pd.Series:
    """Return each site's DHS sector (PPD-21 name), or missing where the text is none.

    A sector is shown in every user's map legend: only the sixteen PPD-21 names (any case) or
    a known other name (``SECTOR_SYNONYMS``) are kept, anything else is quarantined.
    """
    assert profile.sector is not None  # checked by Profile
    raw = profile.sector.evaluate(frame)
    codes, uniques = pd.factorize(raw)
    known = [_SECTOR_NAMES.get(_sector_key(str(u))) for u in uniques]
    return pd.Series(np.array([*known, None], dtype=object)[codes], index=frame.index)


def _site_fields(good: pd.DataFrame, rows: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    assert profile.tier is not None  # checked by Profile
    good["name"] = _column(rows, profile.columns.get("name")).replace("", "(unnamed)")
    # The sector is set by map_rows, checked against the DHS list (_sectors).
    good["subtype"] = profile.subtype.evaluate(rows) if profile.subtype else None
    tier = pd.to_numeric(profile.tier.evaluate(rows), errors="coerce").fillna(3)
    good["tier"] = tier.clip(1, 3).astype("int64")
    good["address"] = _optional(rows, profile, "address")
    good["handling"] = profile.handling_for("site")
    return good


def _optional(rows: pd.DataFrame, profile: Profile, field: str) -> pd.Series:
    if field not in profile.columns:
        return pd.Series([None] * len(rows), index=rows.index, dtype=object)
    return _column(rows, profile.columns[field]).replace("", None)

"""Map a raw table through a profile into canonical rows, or a quarantine reason per row.

Each row gets at most one reason, the first that applies in the order of ``REASONS``; rows with
none are good. Everything works on whole columns.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd
from shapely.geometry.base import BaseGeometry

from analytics.cells import points_to_cells
from data_loaders.areas import inside
from data_loaders.errors import ProfileError
from data_loaders.profiles import Profile
from data_loaders.readers import RawTable

# Quarantine reasons, in the order they are tested.
REASONS = (
    "excluded",  # replaced by the profile's own reason, e.g. inactive_site
    "missing_id",
    "missing_coordinates",
    "bad_coordinates",
    "out_of_range",
    "null_island",
    "outside_area",
    "missing_time",
    "bad_time",
    "future_time",
    "duplicate_in_file",
)
# How far in the future a report may lie (clock skew between agencies), before it is refused.
FUTURE_TOLERANCE = timedelta(days=1)

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

    @property
    def reason_counts(self) -> dict[str, int]:
        """Quarantined rows per reason."""
        return {str(k): int(v) for k, v in self.rejects["reason"].value_counts().items()}


class _Reasons:
    """One reason per row: the first one set wins."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)
        self.detail = np.full(n, None, dtype=object)

    def flag(self, mask: npt.NDArray[np.bool_], reason: str, detail: str | None = None) -> None:
        fresh = mask & pd.isna(self.reason)
        self.reason[fresh] = reason
        if detail is not None:
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
    out = frame[names[0]].astype(str).str.strip()
    for name in names[1:]:
        out = out + sep + frame[name].astype(str).str.strip()
    return out


def _content_hash(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[str]:
    joined = frame[columns[0]].astype(str)
    for name in columns[1:]:
        joined = joined + "\x1f" + frame[name].astype(str)
    return [hashlib.sha256(s.encode("utf-8")).hexdigest() for s in joined]


def _coordinates(
    table: RawTable, profile: Profile, reasons: _Reasons
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    frame = table.frame
    if "lat" in profile.columns and "lon" in profile.columns:
        lat_s = _column(frame, profile.columns["lat"])
        lon_s = _column(frame, profile.columns["lon"])
        empty = ((lat_s == "") | (lon_s == "")).to_numpy()
        lat = pd.to_numeric(lat_s, errors="coerce").to_numpy(dtype=float)
        lon = pd.to_numeric(lon_s, errors="coerce").to_numpy(dtype=float)
        reasons.flag(empty, "missing_coordinates")
        reasons.flag(np.isnan(lat) | np.isnan(lon), "bad_coordinates", "not a number")
    elif table.lat is not None and table.lon is not None:
        lat, lon = table.lat.astype(float), table.lon.astype(float)
        reasons.flag(np.isnan(lat) | np.isnan(lon), "missing_coordinates", "no geometry")
    else:
        raise ProfileError("the profile maps no lat/lon columns and the file has no geometry")
    with np.errstate(invalid="ignore"):
        bad_range = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    reasons.flag(bad_range, "out_of_range")
    reasons.flag((lat == 0) & (lon == 0), "null_island", "(0, 0) is a placeholder")
    return lat, lon


def _times(series: pd.Series, profile: Profile) -> pd.Series:
    """Parse to UTC: aware values keep their offset, naive ones are local to the source."""
    kwargs = {"format": profile.time_format} if profile.time_format else {"format": "mixed"}
    aware = pd.to_datetime(series.where(series != ""), errors="coerce", utc=True, **kwargs)
    has_offset = series.str.contains(r"(?:[+-]\d{2}(?::?\d{2})?|Z)$", regex=True, na=False)
    naive = pd.to_datetime(series.where(~has_offset & (series != "")), errors="coerce", **kwargs)
    if getattr(naive.dt, "tz", None) is None:
        naive = naive.dt.tz_localize(profile.timezone, ambiguous=True, nonexistent="shift_forward")
    return aware.where(has_offset, naive.dt.tz_convert("UTC"))


def map_rows(
    table: RawTable,
    profile: Profile,
    *,
    area: BaseGeometry | None,
    store_res: int,
    now: datetime,
) -> MappedRows:
    """Map ``table`` through ``profile`` into canonical rows, quarantining what cannot be used.

    Parameters
    ----------
    table
        The file as read.
    profile
        The partner's mapping profile.
    area
        The area of responsibility (EPSG:4326), or ``None`` to accept anywhere.
    store_res
        H3 resolution of the stored cell.
    now
        The current time (UTC), to refuse reports from the future.

    Returns
    -------
    MappedRows
        Good rows with ``EVENT_COLUMNS`` or ``SITE_COLUMNS``, and the rejects.
    """
    frame = table.frame.reset_index(drop=True)
    n = len(frame)
    reasons = _Reasons(n)
    for exclusion in profile.exclude:
        reasons.flag(exclusion.when.evaluate(frame), exclusion.reason)

    id_spec = profile.columns.get("external_id")
    if id_spec is None:
        # No id column: a stable id derived from the row's whole content.
        content = _column(frame, list(frame.columns), sep="\x1f")
        if table.lon is not None and table.lat is not None:
            content = (
                content
                + "\x1f"
                + pd.Series(table.lon).astype(str)
                + ","
                + pd.Series(table.lat).astype(str)
            )
        external_id = pd.Series(
            ["h:" + hashlib.sha256(s.encode()).hexdigest()[:24] for s in content], dtype=object
        )
    else:
        external_id = _column(frame, id_spec)
    reasons.flag((external_id == "").to_numpy(), "missing_id")

    lat, lon = _coordinates(table, profile, reasons)
    valid_xy = ~np.isnan(lat) & ~np.isnan(lon)
    if area is not None:
        outside = np.zeros(n, dtype=bool)
        outside[valid_xy] = ~inside(area, lon[valid_xy], lat[valid_xy])
        reasons.flag(outside, "outside_area", "outside the area of responsibility")

    is_site = profile.kind == "site"
    if not is_site:
        time_raw = _column(frame, profile.columns.get("occurred_at"))
        reasons.flag((time_raw == "").to_numpy(), "missing_time")
        occurred = _times(time_raw, profile)
        reasons.flag(occurred.isna().to_numpy(), "bad_time", "unparseable date/time")
        future = (occurred > pd.Timestamp(now) + FUTURE_TOLERANCE).fillna(False).to_numpy()
        reasons.flag(future, "future_time", "more than a day in the future")

    dup = external_id.duplicated(keep="first").to_numpy() & reasons.ok
    reasons.flag(dup, "duplicate_in_file", "the same id appears earlier in the file")

    ok = reasons.ok
    rejects = _rejects(frame, reasons, ok)
    good_frame = frame[ok]
    good = pd.DataFrame(index=good_frame.index)
    good["external_id"] = external_id[ok]
    good["lon"] = lon[ok]
    good["lat"] = lat[ok]
    good["cell"] = points_to_cells(lat[ok], lon[ok], store_res)
    if is_site:
        good = _site_fields(good, good_frame, profile)
        columns = SITE_COLUMNS
    else:
        good["occurred_at"] = occurred[ok]
        good = _event_fields(good, good_frame, profile)
        columns = EVENT_COLUMNS
    # Coordinates are compared at 1e-7 degrees (about 1 cm): a format that writes 15 significant
    # digits instead of 17 must not turn a re-import into an update.
    hashed = good.assign(lon=good["lon"].round(7), lat=good["lat"].round(7))
    good["content_hash"] = _content_hash(hashed, tuple(c for c in columns if c != "content_hash"))
    return MappedRows(good=good.loc[:, list(columns)].reset_index(drop=True), rejects=rejects)


def _rejects(frame: pd.DataFrame, reasons: _Reasons, ok: npt.NDArray[np.bool_]) -> pd.DataFrame:
    bad = ~ok
    raw_rows = frame[bad]
    raw_json = [json.dumps(rec, ensure_ascii=False) for rec in raw_rows.to_dict(orient="records")]
    return pd.DataFrame(
        {
            "row_number": np.flatnonzero(bad) + 1,
            "reason": reasons.reason[bad],
            "detail": reasons.detail[bad],
            "raw": raw_json,
        }
    )


def _event_fields(good: pd.DataFrame, rows: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    raw_category = _column(rows, profile.columns.get("category"))
    upper = raw_category.str.upper()
    sar = {k.upper(): v for k, v in profile.suspicious_categories.items()}
    if profile.kind == "mixed":
        is_sar = upper.isin(sar.keys())
    else:
        is_sar = pd.Series(profile.kind == "suspicious", index=rows.index)
    crosswalk = {k.upper(): v for k, v in profile.category_map.items()}
    mapped_sar = upper.map(sar)
    mapped_other = upper.map(crosswalk)
    good["kind"] = np.where(is_sar, "suspicious", "incident")
    category = mapped_sar.where(is_sar, mapped_other).fillna(raw_category)
    good["category"] = category.replace("", "UNSPECIFIED")
    # The category as the source gave it; Watchfloor's own exports carry it in its own column.
    source_category = (
        _column(rows, profile.columns["source_category"])
        if "source_category" in profile.columns
        else raw_category
    )
    good["source_category"] = source_category.replace("", None)
    good["reported_at"] = (
        _times(_column(rows, profile.columns["reported_at"]), profile)
        if "reported_at" in profile.columns
        else pd.NaT
    )
    good["description"] = _optional(rows, profile, "description")
    good["location_text"] = _optional(rows, profile, "location_text")
    good["handling"] = [profile.handling_for(k) for k in good["kind"]]
    severity = pd.to_numeric(profile.severity.evaluate(rows), errors="coerce").fillna(1)
    good["severity"] = severity.clip(1, 5).astype("int64")
    return good


def _site_fields(good: pd.DataFrame, rows: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    assert profile.sector is not None and profile.tier is not None  # checked by Profile
    good["name"] = _column(rows, profile.columns.get("name")).replace("", "(unnamed)")
    good["sector"] = profile.sector.evaluate(rows).astype(str)
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

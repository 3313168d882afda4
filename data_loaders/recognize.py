"""Recognise a partner file's columns by their names (and a sample of values) into a profile.

Used when no mapping profile is given: latitude/longitude in their usual spellings, a WKT or
GeoJSON geometry column, a "Location" column like ``(42.30, -71.10)``, time columns (also a
separate date and time), and id, category, description and address columns.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from data_loaders.errors import ProfileError
from data_loaders.parsing import parse_geometry_text, parse_point_text
from data_loaders.profiles import Profile
from data_loaders.readers import RawTable

# Candidate names per canonical field, best first, compared after _norm() (lowercase, only
# letters and digits). Lists, not sets: the first name a file has wins.
NAMES: dict[str, tuple[str, ...]] = {
    "lat": ("lat", "latitude", "y", "latdd", "latdecimal", "pointy", "ycoord", "ycoordinate"),
    "lon": (
        "lon",
        "long",
        "lng",
        "longitude",
        "x",
        "londd",
        "longdecimal",
        "pointx",
        "xcoord",
        "xcoordinate",
    ),
    "geometry": ("geometry", "geom", "wkt", "thegeom", "shape", "geojson", "wktgeometry"),
    "location": ("location", "latlon", "latlong", "latlng", "coordinates", "coords", "point"),
    "occurred_at": (
        "occurredat",
        "occurredondate",
        "occurredon",
        "occurred",
        "occurreddate",
        "occurreddatetime",
        "datetime",
        "eventdatetime",
        "eventtime",
        "eventdate",
        "incidentdatetime",
        "incidentdate",
        "incidenttime",
        "timestamp",
        "when",
        "occurrence",
        "time",
        "date",
    ),
    "reported_at": ("reportedat", "reporteddate", "reportedon", "reportdate", "reported"),
    "external_id": (
        "externalid",
        "id",
        "incidentnumber",
        "incidentid",
        "incidentno",
        "reportid",
        "reportnumber",
        "eventid",
        "casenumber",
        "caseid",
        "caseno",
        "sarid",
        "uid",
        "uuid",
        "globalid",
        "objectid",
        "fid",
    ),
    "category": (
        "category",
        "sarcategory",
        "behaviorcategory",
        "behavior",
        "incidenttype",
        "eventtype",
        "offensedescription",
        "offense",
        "offence",
        "offensetype",
        "crimetype",
        "type",
        "activity",
        "classification",
    ),
    "description": ("description", "narrative", "summary", "details", "remarks", "comments"),
    "location_text": ("locationtext", "street", "address", "locationdescription", "place"),
    "name": ("name", "sitename", "facilityname", "facility", "station", "plantname", "title"),
    "address": ("address", "streetaddress", "street", "location"),
    "sector": ("sector", "dhssector", "cisector"),
    "tier": ("tier", "criticality", "criticalitytier"),
    "subtype": ("subtype", "type", "facilitytype", "sitetype"),
}
_DATE_ONLY = ("date", "incidentdate", "eventdate", "occurreddate", "reportdate")
_TIME_ONLY = ("time", "incidenttime", "eventtime", "occurredtime", "reporttime", "hour")
# Share of sampled non-empty values that must parse for a named column to count (positions, clock).
_MIN_PARSE_SHARE = 0.5
_SAMPLE = 200


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _find(columns: dict[str, str], field: str, taken: set[str]) -> str | None:
    for candidate in NAMES[field]:
        original = columns.get(candidate)
        if original is not None and original not in taken:
            return original
    return None


def _parses(frame: pd.DataFrame, column: str, parser: Any) -> bool:
    values = frame[column].astype(str).str.strip()
    sample = values[values != ""].head(_SAMPLE)
    if sample.empty:
        return False
    lat, _ = parser(sample)
    return float((~pd.isna(lat)).mean()) >= _MIN_PARSE_SHARE


def guess_columns(
    table: RawTable, kind: str, *, need_position: bool = True
) -> dict[str, str | list[str]]:
    """Map canonical fields to the columns of ``table`` by name (and sampled values).

    Parameters
    ----------
    table
        The file (or its first chunk).
    kind
        ``suspicious``, ``incident`` or ``site``.

    Returns
    -------
    dict
        Canonical field -> source column (``occurred_at`` may be ``[date, time]``).

    Raises
    ------
    ProfileError
        When no position can be found (and the file has no geometry of its own).
    """
    frame = table.frame
    columns = {_norm(c): c for c in reversed(list(frame.columns))}
    found: dict[str, str | list[str]] = {}
    taken: set[str] = set()

    def take(field: str, column: str | list[str]) -> None:
        found[field] = column
        taken.update([column] if isinstance(column, str) else column)

    if table.lat is None and need_position:
        lat, lon = _find(columns, "lat", taken), _find(columns, "lon", taken)
        if lat and lon:
            take("lat", lat)
            take("lon", lon)
        for field, parser in (("geometry", parse_geometry_text), ("location", parse_point_text)):
            if "lat" in found or "geometry" in found or "location" in found:
                break
            for candidate in NAMES[field]:
                col = columns.get(candidate)
                if col and _parses(frame, col, parser):
                    take(field, col)
                    break
        if not {"lat", "geometry", "location"} & found.keys():
            raise ProfileError(
                "no position found: name the latitude/longitude columns (lat/latitude/y and "
                "lon/long/lng/longitude/x), a WKT or GeoJSON geometry column or a 'Location' "
                f"column like '(42.30, -71.10)', or give --profile; the file has the columns "
                f"{list(frame.columns)}"
            )
    if kind == "site":
        for field in ("external_id", "name", "address", "sector", "tier", "subtype"):
            if col := _find(columns, field, taken):
                take(field, col)
        return found
    date_col = next((columns[c] for c in _DATE_ONLY if c in columns), None)
    time_col = next((columns[c] for c in _TIME_ONLY if c in columns), None)
    if date_col and time_col and date_col != time_col and _looks_like_clock(frame, time_col):
        take("occurred_at", [date_col, time_col])
    elif col := _find(columns, "occurred_at", taken):
        take("occurred_at", col)
    if col := _find(columns, "reported_at", taken):
        take("reported_at", col)
    if "occurred_at" not in found and "reported_at" in found:
        found["occurred_at"] = found["reported_at"]

    for field in ("external_id", "category", "description", "location_text"):
        if col := _find(columns, field, taken):
            take(field, col)
    return found


def _looks_like_clock(frame: pd.DataFrame, column: str) -> bool:
    sample = frame[column].astype(str).str.strip().head(_SAMPLE)
    sample = sample[sample != ""]
    clock = sample.str.match(r"^\d{1,2}(:\d{2}){1,2}(\s*[AaPp][Mm])?$")
    return not sample.empty and float(clock.mean()) >= _MIN_PARSE_SHARE


def auto_profile(
    table: RawTable,
    *,
    kind: str,
    source: str,
    timezone: str = "America/New_York",
    overrides: dict[str, str] | None = None,
    sector: str | None = None,
) -> Profile:
    """Build a profile for a file without one, from :func:`guess_columns` and ``overrides``.

    Parameters
    ----------
    table
        The file (or its first chunk).
    kind
        ``suspicious``, ``incident`` or ``site``.
    source
        The source agency.
    timezone
        Zone of naive times.
    overrides
        Canonical field -> column, given on the command line; they win over the guesses.
    sector
        For sites without a sector column: the DHS sector of every row.
    """
    given = set(overrides or {})
    positioned = {"lat", "lon"} <= given or bool({"location", "geometry"} & given)
    columns = guess_columns(table, kind, need_position=not positioned)
    for field, column in (overrides or {}).items():
        if column not in table.frame.columns:
            raise ProfileError(f"--{field.replace('_', '-')}-column {column!r} is not in the file")
        if field in ("lat", "lon", "location", "geometry"):
            for other in ("lat", "lon", "location", "geometry"):
                if other not in given:
                    columns.pop(other, None)
        columns[field] = column
    if kind != "site" and "occurred_at" not in columns:
        raise ProfileError(
            "no time column found: name it (occurred..., datetime, timestamp, date, or a date "
            "and a time column) or give --time-column; the file has the columns "
            f"{list(table.frame.columns)}"
        )
    spec: dict[str, Any] = {
        "name": f"auto:{source}",
        "source": source,
        "kind": kind,
        "description": "columns recognised by name",
        "timezone": timezone,
        "columns": columns,
    }
    if kind == "site":
        spec["sector"] = {"default": sector, "column": columns.pop("sector", None)}
        if spec["sector"]["default"] is None and spec["sector"]["column"] is None:
            raise ProfileError("a site file needs a sector: give --sector, a profile, or a column")
        spec["tier"] = {"default": 3, "column": columns.pop("tier", None)}
        if "subtype" in columns:
            spec["subtype"] = {"column": columns.pop("subtype")}
        spec["handling"] = "TLP:CLEAR"
    return Profile.model_validate(spec)

"""Hazard footprints: HURDAT2 best tracks parsed and swept by their wind radii.

Notes
-----
HURDAT2 (NOAA NHC best track, format of 2022) gives, every six hours, the centre, status, maximum
wind and the radii of 34-, 50- and 64-knot winds by quadrant (NE, SE, SW, NW) in nautical miles;
radii exist from 2004 on (-999 before). The footprint of one fix is the union of four geodesic
quarter-discs with the quadrant radii; the footprint of a track is the union of the convex hulls of
consecutive fixes' shapes (the area swept between fixes). Fixes without radii use a radius by
status (:data:`FALLBACK_RADIUS_KM`, a planning assumption, configurable). Geometry is computed on
the WGS84 ellipsoid (pyproj ``Geod``) and returned in EPSG:4326; nothing crosses the antimeridian
in the Atlantic basin.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

NM_TO_M = 1852.0
QUADRANTS = ("ne", "se", "sw", "nw")
# Azimuth ranges (degrees clockwise from north) of the quadrants.
_QUADRANT_AZIMUTHS = {
    "ne": (0.0, 90.0),
    "se": (90.0, 180.0),
    "sw": (180.0, 270.0),
    "nw": (270.0, 360.0),
}
# Radius used where HURDAT2 has no wind radii (before 2004), by storm status.
FALLBACK_RADIUS_KM: dict[str, float] = {"HU": 150.0, "TS": 100.0, "default": 50.0}
_GEOD = Geod(ellps="WGS84")


def _coord(text: str) -> float:
    text = text.strip()
    value = float(text[:-1])
    return -value if text[-1] in "SW" else value


def parse_hurdat2(text: str) -> pd.DataFrame:
    """Parse HURDAT2 text into one row per fix.

    Parameters
    ----------
    text
        The file's content: a header line per storm (``AL091985, GLORIA, 65,``) then its fixes.

    Returns
    -------
    pandas.DataFrame
        ``storm_id, name, time (UTC), record, status, lat, lon, max_wind_kt, min_pressure_mb`` and
        ``r34_ne`` ... ``r64_nw`` in nautical miles (NaN where not available).

    Examples
    --------
    >>> t = "AL031991, BOB, 1,\\n19910819, 1800, L, HU, 41.5N, 71.1W, 90, 962, " + "-999, " * 12
    >>> row = parse_hurdat2(t).iloc[0]
    >>> row["name"], float(row["lat"]), float(row["lon"]), str(row["time"])
    ('BOB', 41.5, -71.1, '1991-08-19 18:00:00+00:00')
    """
    rows = []
    storm_id = name = ""
    for number, line in enumerate(text.splitlines(), start=1):
        parts = [p.strip() for p in line.split(",")]
        if not line.strip():
            continue
        if len(parts) <= 4:
            if len(parts) < 3:
                raise ValueError(f"line {number}: not a HURDAT2 header or fix: {line!r}")
            storm_id, name = parts[0], parts[1]
            continue
        if len(parts) < 20 or not storm_id:
            raise ValueError(f"line {number}: not a HURDAT2 fix: {line!r}")
        radii = [float(p) if p and float(p) >= 0 else np.nan for p in parts[8:20]]
        rows.append(
            [
                storm_id,
                name,
                f"{parts[0]} {parts[1]}",
                parts[2],
                parts[3],
                _coord(parts[4]),
                _coord(parts[5]),
                float(parts[6]),
                float(parts[7]),
                *radii,
            ]
        )
    names = ["r34", "r50", "r64"]
    radius_cols = [f"{r}_{q}" for r in names for q in QUADRANTS]
    frame = pd.DataFrame(
        rows,
        columns=[
            "storm_id",
            "name",
            "time",
            "record",
            "status",
            "lat",
            "lon",
            "max_wind_kt",
            "min_pressure_mb",
            *radius_cols,
        ],
    )
    frame["time"] = pd.to_datetime(frame["time"], format="%Y%m%d %H%M", utc=True)
    frame.loc[frame["min_pressure_mb"] < 0, "min_pressure_mb"] = np.nan
    return frame


def _sector(
    lon: float, lat: float, radius_m: float, az0: float, az1: float, steps: int = 12
) -> Polygon:
    azimuths = np.linspace(az0, az1, steps)
    lons, lats, _ = _GEOD.fwd(
        np.full(steps, lon), np.full(steps, lat), azimuths, np.full(steps, radius_m)
    )
    return Polygon([(lon, lat), *zip(lons, lats, strict=True), (lon, lat)])


def fix_footprint(
    fix: pd.Series, wind: str = "r34", fallback_km: dict[str, float] | None = None
) -> BaseGeometry:
    """Return the area within the ``wind`` radii of one fix (quarter-discs by quadrant), EPSG:4326.

    Examples
    --------
    >>> fix = pd.Series({"lon": -71.0, "lat": 41.0, "status": "HU", "r34_ne": 100.0,
    ...                  "r34_se": 100.0, "r34_sw": 50.0, "r34_nw": 50.0})
    >>> round(fix_footprint(fix).bounds[3], 1)  # 100 nmi north of 41.0 N
    42.7
    """
    fallback = {**FALLBACK_RADIUS_KM, **(fallback_km or {})}
    radii = [fix.get(f"{wind}_{q}", np.nan) for q in QUADRANTS]
    if all(pd.isna(r) or r <= 0 for r in radii):
        radius_m = fallback.get(str(fix["status"]), fallback["default"]) * 1000.0
        azimuths = np.linspace(0.0, 360.0, 48, endpoint=False)
        n = len(azimuths)
        lons, lats, _ = _GEOD.fwd(
            np.full(n, fix["lon"]), np.full(n, fix["lat"]), azimuths, np.full(n, radius_m)
        )
        return Polygon(zip(lons, lats, strict=True))
    parts = [
        _sector(fix["lon"], fix["lat"], float(r) * NM_TO_M, *_QUADRANT_AZIMUTHS[q])
        for q, r in zip(QUADRANTS, radii, strict=True)
        if not pd.isna(r) and r > 0
    ]
    return shapely.union_all(parts)


def track_footprint(
    fixes: pd.DataFrame, wind: str = "r34", fallback_km: dict[str, float] | None = None
) -> MultiPolygon:
    """Return the area swept by a storm's ``wind`` radii along its track, EPSG:4326.

    Parameters
    ----------
    fixes
        One storm's fixes from :func:`parse_hurdat2`, in time order.
    wind
        ``r34``, ``r50`` or ``r64``.
    fallback_km
        Radius by status where the fix has no radii (overrides :data:`FALLBACK_RADIUS_KM`).
    """
    shapes = [
        fix_footprint(fix, wind, fallback_km) for _, fix in fixes.sort_values("time").iterrows()
    ]
    if not shapes:
        raise ValueError("a track needs at least one fix")
    swept = [shapes[0]] + [shapely.convex_hull(shapely.union(a, b)) for a, b in pairwise(shapes)]
    merged = shapely.union_all(swept)
    return merged if isinstance(merged, MultiPolygon) else MultiPolygon([merged])

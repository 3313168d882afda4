"""Distances from clusters of H3 cells to infrastructure sites, and protection radii.

Notes
-----
Distances are computed in metres in the Massachusetts State Plane (mainland) projection,
NAD83 / Massachusetts Mainland, EPSG:26986: geometry enters in EPSG:4326 and is projected by
:func:`to_state_plane`. Over the state the scale error of that conformal projection stays well
under 0.1 %, far below the size of an H3 cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Transformer

from analytics.cells import cells_to_polygons
from domain.detection import DEFAULT_RADIUS_M, DEFAULT_SECTOR_RADIUS_M, DEFAULT_TIER_FACTOR

FloatArray = npt.NDArray[np.float64]
PROJECTED_CRS = "EPSG:26986"


@dataclass(frozen=True)
class SiteHit:
    """One site within its protection radius of a cluster."""

    site_index: int  # row position in the sites frame
    distance_m: float
    radius_m: float


@lru_cache(maxsize=1)
def _transformer() -> Transformer:
    return Transformer.from_crs("EPSG:4326", PROJECTED_CRS, always_xy=True)


def to_state_plane(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Project WGS84 lon/lat (degrees) to EPSG:26986 easting/northing (metres).

    Examples
    --------
    >>> x, y = to_state_plane([-71.06], [42.36])
    >>> bool(230_000 < x[0] < 240_000 and 895_000 < y[0] < 905_000)
    True
    """
    lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    n = lon_a.size
    if n == 1:
        # pyproj 3.7 takes the scalar path for one-element arrays and trips numpy's deprecation.
        lon_a, lat_a = np.repeat(lon_a, 2), np.repeat(lat_a, 2)
    x, y = _transformer().transform(lon_a, lat_a)
    return np.asarray(x, dtype=np.float64)[:n], np.asarray(y, dtype=np.float64)[:n]


def protection_radii(
    sites: pd.DataFrame,
    *,
    sector_radius_m: Mapping[str, float] = DEFAULT_SECTOR_RADIUS_M,
    tier_factor: Mapping[int, float] = DEFAULT_TIER_FACTOR,
    default_radius_m: float = DEFAULT_RADIUS_M,
) -> FloatArray:
    """Return each site's protection radius in metres.

    A site's own ``protection_radius_m`` wins; otherwise the sector's radius times the tier factor.

    Parameters
    ----------
    sites
        Columns ``sector``, ``tier`` and optionally ``protection_radius_m``.
    sector_radius_m, tier_factor, default_radius_m
        The configuration (``settings.detect_sector_radius_m`` and ``detect_tier_factor``).

    Examples
    --------
    >>> frame = pd.DataFrame({"sector": ["Energy", "Commercial Facilities"], "tier": [1, 3]})
    >>> protection_radii(frame).tolist()
    [3000.0, 225.0]
    """
    base = sites["sector"].map(dict(sector_radius_m)).fillna(default_radius_m).astype(float)
    factor = sites["tier"].astype(int).map(dict(tier_factor)).fillna(1.0).astype(float)
    radius = (base * factor).to_numpy(dtype=np.float64)
    if "protection_radius_m" in sites:
        own = pd.to_numeric(sites["protection_radius_m"], errors="coerce").to_numpy(dtype=float)
        radius = np.where(np.isfinite(own) & (own > 0), own, radius)
    radii: FloatArray = radius
    return radii


def cluster_geometry(cells: Sequence[int]) -> shapely.Geometry:
    """Return the union of the cells' hexagons, projected to EPSG:26986 (metres)."""
    polys = cells_to_polygons(np.asarray(cells, dtype=np.int64))
    projected = shapely.transform(
        polys, lambda xy: np.column_stack(to_state_plane(xy[:, 0], xy[:, 1]))
    )
    return shapely.union_all(projected)


def sites_near(
    cells: Sequence[int], site_lon: npt.ArrayLike, site_lat: npt.ArrayLike, radius_m: FloatArray
) -> list[SiteHit]:
    """Return the sites whose protection radius reaches the cluster, nearest first.

    Parameters
    ----------
    cells
        The cluster's H3 cells (int64).
    site_lon, site_lat
        Site positions in degrees (EPSG:4326).
    radius_m
        Each site's protection radius in metres (:func:`protection_radii`).

    Returns
    -------
    list of SiteHit
        Distance from the site to the nearest edge of the cluster's cells (0 inside), in metres
        measured in EPSG:26986.

    Examples
    --------
    >>> from analytics.cells import points_to_cells
    >>> cell = int(points_to_cells([42.36], [-71.06], 9)[0])
    >>> hits = sites_near([cell], [-71.06, -71.2], [42.36, 42.36], np.array([500.0, 500.0]))
    >>> [(h.site_index, h.distance_m) for h in hits]
    [(0, 0.0)]
    """
    lon = np.asarray(site_lon, dtype=np.float64)
    if lon.size == 0 or len(cells) == 0:
        return []
    x, y = to_state_plane(lon, np.asarray(site_lat, dtype=np.float64))
    geom = cluster_geometry(cells)
    xmin, ymin, xmax, ymax = shapely.bounds(geom)
    reach = np.asarray(radius_m, dtype=np.float64)
    # Cheap bounding-box test first; exact distances only for the few sites it keeps.
    cand = np.flatnonzero(
        (x >= xmin - reach) & (x <= xmax + reach) & (y >= ymin - reach) & (y <= ymax + reach)
    )
    if cand.size == 0:
        return []
    dist = shapely.distance(geom, shapely.points(x[cand], y[cand]))
    hits = [
        SiteHit(int(i), float(round(d, 1)), float(reach[i]))
        for i, d in zip(cand, dist, strict=True)
        if d <= reach[i]
    ]
    return sorted(hits, key=lambda h: (h.distance_m, h.site_index))

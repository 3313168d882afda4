"""The area of responsibility: rows outside it are quarantined, not stored."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

# Coastal reports (piers, harbour islands) sit just off generalised boundaries.
AREA_MARGIN_M = 1_000.0
# Massachusetts State Plane (metres), for the margin buffer.
_PROJECTED_CRS = "EPSG:26986"


@lru_cache(maxsize=4)
def load_area(path: str, margin_m: float = AREA_MARGIN_M) -> BaseGeometry:
    """Return the union of the polygons in ``path``, grown by ``margin_m`` metres, in EPSG:4326.

    Notes
    -----
    The margin is applied in EPSG:26986 (Massachusetts State Plane, metres).
    """
    gdf = gpd.read_file(Path(path))
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    grown = gdf.to_crs(_PROJECTED_CRS).buffer(margin_m).to_crs(4326)
    area = shapely.union_all(grown.to_numpy())
    shapely.prepare(area)
    return area


def inside(
    area: BaseGeometry, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Return where the points (EPSG:4326) fall inside ``area``, vectorised."""
    return np.asarray(shapely.contains_xy(area, lon, lat), dtype=bool)

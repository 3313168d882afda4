"""A static map image (PNG) for briefings, drawn server-side by matplotlib: no browser, no tiles."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # no display on servers
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from analytics.cells import cells_to_polygons
from layers.sites import SECTOR_COLORS
from settings import PROJECT_ROOT

BASEMAP = PROJECT_ROOT / "assets" / "basemap" / "counties.geojson"


@lru_cache(maxsize=2)
def _basemap(path: Path = BASEMAP) -> gpd.GeoDataFrame:
    return gpd.read_file(path)


def render_map_png(
    *,
    hexes: pd.DataFrame,
    events: pd.DataFrame,
    sites: pd.DataFrame,
    area: BaseGeometry | None,
    bounds: tuple[float, float, float, float],
    width_px: int = 1400,
    height_px: int = 900,
) -> bytes:
    """Draw the counties, hexagon counts, suspicious events, sites and the area outline to PNG.

    Parameters
    ----------
    hexes
        ``cell`` (int64) and ``total`` per hexagon.
    events
        Suspicious events with ``lon``/``lat``.
    sites
        Sites with ``lon``/``lat``/``sector``/``tier``.
    area
        The region or hazard outline, or ``None``.
    bounds
        ``west, south, east, north`` in degrees (EPSG:4326, drawn unprojected with the aspect
        corrected for the latitude).
    """
    dpi = 100
    fig, ax = plt.subplots(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    west, south, east, north = bounds
    _basemap().plot(ax=ax, facecolor="#f4f1ea", edgecolor="#9a9a9a", linewidth=0.6)
    if len(hexes):
        polys = gpd.GeoSeries(cells_to_polygons(hexes["cell"].to_numpy(dtype=np.int64)), crs=4326)
        gpd.GeoDataFrame({"total": hexes["total"].to_numpy()}, geometry=polys).plot(
            ax=ax,
            column="total",
            cmap="YlOrRd",
            alpha=0.7,
            legend=True,
            legend_kwds={"label": "events per hexagon", "shrink": 0.5},
        )
    if area is not None:
        gpd.GeoSeries([area], crs=4326).boundary.plot(ax=ax, color="#1d2b3a", linewidth=1.6)
    if len(events):
        ax.scatter(
            events["lon"], events["lat"], s=6, c="#d7191c", label="suspicious events", zorder=3
        )
    for sector, group in sites.groupby("sector") if len(sites) else []:
        ax.scatter(
            group["lon"],
            group["lat"],
            s=(4 - group["tier"].astype(int)) * 14,
            c=SECTOR_COLORS.get(str(sector), "#555555"),
            edgecolors="white",
            linewidths=0.5,
            label=str(sector),
            zorder=4,
        )
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(1 / np.cos(np.radians((south + north) / 2)))
    ax.set_axis_off()
    if len(events) or len(sites):
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()

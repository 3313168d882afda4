"""The map viewport: its bounding box from plotly's relayout data, and the zoom's H3 resolution."""

from __future__ import annotations

import math
from typing import Any

from store.queries.filters import BBox

# Map zoom -> H3 resolution: about 15-40 hexagons across a 1,200 px wide map at every zoom.
ZOOM_RES = ((6.0, 5), (7.5, 6), (9.0, 7), (10.5, 8), (12.0, 9))
FINEST_AUTO_RES = 10
_PAD = 0.25  # geometry covers a quarter more on every side, so small pans reuse it


def res_for_zoom(zoom: float, *, finest: int = FINEST_AUTO_RES) -> int:
    """Return the H3 resolution drawn at map ``zoom``.

    Examples
    --------
    >>> res_for_zoom(10), res_for_zoom(12.5), res_for_zoom(4)
    (8, 10, 5)
    """
    for below, res in ZOOM_RES:
        if zoom < below:
            return min(res, finest)
    return finest


def approx_viewport(
    lat: float, lon: float, zoom: float, width_px: int = 1200, height_px: int = 800
) -> BBox:
    """Return the bounding box a map of that size shows at ``zoom`` (512 px Web Mercator tiles)."""
    span_lon = width_px * 360.0 / (512 * 2**zoom)
    span_lat = span_lon * height_px / width_px * math.cos(math.radians(lat))
    return (lon - span_lon / 2, lat - span_lat / 2, lon + span_lon / 2, lat + span_lat / 2)


def relayout_view(relayout: dict[str, Any] | None) -> tuple[float, BBox] | None:
    """Return ``(zoom, bbox)`` from a ``map`` relayout event, or ``None`` if it holds neither."""
    if not relayout or "map.zoom" not in relayout:
        return None
    corners = (relayout.get("map._derived") or {}).get("coordinates")
    zoom = float(relayout["map.zoom"])
    if corners:
        lons = [float(c[0]) for c in corners]
        lats = [float(c[1]) for c in corners]
        return zoom, (min(lons), min(lats), max(lons), max(lats))
    center = relayout.get("map.center") or {}
    if "lat" not in center:
        return None
    return zoom, approx_viewport(float(center["lat"]), float(center["lon"]), zoom)


def relayout_center(relayout: dict[str, Any] | None) -> tuple[float, float] | None:
    """Return the map centre ``(lat, lon)`` of a relayout event, or ``None`` if it has none.

    Examples
    --------
    >>> relayout_center({"map.zoom": 11, "map.center": {"lat": 42.3, "lon": -71.1}})
    (42.3, -71.1)
    """
    center = (relayout or {}).get("map.center") or {}
    if "lat" not in center or "lon" not in center:
        return None
    return float(center["lat"]), float(center["lon"])


def padded(bbox: BBox) -> BBox:
    """Return ``bbox`` grown by a quarter on every side, rounded outward to 0.01 degree."""
    west, south, east, north = bbox
    dx, dy = (east - west) * _PAD, (north - south) * _PAD
    return (
        max(-180.0, math.floor((west - dx) * 100) / 100),
        max(-90.0, math.floor((south - dy) * 100) / 100),
        min(180.0, math.ceil((east + dx) * 100) / 100),
        min(90.0, math.ceil((north + dy) * 100) / 100),
    )


def contains(outer: BBox, inner: BBox) -> bool:
    """Return whether ``inner`` lies within ``outer``."""
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )

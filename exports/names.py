"""The names of the export layers and formats, without the libraries that write them.

The command line builds its choices from these (``manage.py`` starts in ~1 s instead of ~2.5 s
when it does not load geopandas for a command that writes no file).
"""

from __future__ import annotations

from typing import Literal

ExportFormat = Literal["geojson", "csv", "gpkg", "shp", "kml", "kmz"]
FORMATS: tuple[ExportFormat, ...] = ("geojson", "csv", "gpkg", "shp", "kml", "kmz")
EXPORT_LAYERS: tuple[str, ...] = (
    "suspicious",
    "incidents",
    "sites",
    "hexes",
    "flags",
    "regions",
    "hazards",
)

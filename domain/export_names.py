"""The names of the export layers and formats, without the libraries that write them.

The command line builds its choices from these, so a command that writes no file does not load
geopandas (``manage.py --help`` took 2.3 s with it, 0.2 s without; an ingest 1.5 s less).
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

"""The ordered layer registry: drives drawing order, toggles, the legend and the export menu.

Adding a layer means one module and one line here.
"""

from __future__ import annotations

from layers.areas import AreaLayer
from layers.base import Layer
from layers.events import EventLayer
from layers.flags import FlagsLayer
from layers.hexes import HexLayer
from layers.sites import SitesLayer

# Drawn bottom to top.
LAYERS: dict[str, Layer] = {
    "regions": AreaLayer(key="regions", label="Regions (counties)", color="#3b6e8f", kind="region"),
    "hazards": AreaLayer(
        key="hazards", label="Hazard footprints (storms)", color="#e07b00", kind="hazard"
    ),
    "hexes": HexLayer(),
    "incidents": EventLayer(
        key="incidents", label="Incident reports", color="#5b6b7f", kind="incident", size=4
    ),
    "suspicious": EventLayer(
        key="suspicious", label="Suspicious events", color="#d7191c", kind="suspicious", size=7
    ),
    "sites": SitesLayer(),
    "flags": FlagsLayer(),
}
DEFAULT_VISIBLE: tuple[str, ...] = ("hexes", "incidents", "suspicious", "sites", "flags")

"""Every component id of the page, in one place."""

from __future__ import annotations

MAP_GRAPH = "map-graph"
LAYER_TOGGLES = "layer-toggles"
WINDOW_PRESET = "window-preset"
CUSTOM_RANGE = "custom-range"
HEX_RES = "hex-res"
KIND_FILTER = "kind-filter"
SUMMARY = "map-summary"
WINDOW_TEXT = "window-text"
DATA_THROUGH = "data-through"
MARKING_BANNER = "marking-banner"
MARKING_FOOTER = "marking-footer"
NOTES = "map-notes"
FILTER_STORE = "filter-store"


def summary_count(layer: str) -> str:
    """Id of the summary count of one layer, e.g. ``summary-count-suspicious``."""
    return f"summary-count-{layer}"


# Map panel: hexagon engine controls, timeline, playback and the cell detail panel (issue #4).
HEX_RES_AUTO = "hex-res-auto"
HEX_COLOUR = "hex-colour"
WINDOW_STORE = "window-store"
GEOMETRY_STORE = "geometry-store"
TIMELINE_GRAPH = "timeline-graph"
PLAY_BUTTON = "play-button"
PLAY_SPEED = "play-speed"
PLAY_INTERVAL = "play-interval"
CELL_PANEL = "cell-panel"
CELL_TITLE = "cell-title"
CELL_BREAKDOWN = "cell-breakdown"
CELL_SITES = "cell-sites"
CELL_GRID = "cell-grid"

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
USER_MENU = "user-menu"
SIGN_OUT = "sign-out"


def summary_count(layer: str) -> str:
    """Id of the summary count of one layer, e.g. ``summary-count-suspicious``."""
    return f"summary-count-{layer}"

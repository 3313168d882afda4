"""What one map update sends to the browser: a full figure, or the hexagon values only.

The browser keeps the hexagon geometry: the server sends the cells of the hexagon trace once
(64-bit H3 ids as base64 word pairs, see ``layers.encoding``), and ``assets/watchfloor_map.js``
turns them into polygons with h3-js and attaches them to the figure. Later updates that keep
the resolution, the layers and a viewport inside the area already covered send only the values
(a Dash ``Patch`` of the figure spec), and the cells again only when they changed (new data).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from dash import Patch

from layers.encoding import cells_to_words
from layers.view import MapView

# Hexagon trace keys a values-only update replaces; the geometry stays in the browser.
# Traces that no window or colour change alters: a values update leaves them in the browser.
STATIC_TRACES = ("sites", "regions", "hazards")
HEX_VALUE_KEYS = ("z", "customdata", "zmin", "zmax", "colorscale", "reversescale", "meta")


@dataclass(frozen=True)
class MapPayload:
    """The map's share of one callback answer.

    ``spec`` is the figure (a dict) or a values-only ``Patch`` of the last one; ``cells`` the
    new hexagon cells for the browser, or ``None`` when it already holds them; ``digest``
    identifies the cells the browser holds after this update.
    """

    spec: dict[str, Any] | Patch
    cells: dict[str, Any] | None
    digest: str


def cells_digest(cells: npt.NDArray[np.int64] | None) -> str:
    """Return a short digest of a cell array (empty for no hexagon trace)."""
    if cells is None:
        return ""
    data = np.ascontiguousarray(cells, dtype="<i8").tobytes()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def map_payload(view: MapView, *, values_only: bool, held_digest: str | None) -> MapPayload:
    """Return what to send for ``view``.

    Parameters
    ----------
    values_only
        The browser's figure has the same traces (resolution, layers, covered area): send a
        ``Patch`` of the hexagon values and the point traces instead of the whole figure.
    held_digest
        Digest of the cells the browser holds (from the previous update), if any.
    """
    digest = cells_digest(view.hex_cells)
    cells = None
    if view.hex_cells is not None and digest != held_digest:
        cells = {"res": view.res, "n": len(view.hex_cells), "cells": cells_to_words(view.hex_cells)}
    if not values_only or view.hex_trace is None:
        return MapPayload(view.figure, cells, digest)
    return MapPayload(values_patch(view), cells, digest)


def values_patch(view: MapView) -> Patch:
    """Return a Patch replacing the hexagon values, the point traces and the map's view."""
    patch = Patch()
    view_now = view.figure["layout"]["map"]
    patch["layout"]["map"]["center"] = view_now["center"]
    patch["layout"]["map"]["zoom"] = view_now["zoom"]
    for i, trace in enumerate(view.figure["data"]):
        if i == view.hex_trace:
            for key in HEX_VALUE_KEYS:
                patch["data"][i][key] = trace[key]
            patch["data"][i]["colorbar"]["title"]["text"] = trace["colorbar"]["title"]["text"]
        elif not str(trace.get("uid", "")).startswith(STATIC_TRACES):
            patch["data"][i] = trace
    return patch

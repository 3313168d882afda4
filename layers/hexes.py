"""The H3 hexagon layer: counts per cell for the window, coloured by a chosen measure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from analytics.cells import cells_to_polygons, cells_to_str
from analytics.hexagg import change_scores
from layers.base import ColourMode, LayerRequest, Trace
from layers.encoding import count_dtype, typed_array
from store.queries import cell_counts
from store.queries.events import HEX_COLUMNS
from store.queries.hexagg import trailing_cell_counts

TRAILING_WINDOWS = 4  # baseline for "change": the four windows of the same length before
HOVER = (
    "<b>%{location}</b><br>%{z:,.3~f} %{meta.unit}<br>%{customdata[0]} suspicious · "
    "%{customdata[1]} incidents<extra>Hexagon</extra>"
)
# (colour scale, reversed, unit, diverging): plotly's YlOrRd runs dark to light, so reverse it.
SCALES: dict[ColourMode, tuple[str, bool, str, bool]] = {
    "total": ("YlOrRd", True, "events", False),
    "suspicious": ("Reds", False, "suspicious", False),
    "incident": ("Greys", False, "incidents", False),
    "severity": ("Purples", False, "severity points", False),
    "change": ("RdBu", False, "z vs trailing", True),  # plotly RdBu: low blue, high red
}


def cells_geojson(cells: np.ndarray) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection of the cells' polygons, ids as H3 strings.

    Notes
    -----
    Coordinates are EPSG:4326 lon/lat, rounded to 5 decimals (about 1 m) to keep payloads small.
    """
    if len(cells) == 0:  # an empty viewport: np.split would make one ring for no cell
        return {"type": "FeatureCollection", "features": []}
    polys = cells_to_polygons(cells)
    coords = np.round(shapely.get_coordinates(polys), 5)
    offsets = np.cumsum(shapely.get_num_coordinates(polys))[:-1]
    rings = np.split(coords, offsets)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": cid,
                "geometry": {"type": "Polygon", "coordinates": [ring.tolist()]},
            }
            for cid, ring in zip(cells_to_str(cells), rings, strict=True)
        ],
    }


def _aligned(cells: npt.NDArray[np.int64], frame: pd.DataFrame, column: str) -> npt.NDArray[Any]:
    """Values of ``frame[column]`` in the order of ``cells`` (NaN where a cell has none)."""
    out = np.full(len(cells), np.nan)
    # No trailing columns when the window is "all" (the "change" colouring has no baseline).
    if len(frame) and len(cells) and column in frame:
        pos = np.searchsorted(cells, frame["cell"].to_numpy(np.int64))
        pos_c = np.minimum(pos, len(cells) - 1)
        ok = cells[pos_c] == frame["cell"].to_numpy(np.int64)
        out[pos_c[ok]] = frame[column].to_numpy(np.float64)[ok]
    return out


def hex_values(
    frame: pd.DataFrame, cells: npt.NDArray[np.int64], colour: ColourMode
) -> dict[str, Any]:
    """Return the value part of the hexagon trace: ``z``, ``customdata`` and the colour range.

    ``z`` (float32, NaN where a cell has no value: plotly leaves it undrawn) and ``customdata``
    (suspicious and incident counts per cell) are typed arrays in the order of ``cells``, so the
    browser keeps the geometry of ``cells`` and takes only these on every update: 4 to 8 bytes
    a cell before base64 (see ``layers.encoding``).
    """
    total = _aligned(cells, frame, "total")
    if colour == "change":
        trailing = (
            np.column_stack(
                [np.nan_to_num(_aligned(cells, frame, f"t{k}")) for k in range(TRAILING_WINDOWS)]
            )
            if len(cells)
            else np.zeros((0, TRAILING_WINDOWS))
        )
        z = change_scores(np.nan_to_num(total), trailing)
        z[np.isnan(total) & (trailing.sum(axis=1) == 0)] = np.nan
        z = np.round(z, 2)
    else:
        z = _aligned(cells, frame, {"severity": "severity_sum"}.get(colour, colour))
        z[z == 0] = np.nan  # a kind with no event in a cell is not drawn
    scale, reverse, unit, diverging = SCALES[colour]
    finite = z[np.isfinite(z)]
    zmax = float(np.abs(finite).max()) if finite.size else 1.0
    counts = np.nan_to_num(
        np.column_stack([_aligned(cells, frame, "suspicious"), _aligned(cells, frame, "incident")])
    ).reshape(len(cells), 2)
    return {
        "z": typed_array(z, "f4"),
        "customdata": typed_array(counts, count_dtype(counts.max(initial=0))),
        "zmin": -zmax if diverging else 0,
        "zmax": max(zmax, 1.0),
        "colorscale": scale,
        "reversescale": reverse,
        "meta": {
            "layer": "hexes",
            "count": int(np.isfinite(z).sum()),
            "unit": unit,
            "colour": colour,
        },
    }


@dataclass(frozen=True)
class HexLayer:
    """Counts of visible events per H3 cell at the request's resolution."""

    key: str = "hexes"
    label: str = "Event density (H3)"
    color: str = "#fd8d3c"
    export_columns: tuple[str, ...] = HEX_COLUMNS

    def query(self, *, session: Session, request: LayerRequest) -> pd.DataFrame:
        """Return per-cell counts from the columnar cache (visibility applied).

        For the "change" colouring, columns ``t0..t3`` hold the trailing windows' totals.
        """
        frame = cell_counts(
            session=session, viewer=request.viewer, filters=request.filters, res=request.res
        )
        if request.colour == "change" and request.filters.window is not None:
            trailing = trailing_cell_counts(
                session=session,
                viewer=request.viewer,
                filters=request.filters,
                res=request.res,
                windows=TRAILING_WINDOWS,
            )
            trailing.columns = [f"t{k}" for k in trailing.columns]
            frame = frame.merge(trailing, left_on="cell", right_index=True, how="outer")
            frame = frame.fillna(0).astype("int64").sort_values("cell", ignore_index=True)
        return frame

    @staticmethod
    def trace_cells(frame: pd.DataFrame, request: LayerRequest) -> npt.NDArray[np.int64]:
        """Return the cells the trace is drawn over, in the order of its values."""
        if request.cells is not None:
            return request.cells
        return np.sort(frame["cell"].to_numpy(dtype=np.int64))

    def to_traces(self, frame: pd.DataFrame, *, request: LayerRequest) -> list[Trace]:
        """Return one ``choroplethmap`` trace over ``request.cells`` (or the frame's cells).

        The trace carries values only: its ``locations`` and ``geojson`` are the cells of
        :meth:`trace_cells`, which the browser turns into polygons itself (h3-js in
        ``assets/watchfloor_map.js``), once per resolution and viewport. ``with_geometry``
        adds them here for a self-contained figure (the briefing, tests).
        """
        cells = self.trace_cells(frame, request)
        trace: Trace = {
            "type": "choroplethmap",
            "name": self.label,
            "uid": self.key,
            "marker": {"opacity": 0.65, "line": {"width": 0.3, "color": "#ffffff"}},
            "colorbar": {
                "title": {"text": SCALES[request.colour][2]},
                "thickness": 12,
                "len": 0.5,
                "x": 0.0,
                "xanchor": "left",
                "y": 0.02,
                "yanchor": "bottom",
            },
            "hovertemplate": HOVER,
            "showlegend": True,
            **hex_values(frame, cells, request.colour),
        }
        trace["meta"].update(res=request.res, cells=len(cells))
        if request.with_geometry:
            trace["locations"] = cells_to_str(cells)
            trace["geojson"] = cells_geojson(cells)
        return [trace]

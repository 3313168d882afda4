"""The H3 hexagon layer: event counts per cell for the window, drawn as a choropleth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from analytics.cells import cells_to_polygons, cells_to_str
from layers.base import LayerRequest, Trace
from store.queries import cell_counts
from store.queries.events import HEX_COLUMNS

HOVER = (
    "<b>%{location}</b><br>%{z} events<br>%{customdata[0]} suspicious · "
    "%{customdata[1]} incidents<extra>Hexagon</extra>"
)


def cells_geojson(cells: np.ndarray) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection of the cells' polygons, ids as H3 strings.

    Notes
    -----
    Coordinates are EPSG:4326 lon/lat, rounded to 6 decimals (about 0.1 m) to keep payloads small.
    """
    polys = cells_to_polygons(cells)
    coords = np.round(shapely.get_coordinates(polys), 6)
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


@dataclass(frozen=True)
class HexLayer:
    """Counts of visible events per H3 cell at the request's resolution."""

    key: str = "hexes"
    label: str = "Event density (H3)"
    color: str = "#fd8d3c"
    export_columns: tuple[str, ...] = HEX_COLUMNS

    def query(self, *, session: Session, request: LayerRequest) -> pd.DataFrame:
        """Return per-cell counts from the columnar cache (visibility applied)."""
        return cell_counts(
            session=session, viewer=request.viewer, filters=request.filters, res=request.res
        )

    def to_traces(self, frame: pd.DataFrame, *, request: LayerRequest) -> list[Trace]:
        """Return one ``choroplethmap`` trace coloured by total events per cell."""
        cells = frame["cell"].to_numpy(dtype=np.int64)
        zmax = float(frame["total"].max()) if len(frame) else 1.0
        return [
            {
                "type": "choroplethmap",
                "name": self.label,
                "uid": self.key,
                "geojson": cells_geojson(cells),
                "locations": cells_to_str(cells),
                "z": frame["total"].astype(int).tolist(),
                "zmin": 0,
                "zmax": zmax,
                "customdata": frame[["suspicious", "incident"]].to_numpy().tolist(),
                "colorscale": "YlOrRd",
                "reversescale": True,  # plotly's YlOrRd runs dark to light; low counts pale
                "marker": {"opacity": 0.65, "line": {"width": 0.3, "color": "#ffffff"}},
                "colorbar": {
                    "title": {"text": "events"},
                    "thickness": 12,
                    "len": 0.5,
                    "x": 0.0,
                    "xanchor": "left",
                    "y": 0.02,
                    "yanchor": "bottom",
                },
                "hovertemplate": HOVER,
                "showlegend": True,
                "meta": {"layer": self.key, "count": len(frame), "res": request.res},
            }
        ]

"""The flags layer: open flags as outlined H3 cells with a line to their nearest site."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from analytics.cells import cells_to_str
from layers._format import text
from layers.base import LayerRequest, Trace
from layers.hexes import cells_geojson
from store.queries.flags import QUEUE_COLUMNS, flag_rows

OPEN_STATUSES = ("new", "acknowledged", "assigned")
COLOR = "#7b00d4"
HOVER = (
    "<b>Flag %{customdata[0]} · priority %{customdata[1]}</b><br>%{customdata[2]}"
    "<br>status %{customdata[3]}<extra>Flag</extra>"
)


@dataclass(frozen=True)
class FlagsLayer:
    """Open flags the viewer may see: their cells outlined, a line to the nearest site."""

    key: str = "flags"
    label: str = "Flags (clusters near sites)"
    color: str = COLOR
    export_columns: tuple[str, ...] = tuple(c for c in QUEUE_COLUMNS if c != "cells")

    def query(self, *, session: Session, request: LayerRequest) -> pd.DataFrame:
        """Return the open flags visible to the request's viewer (not window-filtered)."""
        return flag_rows(session=session, viewer=request.viewer, statuses=OPEN_STATUSES)

    def to_traces(self, frame: pd.DataFrame, *, request: LayerRequest) -> list[Trace]:
        """Return an outline trace of the flagged cells, site lines and a marker per flag."""
        if frame.empty:
            return []
        cell_flag = [(c, row) for row in frame.itertuples() for c in row.cells]
        cells = np.array([c for c, _ in cell_flag], dtype=np.int64)
        line_lon: list[float | None] = []
        line_lat: list[float | None] = []
        for row in frame.itertuples():
            if pd.notna(row.site_lon):
                line_lon += [row.lon, row.site_lon, None]
                line_lat += [row.lat, row.site_lat, None]
        custom = pd.DataFrame(
            {
                "id": frame["id"].astype(str),  # public ids
                # A priority withheld from this viewer (store.queries.flags) reads "withheld";
                # the summary then says why.
                "priority": ["withheld" if pd.isna(v) else f"{v:.1f}" for v in frame["priority"]],
                "summary": text(frame["summary"]),
                "status": text(frame["status"]),
            }
        )
        meta = {"layer": self.key, "count": len(frame)}
        return [
            {
                "type": "choroplethmap",
                "name": "Flagged cells",
                "uid": f"{self.key}-cells",
                "legendgroup": self.key,
                "legendgrouptitle": {"text": self.label},
                "geojson": cells_geojson(cells),
                "locations": cells_to_str(cells),
                "z": [1] * len(cells),
                "colorscale": [[0, "rgba(123,0,212,0.08)"], [1, "rgba(123,0,212,0.08)"]],
                "showscale": False,
                "marker": {"line": {"width": 2.5, "color": COLOR}},
                "hoverinfo": "skip",
                "meta": meta,
            },
            {
                "type": "scattermap",
                "name": "Flag → site",
                "uid": f"{self.key}-lines",
                "legendgroup": self.key,
                "mode": "lines",
                "lon": line_lon,
                "lat": line_lat,
                "line": {"width": 2, "color": COLOR},
                "hoverinfo": "skip",
                "meta": meta,
            },
            {
                "type": "scattermap",
                "name": "Flags",
                "uid": f"{self.key}-points",
                "legendgroup": self.key,
                "mode": "markers",
                "lon": frame["lon"].tolist(),
                "lat": frame["lat"].tolist(),
                "marker": {"size": 12, "color": COLOR, "opacity": 0.9},
                "customdata": custom.to_numpy().tolist(),
                "hovertemplate": HOVER,
                "meta": meta,
            },
        ]

"""The regions and hazards layers: area outlines with their names (and a storm's time) in hover."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import shapely
from sqlalchemy.orm import Session

from layers._format import text
from layers.base import LayerRequest, Trace
from store.queries.areas import FEATURE_COLUMNS, area_features

# Outlines are drawn simplified (about 100 m): the map needs the shape, not the survey line.
SIMPLIFY_DEG = 0.001


def outline_coords(shape: shapely.Geometry) -> tuple[list[float | None], list[float | None]]:
    """Return the lon and lat of every ring of ``shape``, each ring closed by a ``None`` gap.

    Examples
    --------
    >>> outline_coords(shapely.box(0, 0, 1, 1))
    ([1.0, 1.0, 0.0, 0.0, 1.0, None], [0.0, 1.0, 1.0, 0.0, 0.0, None])
    """
    lon: list[float | None] = []
    lat: list[float | None] = []
    for ring in shapely.get_rings(shapely.get_parts(shape)):
        xy = shapely.get_coordinates(ring)
        lon += [*xy[:, 0].tolist(), None]
        lat += [*xy[:, 1].tolist(), None]
    return lon, lat


def _when(frame: pd.DataFrame, tz: str) -> pd.Series:
    start = pd.to_datetime(frame["valid_from"], utc=True).dt.tz_convert(tz)
    end = pd.to_datetime(frame["valid_to"], utc=True).dt.tz_convert(tz)
    span = start.dt.strftime("%Y-%m-%d") + " to " + end.dt.strftime("%Y-%m-%d")
    return span.where(start.notna() & end.notna(), "")


@dataclass(frozen=True)
class AreaLayer:
    """Regions (counties, districts) or hazard footprints (storms) as outlines."""

    key: str
    label: str
    color: str
    kind: str
    export_columns: tuple[str, ...] = FEATURE_COLUMNS

    def query(self, *, session: Session, request: LayerRequest) -> pd.DataFrame:
        """Return the visible areas of this kind (all of them: they frame the picture)."""
        return area_features(session=session, viewer=request.viewer, kind=self.kind)

    def to_traces(self, frame: pd.DataFrame, *, request: LayerRequest) -> list[Trace]:
        """Return one line trace of every outline; hover gives the name and the storm's time."""
        if frame.empty:
            return []
        lon: list[float | None] = []
        lat: list[float | None] = []
        custom: list[list[str]] = []
        names = text(frame["name"])
        when = _when(frame, request.tz)
        subtypes = text(frame["subtype"])
        for shape, name, span, subtype in zip(
            frame["geometry"], names, when, subtypes, strict=True
        ):
            x, y = outline_coords(shapely.simplify(shape, SIMPLIFY_DEG))
            lon += x
            lat += y
            custom += [[name, subtype, span]] * len(x)
        return [
            {
                "type": "scattermap",
                "name": self.label,
                "uid": f"{self.key}-outlines",
                "legendgroup": self.key,
                "mode": "lines",
                "lon": lon,
                "lat": lat,
                "line": {"width": 1.5 if self.kind == "region" else 2.5, "color": self.color},
                "customdata": custom,
                "hovertemplate": "<b>%{customdata[0]}</b><br>%{customdata[1]}"
                "<br>%{customdata[2]}<extra>" + self.label + "</extra>",
                "meta": {"layer": self.key, "count": len(frame)},
            }
        ]

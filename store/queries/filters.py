"""The filter every event query understands; the UI's filter state maps onto it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, literal
from sqlalchemy.sql.elements import ColumnElement

from analytics.timebuckets import TimeWindow
from domain.vocab import EVENT_KINDS

BBox = tuple[float, float, float, float]  # west, south, east, north in degrees (EPSG:4326)


@dataclass(frozen=True)
class EventFilter:
    """What to select: a time window, kinds, categories, agencies, caveats, a box and an area.

    ``None`` means "no restriction" for every field but ``kinds``. ``area`` is a (multi)polygon
    in EPSG:4326: an event is inside when the area contains it (its boundary is outside, as for
    ``ST_Contains``). The filter is hashable (a cache key), the area through its WKB.
    """

    window: TimeWindow | None = None
    kinds: tuple[str, ...] = EVENT_KINDS
    categories: tuple[str, ...] | None = None
    agencies: tuple[str, ...] | None = None
    caveats: tuple[str, ...] | None = None
    bbox: BBox | None = None
    area: BaseGeometry | None = None

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(EVENT_KINDS)
        if unknown:
            raise ValueError(f"unknown event kinds: {sorted(unknown)}")
        if self.bbox is not None:
            west, south, east, north = self.bbox
            if not (-90 <= south <= north <= 90 and -180 <= west <= 180 and -180 <= east <= 180):
                raise ValueError(f"invalid bounding box {self.bbox}")
        if self.area is not None:
            if self.area.geom_type not in ("Polygon", "MultiPolygon") or self.area.is_empty:
                raise ValueError(f"the area must be a polygon, not {self.area.geom_type}")
            west, south, east, north = self.area.bounds
            if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
                raise ValueError("the area must be in EPSG:4326 longitude/latitude")

    def __hash__(self) -> int:
        return hash(
            (
                self.window,
                self.kinds,
                self.categories,
                self.agencies,
                self.caveats,
                self.bbox,
                None if self.area is None else shapely.to_wkb(self.area),
            )
        )

    def clauses(self, model: Any) -> list[ColumnElement[bool]]:
        """Return the WHERE conditions for ``model`` (events)."""
        conds: list[ColumnElement[bool]] = [model.kind.in_(self.kinds)]
        if self.window is not None:
            conds += [
                model.occurred_at >= self.window.start_at,
                model.occurred_at < self.window.end_at,
            ]
        if self.categories is not None:
            conds.append(model.category.in_(self.categories))
        if self.agencies is not None:
            conds.append(model.source_agency.in_(self.agencies))
        if self.caveats is not None:
            conds.append(model.handling.in_(self.caveats))
        conds += bbox_clauses(model, self.bbox)
        conds += area_clauses(model, self.area)
        return conds


def bbox_clauses(model: Any, bbox: BBox | None) -> list[ColumnElement[bool]]:
    """Return conditions keeping rows of ``model`` inside ``bbox`` (antimeridian not crossed)."""
    if bbox is None:
        return []
    west, south, east, north = bbox
    return [model.lon >= west, model.lon <= east, model.lat >= south, model.lat <= north]


def area_clauses(model: Any, area: BaseGeometry | None) -> list[ColumnElement[bool]]:
    """Return conditions keeping rows of ``model`` strictly inside ``area`` (EPSG:4326).

    Notes
    -----
    The area's bounding box on the plain ``lon``/``lat`` columns narrows the rows (an index
    range) before the exact ``ST_Contains``, which SpatiaLite and PostGIS both spell so. The
    polygon travels as WKB (a bound parameter, full precision: WKT text would round it).
    """
    if area is None:
        return []
    shape = func.ST_GeomFromWKB(literal(shapely.to_wkb(area)), 4326)
    return [*bbox_clauses(model, area.bounds), func.ST_Contains(shape, model.geometry)]

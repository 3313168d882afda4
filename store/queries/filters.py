"""The filter every event query understands; the UI's filter state maps onto it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from analytics.timebuckets import TimeWindow
from store.models.vocab import EVENT_KINDS

BBox = tuple[float, float, float, float]  # west, south, east, north in degrees (EPSG:4326)


@dataclass(frozen=True)
class EventFilter:
    """What to select: a time window, kinds, categories, agencies, caveats and a bounding box.

    ``None`` means "no restriction" for every field but ``kinds``.
    """

    window: TimeWindow | None = None
    kinds: tuple[str, ...] = EVENT_KINDS
    categories: tuple[str, ...] | None = None
    agencies: tuple[str, ...] | None = None
    caveats: tuple[str, ...] | None = None
    bbox: BBox | None = None

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(EVENT_KINDS)
        if unknown:
            raise ValueError(f"unknown event kinds: {sorted(unknown)}")
        if self.bbox is not None:
            west, south, east, north = self.bbox
            if not (-90 <= south <= north <= 90 and -180 <= west <= 180 and -180 <= east <= 180):
                raise ValueError(f"invalid bounding box {self.bbox}")

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
        return conds


def bbox_clauses(model: Any, bbox: BBox | None) -> list[ColumnElement[bool]]:
    """Return conditions keeping rows of ``model`` inside ``bbox`` (antimeridian not crossed)."""
    if bbox is None:
        return []
    west, south, east, north = bbox
    return [model.lon >= west, model.lon <= east, model.lat >= south, model.lat <= north]

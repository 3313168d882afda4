"""What is on screen, as one filter: the chosen area as a polygon, and the screen state's filter.

The map callbacks and the export and briefing routes both call :func:`screen_filter`, so a file
holds exactly what the map shows for the same state and the same viewer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from analytics.timebuckets import TimeWindow
from domain.roles import Viewer
from layers.view import PRESET_DAYS, WindowPreset, resolve_window
from store.queries.areas import area_shape, list_areas
from store.queries.filters import BBox, EventFilter

AreaType = Literal["none", "region", "hazard", "lasso", "box", "viewport"]
AREA_TYPES: tuple[AreaType, ...] = ("none", "region", "hazard", "lasso", "box", "viewport")
_PRESETS = (*PRESET_DAYS, "all", "custom")
# Most vertices a drawn area may have. A hand-drawn lasso has tens to a few hundred; more is
# refused with a message, never simplified behind the user's back (issue #18: one 200,000-point
# lasso was an 8 MB request and an 8 MB audit row).
MAX_AREA_VERTICES = 1_000


class SelectionError(ValueError):
    """The area spec names nothing the viewer may see, or is not a polygon."""


def _ring(points: Any) -> list[tuple[float, float]]:
    if not isinstance(points, list | tuple):
        raise SelectionError("not a list of [lon, lat] points")
    if len(points) > MAX_AREA_VERTICES:
        raise SelectionError(
            f"a drawn area may have at most {MAX_AREA_VERTICES:,} points, this one has "
            f"{len(points):,}: draw a simpler outline"
        )
    try:
        ring = [(float(p[0]), float(p[1])) for p in points]
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise SelectionError(f"not a list of [lon, lat] points: {exc}") from exc
    if len(ring) < 3:
        raise SelectionError("a drawn area needs at least three points")
    if not all(_on_earth(lon, lat) for lon, lat in ring):
        raise SelectionError("a drawn area's points must be longitude -180..180, latitude -90..90")
    return ring


def _on_earth(lon: float, lat: float) -> bool:
    return math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90


def _valid(shape: BaseGeometry) -> BaseGeometry:
    if not shape.is_valid:
        shape = shapely.make_valid(shape)
        # A self-crossing lasso becomes a collection; keep its polygon parts.
        parts = [g for g in getattr(shape, "geoms", [shape]) if g.geom_type.endswith("Polygon")]
        shape = shapely.union_all(parts) if parts else shapely.Polygon()
    if shape.is_empty or not shape.geom_type.endswith("Polygon"):
        raise SelectionError("the drawn area has no surface")
    return shape


def box_polygon(bbox: BBox) -> BaseGeometry:
    """Return the polygon of a ``west, south, east, north`` box (degrees, EPSG:4326)."""
    west, south, east, north = bbox
    if not (_on_earth(west, south) and _on_earth(east, north)):
        raise SelectionError("a box's bounds must be longitude -180..180, latitude -90..90")
    if not (west < east and south < north):
        raise SelectionError(f"empty box {bbox}")
    return shapely.box(west, south, east, north)


def resolve_selection(
    spec: dict[str, Any] | None,
    *,
    session: Session,
    viewer: Viewer,
    viewport: BBox | None = None,
) -> BaseGeometry | None:
    """Turn a UI area spec into a polygon in EPSG:4326, or ``None`` for no area.

    Parameters
    ----------
    spec
        ``{"type": "none"}``; ``{"type": "region" | "hazard", "id": AREA_ID}`` (an area the viewer
        may see, of that kind); ``{"type": "lasso", "points": [[lon, lat], ...]}``;
        ``{"type": "box", "bbox": [west, south, east, north]}``; ``{"type": "viewport"}``.
    session
        Open session (regions and hazards are read from the ``areas`` table).
    viewer
        Who is asking: an area they may not see is an error, never an empty filter.
    viewport
        The map's current bounds, for ``viewport`` (a ``bbox`` in the spec wins).

    Returns
    -------
    shapely geometry or None
        A (multi)polygon in longitude/latitude degrees.
    """
    kind = (spec or {}).get("type") or "none"
    if kind == "none":
        return None
    assert spec is not None
    if kind in ("region", "hazard"):
        try:
            area_id = int(spec["id"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise SelectionError(f"a {kind} needs an area id") from exc
        if not 0 < area_id < 2**63:  # an id column's range: anything else names no area
            raise SelectionError(f"no {kind} {area_id} for {viewer.username}")
        areas = list_areas(session=session, viewer=viewer, kind=kind)
        shape = area_shape(session=session, viewer=viewer, area_id=area_id)
        if shape is None or area_id not in set(areas["id"]):
            raise SelectionError(f"no {kind} {area_id} for {viewer.username}")
        return shape
    if kind in ("lasso", "box", "viewport"):
        return _drawn_shape(spec, viewport)
    raise SelectionError(f"unknown area type {kind!r}; use one of {AREA_TYPES}")


def _drawn_shape(spec: dict[str, Any], viewport: BBox | None = None) -> BaseGeometry:
    """Return the polygon of a lasso, box or viewport spec (no database involved)."""
    kind = spec.get("type")
    if kind == "lasso":
        return _valid(shapely.Polygon(_ring(spec.get("points"))))
    box = spec.get("bbox") or (viewport if kind == "viewport" else None)
    if not isinstance(box, list | tuple) or len(box) != 4:
        raise SelectionError(f"a {kind} needs four bounds: west, south, east, north")
    try:
        bounds = cast(BBox, tuple(float(v) for v in box))
    except (TypeError, ValueError) as exc:
        raise SelectionError(f"a {kind}'s bounds must be numbers") from exc
    return box_polygon(bounds)


def spec_from_selected(selected: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return the area spec of a map's ``selectedData`` (a lasso or a box), if it has one.

    Plotly's map traces report ``lassoPoints`` as ``{"map": [[lon, lat], ...]}`` and a box as
    ``range: {"map": [[west, north], [east, south]]}``.
    """
    if not selected:
        return None
    lasso = (selected.get("lassoPoints") or {}).get("map")
    if lasso:
        return {"type": "lasso", "points": [[float(x), float(y)] for x, y in lasso]}
    corners = (selected.get("range") or {}).get("map")
    if corners and len(corners) == 2:
        (x0, y0), (x1, y1) = corners
        return {
            "type": "box",
            "bbox": [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)],
        }
    return None


def _names(values: Any) -> tuple[str, ...] | None:
    if not values:
        return None
    if isinstance(values, str):
        values = values.split(",")
    return tuple(sorted({str(v).strip() for v in values if str(v).strip()}))


@dataclass(frozen=True)
class ScreenState:
    """What the screen shows: the window, the attribute filters, the area and the viewport.

    It travels as JSON: in the filter store, and in the query string of the export and
    briefing routes (``?state=...``), so both rebuild the very same filter.
    """

    preset: WindowPreset = "30d"
    start_at: datetime | None = None
    end_at: datetime | None = None
    categories: tuple[str, ...] | None = None
    agencies: tuple[str, ...] | None = None
    caveats: tuple[str, ...] | None = None
    area: dict[str, Any] = field(default_factory=lambda: {"type": "none"})
    viewport: BBox | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ScreenState:
        """Validate a decoded payload; unknown or malformed values fall back to the defaults."""
        data = data or {}
        preset = data.get("preset") if data.get("preset") in _PRESETS else "30d"
        try:
            start = pd.Timestamp(data["start"]).to_pydatetime() if data.get("start") else None
            end = pd.Timestamp(data["end"]).to_pydatetime() if data.get("end") else None
        except (ValueError, TypeError):
            start = end = None
        if preset == "custom" and (start is None or end is None or end <= start):
            preset = "30d"
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        if end is not None and end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        area = data.get("area") if isinstance(data.get("area"), dict) else None
        view = data.get("viewport")
        viewport = None
        if isinstance(view, list | tuple) and len(view) == 4:
            try:
                viewport = cast(BBox, tuple(float(v) for v in view))
            except (TypeError, ValueError):
                viewport = None
        return cls(
            preset=cast(WindowPreset, preset),
            start_at=start if preset == "custom" else None,
            end_at=end if preset == "custom" else None,
            categories=_names(data.get("categories")),
            agencies=_names(data.get("agencies")),
            caveats=_names(data.get("caveats")),
            area=area or {"type": "none"},
            viewport=viewport,
        )

    @classmethod
    def from_json(cls, text: str | None) -> ScreenState:
        """Read the ``state`` query parameter; unreadable JSON gives the defaults."""
        try:
            data = json.loads(text) if text else {}
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            data = {}
        return cls.from_dict(data if isinstance(data, dict) else {})

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able payload (the inverse of :meth:`from_dict`)."""
        return {
            "preset": self.preset,
            "start": self.start_at.isoformat() if self.start_at else None,
            "end": self.end_at.isoformat() if self.end_at else None,
            "categories": list(self.categories) if self.categories else None,
            "agencies": list(self.agencies) if self.agencies else None,
            "caveats": list(self.caveats) if self.caveats else None,
            "area": self.area,
            "viewport": list(self.viewport) if self.viewport else None,
        }

    def to_audit(self) -> dict[str, Any]:
        """Return :meth:`to_dict` with the area in its bounded audit form (:func:`audit_area`)."""
        return {**self.to_dict(), "area": audit_area(self.area)}

    def to_json(self) -> str:
        """Return the compact JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @property
    def custom(self) -> TimeWindow | None:
        """The explicit window of a ``custom`` preset."""
        if self.start_at is None or self.end_at is None:
            return None
        return TimeWindow(self.start_at, self.end_at)


def audit_area(area: dict[str, Any]) -> dict[str, Any]:
    """Return the bounded, normalised form of an area spec that the audit log keeps.

    A region or hazard is its id; a drawn area (lasso, box, viewport) is its vertex count, its
    bounds (6 decimals) and the SHA-256 of its coordinates' canonical JSON, never the
    coordinates themselves: the entry stays small whatever was drawn, and an area can still be
    matched to the one in an exported file's state.

    Examples
    --------
    >>> audit_area({"type": "box", "bbox": [-71.1, 42.3, -71.0, 42.4]})["bounds"]
    [-71.1, 42.3, -71.0, 42.4]
    """
    kind = str(area.get("type") or "none")[:32]
    if kind in ("region", "hazard"):
        area_id = area.get("id")
        plain = isinstance(area_id, int) and not isinstance(area_id, bool) and area_id < 2**63
        return {"type": kind, "id": area_id if plain else str(area_id)[:32]}
    if kind not in ("lasso", "box", "viewport"):
        return {"type": kind}
    coords = area.get("points") if kind == "lasso" else area.get("bbox")
    canonical = json.dumps(coords, separators=(",", ":"), sort_keys=True, default=str)
    out: dict[str, Any] = {
        "type": kind,
        "vertices": len(coords) if isinstance(coords, list) else 0,
        "sha256": hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    }
    # A malformed area (or one with too many points) keeps no bounds: size and digest say enough.
    with contextlib.suppress(SelectionError):
        out["bounds"] = [round(v, 6) for v in _drawn_shape(area).bounds]
    return out


def screen_filter(state: ScreenState, *, session: Session, viewer: Viewer, tz: str) -> EventFilter:
    """Return the one filter for what ``state`` shows to ``viewer``.

    The window is resolved as the map resolves it (a preset ends at the newest event the viewer
    may see), the area through :func:`resolve_selection`; the viewport itself limits nothing
    unless it is the chosen area (the hexagons and counts cover every event).

    Raises
    ------
    SelectionError
        The area names nothing the viewer may see.
    """
    window, _ = resolve_window(
        session=session, viewer=viewer, preset=state.preset, custom=state.custom, tz=tz
    )
    area = resolve_selection(state.area, session=session, viewer=viewer, viewport=state.viewport)
    return EventFilter(
        window=window,
        categories=state.categories,
        agencies=state.agencies,
        caveats=state.caveats,
        area=area,
    )


def screen_filter_without_lost_area(
    state: ScreenState, *, session: Session, viewer: Viewer, tz: str
) -> tuple[EventFilter, str | None]:
    """Return :func:`screen_filter`, with an area that names nothing usable dropped, and why.

    The one policy of every view of the screen (the map, the hexagon's event list): an area that
    is gone or malformed is ignored and said so, and every other filter still applies, so the
    list of a hexagon's events always matches the count the hexagon shows.
    """
    try:
        return screen_filter(state, session=session, viewer=viewer, tz=tz), None
    except SelectionError as exc:
        without = replace(state, area={"type": "none"})
        return screen_filter(
            without, session=session, viewer=viewer, tz=tz
        ), f"Area ignored: {exc}."


def area_label(state: ScreenState, *, session: Session, viewer: Viewer) -> str:
    """Return a human name for the state's area (region or hazard name, or its kind)."""
    kind: str = state.area.get("type", "none")
    if kind in ("region", "hazard"):
        areas = list_areas(session=session, viewer=viewer, kind=kind)
        match = areas[areas["id"] == int(state.area.get("id", -1))]
        if len(match):
            return str(match["name"].iloc[0])
    return {
        "none": "whole area of responsibility",
        "lasso": "drawn area",
        "box": "drawn box",
        "viewport": "map view",
    }.get(kind, kind)


def area_from_option(text: str, *, session: Session, viewer: Viewer) -> tuple[BaseGeometry, str]:
    """Return the polygon and name of a command-line area: ``region:NAME``, ``hazard:NAME``,
    ``wkt:POLYGON((...))`` (longitude/latitude degrees).

    Raises
    ------
    SelectionError
        Unknown prefix, no such visible area (or several), or WKT that is not a polygon.
    """
    prefix, _, value = text.partition(":")
    value = value.strip()
    if prefix in ("region", "hazard"):
        areas = list_areas(session=session, viewer=viewer, kind=prefix)
        match = areas[areas["name"].str.lower() == value.lower()]
        if len(match) != 1:
            raise SelectionError(f"no single {prefix} called {value!r} (see: manage.py areas list)")
        area_id = int(match["id"].iloc[0])
        shape = resolve_selection({"type": prefix, "id": area_id}, session=session, viewer=viewer)
        assert shape is not None
        return shape, str(match["name"].iloc[0])
    if prefix == "wkt":
        try:
            shape = shapely.from_wkt(value)
        except shapely.errors.GEOSException as exc:
            raise SelectionError(f"unreadable WKT: {exc}") from exc
        if shape is None or not shape.geom_type.endswith("Polygon"):
            raise SelectionError("the WKT area must be a POLYGON or MULTIPOLYGON")
        return _valid(shape), "polygon"
    raise SelectionError(f"--area must be region:NAME, hazard:NAME or wkt:..., not {text!r}")


def filter_payload(
    *,
    categories: list[str] | None,
    agencies: list[str] | None,
    caveats: list[str] | None,
    area_type: str | None,
    area_choice: int | str | None,
    selected: dict[str, Any] | None,
    view: list[float] | None,
) -> dict[str, Any]:
    """Return the filter store's content from the filter controls (window not included).

    ``area_type`` ``drawn`` takes the map's lasso or box selection, ``viewport`` the map view
    at the time of choosing (it then stays put while the user pans), ``region``/``hazard`` the
    chosen id. An incomplete choice (no county picked yet, nothing drawn) means no area.
    """
    area: dict[str, Any] = {"type": "none"}
    if area_type in ("region", "hazard") and area_choice is not None:
        area = {"type": area_type, "id": int(area_choice)}
    elif area_type == "drawn":
        area = spec_from_selected(selected) or {"type": "none"}
    elif area_type == "viewport" and view and len(view) == 4:
        area = {"type": "viewport", "bbox": [float(v) for v in view]}
    return {
        "categories": sorted(categories) if categories else None,
        "agencies": sorted(agencies) if agencies else None,
        "caveats": sorted(caveats) if caveats else None,
        "area": area,
    }


def screen_state(
    window_store: dict[str, Any] | None,
    filter_store: dict[str, Any] | None,
    viewport: list[float] | None = None,
) -> ScreenState:
    """Combine the window store and the filter store (and the map's view) into the state."""
    return ScreenState.from_dict(
        {**(filter_store or {}), **(window_store or {}), "viewport": viewport}
    )


def download_href(path: str, state: ScreenState, **params: str | int) -> str:
    """Return the URL of a download route for ``state`` (the query string carries it)."""
    from urllib.parse import urlencode

    return f"{path}?{urlencode({**params, 'state': state.to_json()})}"

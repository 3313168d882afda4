"""Compose the registered layers into one map view: figure, counts, window and marking."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy.orm import Session

from analytics.timebuckets import TimeWindow, trailing_window
from domain.caveats import most_restrictive
from domain.roles import Viewer
from layers.base import ColourMode, LayerRequest, Trace
from layers.hexes import HexLayer
from layers.registry import LAYERS
from rules.visibility import visibility_class
from store.cache import BoundCache, SharedCache, bind_cache, cached
from store.columnar import event_columns
from store.queries.filters import BBox, EventFilter
from store.queries.hexagg import (
    present_cells,
    visible_caveats,
    visible_count,
    visible_time_range,
)

WindowPreset = Literal["24h", "7d", "30d", "90d", "all", "custom"]
PRESET_DAYS: dict[str, float] = {"24h": 1, "7d": 7, "30d": 30, "90d": 90}


@dataclass(frozen=True)
class MapConfig:
    """Static map settings: centre, zoom, style, optional tile server and the basemap URL."""

    center_lat: float
    center_lon: float
    zoom: float
    style: str
    basemap_url: str | None
    tile_url: str | None = None
    tile_attribution: str = ""


@dataclass(frozen=True)
class MapView:
    """Everything the page shows for one state of the controls."""

    figure: dict[str, Any]
    counts: dict[str, int]
    shown: dict[str, int]
    window: TimeWindow | None
    data_through: datetime | None
    marking: str
    res: int
    notes: list[str] = field(default_factory=list)
    geometry_key: str = ""
    hex_trace: int | None = None
    # The cells of the hexagon trace, in the order of its values (``None`` without hexagons).
    hex_cells: npt.NDArray[np.int64] | None = None
    hidden_points: tuple[str, ...] = ()
    # The data-version token of the events snapshot the view was computed from.
    data_token: int = 0


def resolve_window(
    *,
    session: Session,
    viewer: Viewer,
    preset: WindowPreset,
    custom: TimeWindow | None,
    tz: str,
    cache: BoundCache | None = None,
) -> tuple[TimeWindow | None, datetime | None]:
    """Turn a preset into a window ending at the newest visible event (not the wall clock).

    Returns
    -------
    tuple
        The window (``None`` for "all") and the newest visible event time.
    """
    extent = cached(
        cache, "time_range", {}, lambda: visible_time_range(session=session, viewer=viewer)
    )
    last = extent[1] if extent else None
    if preset == "custom":
        return custom, last
    if preset == "all" or last is None:
        return None, last
    return trailing_window(last, PRESET_DAYS[preset], tz), last


def build_map_view(
    *,
    session: Session,
    viewer: Viewer,
    filters: EventFilter,
    preset: WindowPreset,
    custom: TimeWindow | None,
    visible: tuple[str, ...],
    res: int,
    max_points: int,
    tz: str,
    config: MapConfig,
    colour: ColourMode = "total",
    viewport: BBox | None = None,
    with_geometry: bool = True,
    cache: SharedCache | None = None,
) -> MapView:
    """Query every visible layer for ``viewer`` and assemble the figure and summary counts.

    Parameters
    ----------
    colour
        What colours the hexagons (see ``layers.hexes.SCALES``).
    viewport
        The map's bounding box: points are limited to it, and the hexagon geometry covers the
        cells holding any visible event in it (all time), so window changes reuse that geometry.
    with_geometry
        ``False`` leaves the hexagon geometry out (the browser already has it for
        ``geometry_key``).
    cache
        The shared aggregate cache: time range, viewport cells, hexagon counts, point counts
        and marking are read from it for the current data version and the viewer's
        visibility class (``store.cache``).
    """
    bound = bind_cache(cache, session=session, visibility=visibility_class(viewer))
    data_token = bound.token if bound is not None else event_columns(session=session).token
    window, last = resolve_window(
        session=session, viewer=viewer, preset=preset, custom=custom, tz=tz, cache=bound
    )
    cells = None
    if viewport is not None:
        cell_filters = replace(filters, bbox=viewport)
        cells = cached(
            bound,
            "viewport_cells",
            {"filters": cell_filters, "res": res},
            lambda: present_cells(session=session, viewer=viewer, filters=cell_filters, res=res),
        )
    request = LayerRequest(
        viewer=viewer,
        filters=replace(filters, window=window),
        res=res,
        max_points=max_points,
        tz=tz,
        colour=colour,
        cells=cells,
        with_geometry=with_geometry,
    )
    point_request = replace(request, filters=replace(request.filters, bbox=viewport))
    # The hex counts are always computed: they are the exact totals behind the summary line.
    frames: dict[str, pd.DataFrame] = {
        "hexes": cached(
            bound,
            "hex_counts",
            {"filters": request.filters, "res": res, "colour": colour},
            lambda: LAYERS["hexes"].query(session=session, request=request),
        )
    }
    # Points only when zoomed in far enough to be few: a layer with more than ``max_points``
    # in view draws none (the hexagons show the density) and the notes say to zoom in. The
    # count comes first, from the columnar cache, so the SQL point query runs only when drawn.
    hidden = tuple(
        key
        for key in ("incidents", "suspicious")
        if key in visible
        and _point_count(session, viewer, point_request.filters, key, bound) > max_points
    )
    for key in LAYERS:
        if key != "hexes" and key in visible:
            # Sites and flags are few: all of them; event points only in the viewport.
            points = key in ("incidents", "suspicious")
            if key in hidden:
                frames[key] = LAYERS[key].query(session=session, request=_nothing(request))
                continue
            frames[key] = LAYERS[key].query(
                session=session, request=point_request if points else request
            )
    hexes = frames["hexes"]
    counts = {
        "suspicious": int(hexes["suspicious"].sum()),
        "incidents": int(hexes["incident"].sum()),
        "hexes": int((hexes["total"] > 0).sum()),
    }
    if "sites" in frames:
        counts["sites"] = len(frames["sites"])
    shown = {key: len(frame) for key, frame in frames.items()}
    notes = [
        f"{LAYERS[key].label}: more than {max_points:,}"
        f"{' in view' if viewport is not None else ''}, zoom in to see the reports; "
        "the hexagons count all."
        for key in hidden
        if key in visible
    ]
    traces: list[Trace] = []
    hex_trace = None
    for key, layer in LAYERS.items():
        if key in visible and key in frames:
            if key == "hexes":
                hex_trace = len(traces)
            traces += layer.to_traces(
                frames[key], request=request if key in ("hexes", "sites") else point_request
            )
    marking = most_restrictive(
        cached(
            bound,
            "marking",
            {"filters": request.filters},
            lambda: visible_caveats(session=session, viewer=viewer, filters=request.filters),
        )
    )
    return MapView(
        figure=map_figure(traces, config),
        counts=counts,
        shown=shown,
        window=window,
        data_through=last,
        marking=marking,
        res=res,
        notes=notes,
        geometry_key=f"{res}|{viewport}|{','.join(visible)}",
        hex_trace=hex_trace,
        hex_cells=HexLayer.trace_cells(hexes, request) if "hexes" in visible else None,
        hidden_points=hidden,
        data_token=data_token,
    )


def _point_count(
    session: Session, viewer: Viewer, filters: EventFilter, key: str, bound: BoundCache | None
) -> int:
    """Visible events of the point layer ``key`` matching ``filters`` (its kind only)."""
    kind = LAYERS[key].kind  # type: ignore[attr-defined]
    if kind not in filters.kinds:
        return 0
    only = replace(filters, kinds=(kind,))
    return cached(
        bound,
        "point_count",
        {"filters": only},
        lambda: visible_count(session=session, viewer=viewer, filters=only),
    )


def _nothing(request: LayerRequest) -> LayerRequest:
    """``request`` matching no event (a hidden point layer: an empty frame, no SQL)."""
    return replace(request, filters=replace(request.filters, kinds=()))


def map_figure(traces: list[Trace], config: MapConfig) -> dict[str, Any]:
    """Return the plotly figure dict: MapLibre map, offline basemap, traces, kept viewport."""
    layers: list[dict[str, Any]] = []
    if config.tile_url:
        layers.append(
            {
                "sourcetype": "raster",
                "source": [config.tile_url],
                "sourceattribution": config.tile_attribution,
                "below": "traces",
            }
        )
    if config.basemap_url:
        layers += [
            {
                "sourcetype": "geojson",
                "source": config.basemap_url,
                "type": "fill",
                "color": "#f4f1ea",
                "below": "traces",
            },
            {
                "sourcetype": "geojson",
                "source": config.basemap_url,
                "type": "line",
                "color": "#9a9a9a",
                "line": {"width": 0.8},
                "below": "traces",
            },
        ]
    return {
        "data": traces,
        "layout": {
            "map": {
                "style": config.style,
                "center": {"lat": config.center_lat, "lon": config.center_lon},
                "zoom": config.zoom,
                "layers": layers,
            },
            # Same uirevision on every update: plotly keeps the user's pan and zoom.
            "uirevision": "watchfloor-map",
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "legend": {
                "x": 0.99,
                "xanchor": "right",
                "y": 0.93,  # below plotly's mode bar
                "bgcolor": "rgba(255,255,255,0.85)",
                "groupclick": "togglegroup",
            },
            "paper_bgcolor": "#eef2f5",
        },
    }

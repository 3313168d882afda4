"""Export filtered layers for a viewer: gather the rows, attach metadata, write the files."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from analytics.cells import cells_to_polygons, cells_to_str
from analytics.timebuckets import TimeWindow
from domain.caveats import most_restrictive
from domain.export_names import EXPORT_LAYERS, ExportFormat
from domain.roles import Viewer
from exports.formats import write_layers
from store.queries import hex_counts
from store.queries.areas import area_features
from store.queries.events import caveats_present
from store.queries.exports import event_rows, site_rows
from store.queries.filters import EventFilter
from store.queries.flags import flag_rows

logger = logging.getLogger(__name__)

_AREA_KIND = {"regions": "region", "hazards": "hazard"}
_KIND = {"suspicious": "suspicious", "incidents": "incident"}


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: files, rows per layer and the metadata it carries."""

    paths: list[Path]
    rows: dict[str, int]
    metadata: dict[str, Any]


def points_frame(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return event or site rows (``lon``, ``lat``, ``cell``) as export points with ``h3_cell``."""
    out = frame.copy()
    out["h3_cell"] = cells_to_str(out.pop("cell").to_numpy(dtype=np.int64)) if len(out) else []
    return gpd.GeoDataFrame(
        out, geometry=gpd.points_from_xy(out["lon"], out["lat"]), crs="EPSG:4326"
    )


def layer_frame(
    layer: str, *, session: Session, viewer: Viewer, filters: EventFilter, res: int
) -> gpd.GeoDataFrame:
    """Return one layer's export rows as a GeoDataFrame in EPSG:4326, for ``viewer`` only.

    Parameters
    ----------
    layer
        One of ``EXPORT_LAYERS``.
    session, viewer, filters
        As for every store query; the visibility filter applies.
    res
        H3 resolution of the hexagon layer.
    """
    if layer in _KIND:
        kind_filter = replace(filters, kinds=(_KIND[layer],))
        return points_frame(event_rows(session=session, viewer=viewer, filters=kind_filter))
    if layer == "sites":
        return points_frame(
            site_rows(session=session, viewer=viewer, bbox=filters.bbox, area=filters.area)
        )
    if layer == "hexes":
        counts = hex_counts(session=session, viewer=viewer, filters=filters, res=res)
        cells = counts.pop("cell").to_numpy(dtype=np.int64)
        counts.insert(0, "h3_cell", cells_to_str(cells))
        counts.insert(1, "res", res)
        return gpd.GeoDataFrame(counts, geometry=list(cells_to_polygons(cells)), crs="EPSG:4326")
    if layer == "flags":
        return flags_frame(flag_rows(session=session, viewer=viewer))
    if layer in _AREA_KIND:
        # Regions and hazards touching the area filter (all visible ones without an area).
        areas = area_features(
            session=session, viewer=viewer, kind=_AREA_KIND[layer], within=filters.area
        )
        return gpd.GeoDataFrame(areas, geometry="geometry", crs="EPSG:4326")
    raise ValueError(f"unknown layer {layer!r}; use one of {EXPORT_LAYERS} or 'all'")


def flags_frame(flags: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return flags as polygons (the union of their cells) with the queue's columns.

    Flags are the analysts' follow-up list: they are exported whatever the time window, and only
    those the viewer may see (the store's flag rule).
    """
    out = flags.drop(columns=["cells"]).copy()
    out["h3_cells"] = [",".join(cells_to_str(c)) for c in flags["cells"]]
    shapes = [
        shapely.union_all(cells_to_polygons(np.asarray(c, dtype=np.int64))) for c in flags["cells"]
    ]
    return gpd.GeoDataFrame(out, geometry=shapes, crs="EPSG:4326")


def _utc(value: str) -> datetime:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    when: datetime = ts.to_pydatetime()
    return when


def _listed(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def build_filter(
    *,
    since: str | None = None,
    until: str | None = None,
    bbox: str | None = None,
    categories: str | None = None,
    agencies: str | None = None,
    caveats: str | None = None,
) -> EventFilter:
    """Build the store filter from textual options (command line, query string).

    Times are ISO 8601, UTC unless they carry an offset; ``until`` is exclusive; ``bbox`` is
    ``west,south,east,north`` in degrees; lists are comma-separated. Bad values raise ``ValueError``
    with a message saying which.

    Examples
    --------
    >>> f = build_filter(since="2023-02-01", bbox="-71.2,42.2,-70.9,42.4", caveats="TLP:GREEN")
    >>> f.window.start_at.isoformat(), f.bbox, f.caveats
    ('2023-02-01T00:00:00+00:00', (-71.2, 42.2, -70.9, 42.4), ('TLP:GREEN',))
    """
    try:
        start = _utc(since) if since else _utc("1900-01-01")
        end = _utc(until) if until else _utc("2200-01-01")
    except ValueError as exc:
        raise ValueError(f"cannot read the time window: {exc}") from exc
    window = TimeWindow(start, end) if (since or until) else None
    box = None
    if bbox:
        parts = bbox.split(",")
        if len(parts) != 4:
            raise ValueError("bbox needs four numbers: west,south,east,north")
        try:
            box = (float(parts[0]), float(parts[1]), float(parts[2]), float(parts[3]))
        except ValueError as exc:
            raise ValueError(f"bbox is not four numbers: {bbox!r}") from exc
    return EventFilter(
        window=window,
        categories=_listed(categories),
        agencies=_listed(agencies),
        caveats=_listed(caveats),
        bbox=box,
    )


def _describe_filters(filters: EventFilter, res: int, area_name: str | None) -> dict[str, Any]:
    window = filters.window
    return {
        "start_at": window.start_at.isoformat() if window else None,
        "end_at": window.end_at.isoformat() if window else None,
        "categories": list(filters.categories) if filters.categories else None,
        "agencies": list(filters.agencies) if filters.agencies else None,
        "caveats": list(filters.caveats) if filters.caveats else None,
        "bbox": list(filters.bbox) if filters.bbox else None,
        "area": area_name if filters.area is not None else None,
        "area_bounds": list(filters.area.bounds) if filters.area is not None else None,
        "h3_res": res,
    }


def export_metadata(
    layers: list[str],
    fmt: str,
    *,
    viewer: Viewer,
    filters: EventFilter,
    res: int,
    data_through: datetime | None,
    caveats: list[str],
    rows: dict[str, int],
    area_name: str | None = None,
) -> dict[str, Any]:
    """Return an export's metadata: filters, data time, exporter and the rows' worst caveat.

    The file exports and the export API's streamed answers both carry exactly this.
    """
    return {
        "generator": "Watchfloor",
        "layers": layers,
        "format": fmt,
        "filters": _describe_filters(filters, res, area_name or "polygon"),
        "data_through": data_through.isoformat() if data_through is not None else None,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exported_by": {"user": viewer.username, "role": str(viewer.role), "agency": viewer.agency},
        "handling": most_restrictive(caveats),
        "rows": rows,
        "crs": "EPSG:4326",
    }


def frame_marking(
    name: str, frame: pd.DataFrame, *, session: Session, viewer: Viewer, filters: EventFilter
) -> tuple[list[str], Any | None]:
    """Return the handling caveats and the newest time a layer's rows add to an export's metadata.

    A hexagon carries no caveat of its own: its counts are built from the visible events in the
    same filter, so their caveats mark it.
    """
    caveats = [str(c) for c in frame["handling"]] if "handling" in frame.columns else []
    if name == "hexes" and len(frame):
        caveats += caveats_present(session=session, viewer=viewer, filters=filters)
    newest = frame["occurred_at"].max() if "occurred_at" in frame.columns and len(frame) else None
    return caveats, newest


def export_layers(
    layers: list[str],
    fmt: ExportFormat,
    path: Path,
    *,
    session: Session,
    viewer: Viewer,
    filters: EventFilter,
    res: int = 8,
    area_name: str | None = None,
) -> ExportResult:
    """Write ``layers`` with exactly ``filters`` for ``viewer``; the marking is the rows' worst.

    ``area_name`` names the filter's area in the metadata (a county, a storm, "drawn area").

    Returns
    -------
    ExportResult
        Paths written, rows per layer and the metadata embedded in the files.
    """
    names = list(EXPORT_LAYERS) if layers == ["all"] else layers
    frames = {
        name: layer_frame(name, session=session, viewer=viewer, filters=filters, res=res)
        for name in names
    }
    caveats: list[str] = []
    times: list[Any] = []
    for name, frame in frames.items():
        marks, newest = frame_marking(name, frame, session=session, viewer=viewer, filters=filters)
        caveats += marks
        times += [newest] if newest is not None else []
    metadata = export_metadata(
        names,
        fmt,
        viewer=viewer,
        filters=filters,
        res=res,
        area_name=area_name,
        data_through=max(times) if times else None,
        caveats=caveats,
        rows={name: len(frame) for name, frame in frames.items()},
    )
    paths = write_layers(frames, fmt, path, metadata)
    logger.info(
        "export %s as %s by %s/%s: %s rows, marking %s",
        names,
        fmt,
        viewer.username,
        viewer.agency,
        metadata["rows"],
        metadata["handling"],
    )
    return ExportResult(paths=paths, rows=metadata["rows"], metadata=metadata)

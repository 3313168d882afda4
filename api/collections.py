"""The OGC API - Features collections: what each holds and how one page of it is read.

Every read goes through the store's queries with the caller's viewer, so the visibility filter
applies exactly as on the map and in exports. Event collections page in SQL in a stable order
(oldest first, then id), after a cursor row (keyset) or by ``OFFSET``; the others are bounded by
the map (sites, flags, hexagons in the window, regions, hazards), are built whole for the viewer,
sorted and then sliced. Each collection's extent is what the viewer may see
(:func:`collection_extents`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import geopandas as gpd
import h3
import shapely
from sqlalchemy.orm import Session

from domain.roles import Viewer
from exports.service import flags_frame, layer_frame, points_frame
from store.cache import BoundCache, cached
from store.public_ids import is_public_id
from store.queries.features import (
    Extent,
    area_extent,
    area_features,
    event_extents,
    event_page,
    event_summary,
    flag_time_span,
    site_extent,
    site_features,
)
from store.queries.filters import EventFilter
from store.queries.flags import flag_rows


@dataclass(frozen=True)
class Collection:
    """One collection: its id, title, what it holds and its geometry type."""

    id: str
    title: str
    description: str
    geometry: str


COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        Collection(
            "suspicious",
            "Suspicious activity reports",
            "SARs in the filter (bbox, categories, agencies, caveats); datetime filters the time "
            "the event occurred; id = the event's public id (opaque)",
            "Point",
        ),
        Collection(
            "incidents",
            "Incident reports",
            "Incident reports in the filter; datetime filters the time the event occurred; "
            "id = the event's public id (opaque)",
            "Point",
        ),
        Collection(
            "sites",
            "Critical infrastructure",
            "Sites with DHS sector and tier (bbox and area apply); sites have no time, so "
            "datetime is ignored; id = site id",
            "Point",
        ),
        Collection(
            "flags",
            "Flags (clusters near sites)",
            "The follow-up list, whatever the time window (datetime is ignored); polygons of "
            "the cells; id = the flag's public id (opaque)",
            "Polygon",
        ),
        Collection(
            "hexes",
            "Event density (H3)",
            "Visible event counts per H3 cell in the filter (datetime filters the events "
            "counted); res=N picks the resolution; id = H3 cell",
            "Polygon",
        ),
        Collection(
            "regions",
            "Regions",
            "Counties, districts and other regions; regions have no time, so datetime is ignored",
            "MultiPolygon",
        ),
        Collection(
            "hazards",
            "Hazard footprints",
            "Storm and warning footprints with their time; datetime keeps the footprints whose "
            "span (valid_from to valid_to) meets it",
            "MultiPolygon",
        ),
    )
}
_KIND = {"suspicious": "suspicious", "incidents": "incident"}


@dataclass(frozen=True)
class Page:
    """One page of features: the rows (EPSG:4326), their feature ids and the number matched.

    ``last_key`` is the (``occurred_at``, public id) of an event page's last row: where the next
    page starts (keyset paging); ``None`` for the other collections and empty pages. Events and
    flags are identified by their public ids (:mod:`store.public_ids`), never their keys.
    """

    frame: gpd.GeoDataFrame
    ids: list[Any]
    matched: int
    last_key: tuple[datetime, str] | None = None


def _bbox_keep(frame: gpd.GeoDataFrame, filters: EventFilter) -> gpd.GeoDataFrame:
    # Flags, regions and hazards are polygons: one touching the box or the area is in it (the
    # export's rule for areas).
    if filters.bbox is not None and not frame.empty:
        frame = frame[frame.geometry.intersects(shapely.box(*filters.bbox))]
    if filters.area is not None and not frame.empty:
        frame = frame[frame.geometry.intersects(filters.area)]
    return frame


def _whole(
    cid: str, *, session: Session, viewer: Viewer, filters: EventFilter, res: int
) -> tuple[gpd.GeoDataFrame, list[Any]]:
    """Return a bounded collection whole for ``viewer`` and its feature ids."""
    if cid == "sites":
        rows = site_features(session=session, viewer=viewer, bbox=filters.bbox, area=filters.area)
        ids = rows.pop("id").astype(int).tolist()
        return points_frame(rows), ids
    if cid == "flags":
        frame = _bbox_keep(flags_frame(flag_rows(session=session, viewer=viewer)), filters)
        return frame, frame["id"].astype(str).tolist()
    if cid == "hexes":
        frame = layer_frame("hexes", session=session, viewer=viewer, filters=filters, res=res)
        # The database groups in no set order: sort, so offsets (next links) are stable.
        frame = frame.sort_values("h3_cell", kind="stable").reset_index(drop=True)
        return frame, frame["h3_cell"].tolist()
    kind = "region" if cid == "regions" else "hazard"
    # Hazards have a time span and datetime filters on it; regions have none.
    window = filters.window if kind == "hazard" else None
    rows, shapes = area_features(session=session, viewer=viewer, kind=kind, window=window)
    ids = rows.pop("id").astype(int).tolist()
    frame = gpd.GeoDataFrame(rows, geometry=shapes, crs="EPSG:4326")
    keep = _bbox_keep(frame, filters)
    return keep, [i for i, k in zip(ids, frame.index.isin(keep.index), strict=True) if k]


def read_page(
    cid: str,
    *,
    session: Session,
    viewer: Viewer,
    filters: EventFilter,
    res: int,
    limit: int,
    offset: int,
    after: tuple[datetime, str] | None = None,
    cache: BoundCache | None = None,
) -> Page:
    """Return features ``offset`` to ``offset + limit`` of collection ``cid`` for ``viewer``.

    For events, ``after`` (a page's ``last_key``) starts the page after that row instead, and
    the number matched (a count over every visible row) goes through ``cache``, keyed on the
    data version and the filter, so paging through a collection counts it once.
    """
    if cid in _KIND:
        kind_filter = replace(filters, kinds=(_KIND[cid],))
        matched = cached(
            cache,
            "ogc_matched",
            {"filters": kind_filter},
            lambda: event_summary(session=session, viewer=viewer, filters=kind_filter).rows,
        )
        rows = event_page(
            session=session,
            viewer=viewer,
            filters=kind_filter,
            limit=limit,
            offset=0 if after is not None else offset,
            after=after,
        )
        ids = rows.pop("id").astype(str).tolist()
        last = (rows["occurred_at"].iloc[-1].to_pydatetime(), ids[-1]) if ids else None
        return Page(points_frame(rows), ids, matched, last)
    frame, ids = _whole(cid, session=session, viewer=viewer, filters=filters, res=res)
    return Page(frame.iloc[offset : offset + limit], ids[offset : offset + limit], len(frame))


def read_feature(
    cid: str, fid: str, *, session: Session, viewer: Viewer, filters: EventFilter, res: int
) -> Page | None:
    """Return the one feature ``fid`` of ``cid`` if ``viewer`` may see it, else ``None``."""
    if cid in _KIND:
        # Events are found by public id only: an integer key names nothing here.
        if not is_public_id(fid):
            return None
        kind_filter = replace(filters, kinds=(_KIND[cid],))
        rows = event_page(
            session=session, viewer=viewer, filters=kind_filter, limit=1, public_id=fid
        )
        if rows.empty:
            return None
        ids = rows.pop("id").astype(str).tolist()
        return Page(points_frame(rows), ids, 1)
    frame, ids = _whole(cid, session=session, viewer=viewer, filters=filters, res=res)
    matches = [i for i, f in enumerate(ids) if str(f) == fid]
    if not matches:
        return None
    return Page(frame.iloc[matches[:1]], [ids[matches[0]]], 1)


def page_caveats(page: Page) -> list[str]:
    """Return the handling caveats on one page (hexagons: none of their own)."""
    frame = page.frame
    return [str(c) for c in frame["handling"]] if "handling" in frame.columns else []


_M_PER_DEG_LAT = 111_320.0  # metres per degree of latitude (mean; a margin, not a measure)


def widen_bbox(bbox: tuple[float, float, float, float], margin_m: float) -> tuple[float, ...]:
    """Return ``bbox`` (west, south, east, north, degrees) widened by ``margin_m`` metres.

    Notes
    -----
    Longitude degrees shrink with the cosine of the latitude; the widest latitude of the box
    is used, so the margin is at least ``margin_m`` everywhere. Clamped to the world.

    Examples
    --------
    >>> [round(v, 4) for v in widen_bbox((-71.1, 42.3, -71.0, 42.4), 1113.2)]
    [-71.1135, 42.29, -70.9865, 42.41]
    """
    west, south, east, north = bbox
    dlat = margin_m / _M_PER_DEG_LAT
    widest = min(89.0, max(abs(south), abs(north)) + dlat)
    dlon = dlat / math.cos(math.radians(widest))
    return (
        max(-180.0, west - dlon),
        max(-90.0, south - dlat),
        min(180.0, east + dlon),
        min(90.0, north + dlat),
    )


def _event_extents(
    *, session: Session, viewer: Viewer, cache: BoundCache | None
) -> dict[str, Extent]:
    """Return :func:`event_extents`, through the shared cache (keyed on the events' version)."""

    def compute() -> dict[str, tuple[Any, ...]]:
        found = event_extents(session=session, viewer=viewer)
        return {kind: (e.bbox, e.start_at, e.end_at) for kind, e in found.items()}

    plain = cached(cache, "ogc_event_extents", {}, compute)
    return {kind: Extent(tuple(box), start, end) for kind, (box, start, end) in plain.items()}


def collection_extents(
    *, session: Session, viewer: Viewer, res: int, cache: BoundCache | None = None
) -> dict[str, Extent | None]:
    """Return each collection's extent as ``viewer`` may see it (``None``: nothing visible).

    Parameters
    ----------
    session, viewer
        As for every store query: only rows the viewer may see count, so an extent never
        reveals where or when a hidden row lies.
    res
        The hexagon resolution the ``hexes`` extent is given for (the default one).
    cache
        The shared cache bound to this database state and the viewer's visibility class: the
        event aggregate (a scan of the visible events) is computed once per data version.

    Notes
    -----
    Events: one aggregate per kind (box of ``lon``/``lat``, first and last ``occurred_at``).
    Hexagons: the visible events' box widened by two average cell edge lengths at ``res``, so it
    covers the cells drawn around them (an H3 cell's circumradius is its edge length, and no
    edge is twice the average). Sites: their box, no time. Flags: the box of their cell polygons
    and the span of their events. Regions and hazards: the box of their envelopes, and for
    hazards their time span. EPSG:4326 degrees, UTC.
    """
    events = _event_extents(session=session, viewer=viewer, cache=cache)
    out: dict[str, Extent | None] = {cid: events.get(kind) for cid, kind in _KIND.items()}
    boxes = [e for e in events.values() if e.bbox is not None]
    if boxes:
        merged = (
            min(e.bbox[0] for e in boxes),  # type: ignore[index]
            min(e.bbox[1] for e in boxes),  # type: ignore[index]
            max(e.bbox[2] for e in boxes),  # type: ignore[index]
            max(e.bbox[3] for e in boxes),  # type: ignore[index]
        )
        edge_m = h3.average_hexagon_edge_length(res, unit="m")
        out["hexes"] = Extent(
            widen_bbox(merged, 2 * edge_m),  # type: ignore[arg-type]
            min(e.start_at for e in boxes if e.start_at),
            max(e.end_at for e in boxes if e.end_at),
        )
    else:
        out["hexes"] = None
    out["sites"] = site_extent(session=session, viewer=viewer)
    flags = flag_rows(session=session, viewer=viewer)
    if len(flags):
        first, last = flag_time_span(session=session, viewer=viewer)
        out["flags"] = Extent(
            tuple(float(v) for v in flags_frame(flags).total_bounds),  # type: ignore[arg-type]
            first,
            last,
        )
    else:
        out["flags"] = None
    out["regions"] = area_extent(session=session, viewer=viewer, kind="region")
    out["hazards"] = area_extent(session=session, viewer=viewer, kind="hazard")
    return out

"""The OGC API - Features collections: what each holds and how one page of it is read.

Every read goes through the store's queries with the caller's viewer, so the visibility filter
applies exactly as on the map and in exports. Event collections page in SQL (``LIMIT``/``OFFSET``
in a stable order, oldest first); the others are bounded by the map (sites, flags, hexagons in the
window, regions, hazards), are built whole for the viewer and then sliced.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy.orm import Session

from exports.service import flags_frame, layer_frame, points_frame
from security.roles import Viewer
from store.queries.features import area_features, event_page, event_summary, site_features
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
            "SARs in the filter (datetime, bbox, categories, agencies, caveats); id = event id",
            "Point",
        ),
        Collection(
            "incidents",
            "Incident reports",
            "Incident reports in the filter; id = event id",
            "Point",
        ),
        Collection(
            "sites",
            "Critical infrastructure",
            "Sites with DHS sector and tier (bbox applies; datetime does not); id = site id",
            "Point",
        ),
        Collection(
            "flags",
            "Flags (clusters near sites)",
            "The follow-up list, whatever the time window; polygons of the cells; id = flag id",
            "Polygon",
        ),
        Collection(
            "hexes",
            "Event density (H3)",
            "Visible event counts per H3 cell in the filter; res=N picks the resolution; "
            "id = H3 cell",
            "Polygon",
        ),
        Collection("regions", "Regions", "Counties, districts and other regions", "MultiPolygon"),
        Collection(
            "hazards",
            "Hazard footprints",
            "Storm and warning footprints with their time",
            "MultiPolygon",
        ),
    )
}
_KIND = {"suspicious": "suspicious", "incidents": "incident"}


@dataclass(frozen=True)
class Page:
    """One page of features: the rows (EPSG:4326), their feature ids and the number matched."""

    frame: gpd.GeoDataFrame
    ids: list[Any]
    matched: int


def _bbox_keep(frame: gpd.GeoDataFrame, filters: EventFilter) -> gpd.GeoDataFrame:
    if filters.bbox is None or frame.empty:
        return frame
    box = shapely.box(*filters.bbox)
    return frame[frame.geometry.intersects(box)]


def _whole(
    cid: str, *, session: Session, viewer: Viewer, filters: EventFilter, res: int
) -> tuple[gpd.GeoDataFrame, list[Any]]:
    """Return a bounded collection whole for ``viewer`` and its feature ids."""
    if cid == "sites":
        rows = site_features(session=session, viewer=viewer, bbox=filters.bbox)
        ids = rows.pop("id").astype(int).tolist()
        return points_frame(rows), ids
    if cid == "flags":
        frame = _bbox_keep(flags_frame(flag_rows(session=session, viewer=viewer)), filters)
        return frame, frame["id"].astype(int).tolist()
    if cid == "hexes":
        frame = layer_frame("hexes", session=session, viewer=viewer, filters=filters, res=res)
        return frame, frame["h3_cell"].tolist()
    kind = "region" if cid == "regions" else "hazard"
    rows, shapes = area_features(session=session, viewer=viewer, kind=kind)
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
) -> Page:
    """Return features ``offset`` to ``offset + limit`` of collection ``cid`` for ``viewer``."""
    if cid in _KIND:
        kind_filter = replace(filters, kinds=(_KIND[cid],))
        matched = event_summary(session=session, viewer=viewer, filters=kind_filter).rows
        rows = event_page(
            session=session, viewer=viewer, filters=kind_filter, limit=limit, offset=offset
        )
        ids = rows.pop("id").astype(int).tolist()
        return Page(points_frame(rows), ids, matched)
    frame, ids = _whole(cid, session=session, viewer=viewer, filters=filters, res=res)
    return Page(frame.iloc[offset : offset + limit], ids[offset : offset + limit], len(frame))


def read_feature(
    cid: str, fid: str, *, session: Session, viewer: Viewer, filters: EventFilter, res: int
) -> Page | None:
    """Return the one feature ``fid`` of ``cid`` if ``viewer`` may see it, else ``None``."""
    if cid in _KIND:
        try:
            event_id = int(fid)
        except ValueError:
            return None
        kind_filter = replace(filters, kinds=(_KIND[cid],))
        rows = event_page(
            session=session, viewer=viewer, filters=kind_filter, limit=1, event_id=event_id
        )
        if rows.empty:
            return None
        ids = rows.pop("id").astype(int).tolist()
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

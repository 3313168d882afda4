"""Area reads (regions, hazards) and what lies inside an area, through the visibility filter."""

from __future__ import annotations

import pandas as pd
from geoalchemy2.shape import to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from security.roles import Viewer
from security.visibility import visible_clause
from store.models import Area, Event, Site
from store.queries.events import POINT_COLUMNS
from store.queries.filters import EventFilter, bbox_clauses
from store.queries.sites import SITE_COLUMNS

AREA_COLUMNS = ("id", "kind", "subtype", "name", "source_agency", "valid_from", "valid_to")


def list_areas(*, session: Session, viewer: Viewer, kind: str | None = None) -> pd.DataFrame:
    """Return the visible areas (optionally of one ``kind``), by kind then name."""
    cols = [getattr(Area, c) for c in AREA_COLUMNS]
    conds = [visible_clause(viewer, Area)]
    if kind is not None:
        conds.append(Area.kind == kind)
    stmt = select(*cols).where(*conds).order_by(Area.kind, Area.name)
    return pd.DataFrame(session.execute(stmt).all(), columns=list(AREA_COLUMNS))


def find_area(*, session: Session, viewer: Viewer, name: str) -> int | None:
    """Return the id of the visible area called ``name`` (case-insensitive), if exactly one."""
    stmt = select(Area.id).where(
        visible_clause(viewer, Area), func.lower(Area.name) == name.strip().lower()
    )
    ids = session.execute(stmt).scalars().all()
    return ids[0] if len(ids) == 1 else None


def area_shape(*, session: Session, viewer: Viewer, area_id: int) -> BaseGeometry | None:
    """Return the area's geometry (EPSG:4326), or ``None`` if it is not visible or missing."""
    stmt = select(Area.geometry).where(visible_clause(viewer, Area), Area.id == area_id)
    geom = session.execute(stmt).scalar_one_or_none()
    return None if geom is None else to_shape(geom)


def events_in_area(
    *, session: Session, viewer: Viewer, area_id: int, filters: EventFilter
) -> pd.DataFrame:
    """Return the visible events matching ``filters`` that lie inside the area.

    Notes
    -----
    A bounding-box test on the plain ``lon``/``lat`` columns narrows the rows before the exact
    ``ST_Contains`` test, which runs in SpatiaLite or PostGIS alike.
    """
    shape = area_shape(session=session, viewer=viewer, area_id=area_id)
    if shape is None:
        return pd.DataFrame(columns=[*POINT_COLUMNS, "cell"])
    area_geom = select(Area.geometry).where(Area.id == area_id).scalar_subquery()
    cols = [getattr(Event, c) for c in POINT_COLUMNS] + [Event.cell]
    stmt = select(*cols).where(
        visible_clause(viewer, Event),
        *filters.clauses(Event),
        *bbox_clauses(Event, shape.bounds),  # type: ignore[arg-type]
        func.ST_Contains(area_geom, Event.geometry),
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=[*POINT_COLUMNS, "cell"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame


def sites_in_area(*, session: Session, viewer: Viewer, area_id: int) -> pd.DataFrame:
    """Return the visible sites inside the area."""
    shape = area_shape(session=session, viewer=viewer, area_id=area_id)
    if shape is None:
        return pd.DataFrame(columns=list(SITE_COLUMNS))
    area_geom = select(Area.geometry).where(Area.id == area_id).scalar_subquery()
    cols = [getattr(Site, c) for c in SITE_COLUMNS]
    stmt = (
        select(*cols)
        .where(
            visible_clause(viewer, Site),
            *bbox_clauses(Site, shape.bounds),  # type: ignore[arg-type]
            func.ST_Contains(area_geom, Site.geometry),
        )
        .order_by(Site.tier, Site.name)
    )
    return pd.DataFrame(session.execute(stmt).all(), columns=list(SITE_COLUMNS))

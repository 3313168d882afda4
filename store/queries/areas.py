"""Area reads (regions, hazards) and what lies inside an area, through the visibility filter."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.roles import Viewer
from rules.visibility import visible_clause
from store.models import Area, Event
from store.queries.events import POINT_COLUMNS
from store.queries.filters import EventFilter
from store.queries.sites import SITE_COLUMNS, site_points

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
    """Return the visible events matching ``filters`` that lie inside the stored area.

    An area the viewer may not see selects nothing.
    """
    shape = area_shape(session=session, viewer=viewer, area_id=area_id)
    if shape is None:
        return pd.DataFrame(columns=[*POINT_COLUMNS, "cell"])
    return filtered_events(session=session, viewer=viewer, filters=replace(filters, area=shape))


def filtered_events(*, session: Session, viewer: Viewer, filters: EventFilter) -> pd.DataFrame:
    """Return the visible events matching ``filters`` (area included) with their cell.

    Notes
    -----
    The area test is ``EventFilter``'s: a bounding-box test on the plain ``lon``/``lat`` columns
    narrows the rows before the exact ``ST_Contains`` (SpatiaLite or PostGIS alike).
    """
    cols = [getattr(Event, c) for c in POINT_COLUMNS] + [Event.cell]
    stmt = select(*cols).where(visible_clause(viewer, Event), *filters.clauses(Event))
    frame = pd.DataFrame(session.execute(stmt).all(), columns=[*POINT_COLUMNS, "cell"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame


def sites_in_area(*, session: Session, viewer: Viewer, area_id: int) -> pd.DataFrame:
    """Return the visible sites inside the stored area."""
    shape = area_shape(session=session, viewer=viewer, area_id=area_id)
    if shape is None:
        return pd.DataFrame(columns=list(SITE_COLUMNS))
    return site_points(session=session, viewer=viewer, area=shape)


FEATURE_COLUMNS = (*AREA_COLUMNS, "external_id", "handling")


def area_features(
    *, session: Session, viewer: Viewer, kind: str, within: BaseGeometry | None = None
) -> pd.DataFrame:
    """Return the visible areas of one ``kind`` with their geometry (shapely, EPSG:4326).

    Parameters
    ----------
    within
        When given, only the areas that intersect it (the screen's area filter).

    Returns
    -------
    pandas.DataFrame
        ``FEATURE_COLUMNS`` plus ``geometry``, by name.
    """
    cols = [getattr(Area, c) for c in FEATURE_COLUMNS]
    stmt = (
        select(*cols, Area.geometry)
        .where(visible_clause(viewer, Area), Area.kind == kind)
        .order_by(Area.name, Area.id)
    )
    rows = session.execute(stmt).all()
    frame = pd.DataFrame([r[:-1] for r in rows], columns=list(FEATURE_COLUMNS))
    frame["geometry"] = [to_shape(r[-1]) for r in rows]
    for col in ("valid_from", "valid_to"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    if within is not None and len(frame):
        frame = frame[shapely.intersects(frame["geometry"].to_numpy(), within)]
    return frame.reset_index(drop=True)

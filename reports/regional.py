"""The regional picture for command staff: what happened inside an area, against before."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from analytics.summary import RegionSummary, summarise_region
from analytics.timebuckets import TimeWindow
from domain.roles import Viewer
from layers.flags import OPEN_STATUSES
from store.queries.areas import area_shape, events_in_area, filtered_events
from store.queries.filters import EventFilter
from store.queries.flags import flag_rows
from store.queries.sites import site_points


def previous_window(window: TimeWindow) -> TimeWindow:
    """Return the window of the same length just before ``window``."""
    return TimeWindow(window.start_at - (window.end_at - window.start_at), window.start_at)


def regional_picture(
    *,
    session: Session,
    viewer: Viewer,
    area_id: int,
    window: TimeWindow,
    filters: EventFilter | None = None,
    res: int = 8,
) -> RegionSummary:
    """Summarise the visible events and sites inside a stored area for ``window`` and before."""
    shape = area_shape(session=session, viewer=viewer, area_id=area_id)
    base = replace(filters or EventFilter(), window=window, area=shape)
    if shape is None:  # not visible: nothing inside
        empty = events_in_area(session=session, viewer=viewer, area_id=area_id, filters=base)
        return summarise_region(empty, empty, site_points(session=session, viewer=viewer).iloc[:0])
    return filtered_picture(session=session, viewer=viewer, filters=base, res=res)


def filtered_picture(
    *, session: Session, viewer: Viewer, filters: EventFilter, res: int = 8
) -> RegionSummary:
    """Summarise what ``filters`` selects (its area and window) against the previous window.

    Sites are those inside the filter's area (all visible sites without an area).
    """
    if filters.window is None:
        raise ValueError("the regional picture needs a time window")
    now = filtered_events(session=session, viewer=viewer, filters=filters)
    before = filtered_events(
        session=session,
        viewer=viewer,
        filters=replace(filters, window=previous_window(filters.window)),
    )
    sites = site_points(session=session, viewer=viewer, area=filters.area)
    return summarise_region(now, before, sites, res=res)


def open_flags_inside(
    *, session: Session, viewer: Viewer, area: BaseGeometry | None
) -> pd.DataFrame:
    """Return the open flags the viewer may see whose centre lies inside ``area`` (all without)."""
    flags = flag_rows(session=session, viewer=viewer, statuses=OPEN_STATUSES)
    if len(flags) and area is not None:
        flags = flags[shapely.contains_xy(area, flags["lon"].to_numpy(), flags["lat"].to_numpy())]
    return flags.reset_index(drop=True)

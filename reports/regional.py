"""The regional picture for command staff: what happened inside an area, against before."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from analytics.summary import RegionSummary, summarise_region
from analytics.timebuckets import TimeWindow
from security.roles import Viewer
from store.queries.areas import events_in_area, sites_in_area
from store.queries.filters import EventFilter


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
    """Summarise the visible events and sites inside an area for ``window`` and the one before."""
    base = filters or EventFilter()
    now = events_in_area(
        session=session, viewer=viewer, area_id=area_id, filters=replace(base, window=window)
    )
    before = events_in_area(
        session=session,
        viewer=viewer,
        area_id=area_id,
        filters=replace(base, window=previous_window(window)),
    )
    sites = sites_in_area(session=session, viewer=viewer, area_id=area_id)
    return summarise_region(now, before, sites, res=res)

"""Full-row reads for exports: the map's filter and visibility, with every column analysts need."""

from __future__ import annotations

import pandas as pd
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.roles import Viewer
from rules.visibility import visible_clause
from store.models import Event, Site
from store.queries.filters import BBox, EventFilter, area_clauses, bbox_clauses

EVENT_EXPORT_COLUMNS = (
    "external_id",
    "source_agency",
    "kind",
    "category",
    "source_category",
    "occurred_at",
    "reported_at",
    "severity",
    "handling",
    "location_text",
    "description",
    "lon",
    "lat",
    "cell",
)
SITE_EXPORT_COLUMNS = (
    "external_id",
    "source_agency",
    "name",
    "sector",
    "subtype",
    "tier",
    "address",
    "protection_radius_m",
    "handling",
    "lon",
    "lat",
    "cell",
)


def event_rows(*, session: Session, viewer: Viewer, filters: EventFilter) -> pd.DataFrame:
    """Return every visible event matching ``filters`` with its export columns, oldest first."""
    cols = [getattr(Event, c) for c in EVENT_EXPORT_COLUMNS]
    stmt = (
        select(*cols)
        .where(visible_clause(viewer, Event), *filters.clauses(Event))
        .order_by(Event.occurred_at, Event.id)
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=list(EVENT_EXPORT_COLUMNS))
    for col in ("occurred_at", "reported_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def site_rows(
    *,
    session: Session,
    viewer: Viewer,
    bbox: BBox | None = None,
    area: BaseGeometry | None = None,
) -> pd.DataFrame:
    """Return every visible site (optionally in ``bbox`` and ``area``) with its export columns."""
    cols = [getattr(Site, c) for c in SITE_EXPORT_COLUMNS]
    stmt = (
        select(*cols)
        .where(visible_clause(viewer, Site), *bbox_clauses(Site, bbox), *area_clauses(Site, area))
        .order_by(Site.source_agency, Site.external_id)
    )
    return pd.DataFrame(session.execute(stmt).all(), columns=list(SITE_EXPORT_COLUMNS))

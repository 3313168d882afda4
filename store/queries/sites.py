"""Critical-infrastructure site reads, through the visibility filter."""

from __future__ import annotations

import pandas as pd
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from security.roles import Viewer
from security.visibility import visible_clause
from store.models import Site
from store.queries.filters import BBox, area_clauses, bbox_clauses

SITE_COLUMNS = (
    "id",
    "name",
    "sector",
    "subtype",
    "tier",
    "lon",
    "lat",
    "address",
    "protection_radius_m",
    "source_agency",
    "handling",
)


def site_points(
    *,
    session: Session,
    viewer: Viewer,
    sectors: tuple[str, ...] | None = None,
    max_tier: int = 3,
    bbox: BBox | None = None,
    area: BaseGeometry | None = None,
) -> pd.DataFrame:
    """Return the visible sites, optionally only some sectors, tiers up to ``max_tier``, a box
    and an area (strictly inside, as for events).

    Returns
    -------
    pandas.DataFrame
        Columns ``SITE_COLUMNS``, ordered by tier then name.
    """
    cols = [getattr(Site, name) for name in SITE_COLUMNS]
    conds = [visible_clause(viewer, Site), Site.tier <= max_tier, *bbox_clauses(Site, bbox)]
    conds += area_clauses(Site, area)
    if sectors is not None:
        conds.append(Site.sector.in_(sectors))
    stmt = select(*cols).where(*conds).order_by(Site.tier, Site.name)
    return pd.DataFrame(session.execute(stmt).all(), columns=list(SITE_COLUMNS))

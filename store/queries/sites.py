"""Critical-infrastructure site reads, through the visibility filter."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import pandas as pd
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.roles import Viewer
from rules.visibility import visibility_class, visible_clause
from store.kept import keeps
from store.models import DataVersion, Site
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


# Answers of ``site_points`` per (database, sites token, visibility class, arguments): every map
# answer draws the sites, which change rarely; the token (migration ``i11_sites_version``) is
# replaced by every write to ``sites``, so one indexed read says whether a kept answer holds.
SITES_KEPT = 64
_KEPT: OrderedDict[tuple[Hashable, ...], pd.DataFrame] = OrderedDict()
_KEPT_LOCK = threading.Lock()


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

    Notes
    -----
    An answer is kept in this process while the ``sites`` data version is unchanged (every
    write to ``sites`` replaces it, in the writing transaction), for viewers of the same
    visibility class: the next request with the same arguments reads the token, not the sites.

    Returns
    -------
    pandas.DataFrame
        Columns ``SITE_COLUMNS``, ordered by tier then name.
    """
    token = session.execute(
        select(DataVersion.token).where(DataVersion.name == "sites")
    ).scalar_one_or_none()
    key: tuple[Hashable, ...] | None = None
    if token is not None:  # migrated (i11_sites_version): answers are kept per sites token
        where = None if area is None else area.wkb
        database = session.get_bind().engine.url.render_as_string(hide_password=True)
        key = (database, token, visibility_class(viewer), sectors, max_tier, bbox, where)
        with _KEPT_LOCK:
            kept = _KEPT.get(key)
            if kept is not None:
                _KEPT.move_to_end(key)
                return kept.copy()
    cols = [getattr(Site, name) for name in SITE_COLUMNS]
    conds = [visible_clause(viewer, Site), Site.tier <= max_tier, *bbox_clauses(Site, bbox)]
    conds += area_clauses(Site, area)
    if sectors is not None:
        conds.append(Site.sector.in_(sectors))
    stmt = select(*cols).where(*conds).order_by(Site.tier, Site.name)
    frame = pd.DataFrame(session.execute(stmt).all(), columns=list(SITE_COLUMNS))
    if key is not None:
        with _KEPT_LOCK:
            _KEPT[key] = frame.copy()
            while len(_KEPT) > SITES_KEPT:
                _KEPT.popitem(last=False)
    return frame


@keeps("site answers")
def forget_sites() -> None:
    """Forget every kept answer (tests)."""
    with _KEPT_LOCK:
        _KEPT.clear()

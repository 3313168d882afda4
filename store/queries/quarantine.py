"""Quarantined rows of one batch, for the people allowed to see that batch's raw rows."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from security.roles import Role, Viewer
from store.models import IngestBatch, QuarantinedRow


def may_see_batch(viewer: Viewer, source_agency: str) -> bool:
    """Raw rows of a batch: fusion-center staff, the system, and the source agency itself."""
    return viewer.role is Role.SYSTEM or viewer.is_center_staff or viewer.agency == source_agency


def quarantined_rows(*, session: Session, viewer: Viewer, batch_id: int) -> pd.DataFrame:
    """Return the quarantined rows of ``batch_id`` (empty when the viewer may not see them).

    Returns
    -------
    pandas.DataFrame
        Columns ``row_number``, ``reason``, ``detail``, ``raw`` (the original row as JSON).
    """
    columns = ["row_number", "reason", "detail", "raw"]
    source = session.execute(
        select(IngestBatch.source_agency).where(IngestBatch.id == batch_id)
    ).scalar_one_or_none()
    if source is None or not may_see_batch(viewer, source):
        return pd.DataFrame(columns=columns)
    stmt = (
        select(
            QuarantinedRow.row_number,
            QuarantinedRow.reason,
            QuarantinedRow.detail,
            QuarantinedRow.raw,
        )
        .where(QuarantinedRow.batch_id == batch_id)
        .order_by(QuarantinedRow.row_number)
    )
    return pd.DataFrame(session.execute(stmt).all(), columns=columns)

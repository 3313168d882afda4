"""Quarantined rows of one batch, for the agencies allowed to see that batch's raw rows.

Notes
-----
A quarantined row is a file's original content, not checked or marked: it may hold another
agency's restricted report (a row is often quarantined *because* its caveat is unusable). So no
caveat can open it: only the batch's source agency and the agency whose user uploaded the file
(its staff and administrators) may download it, and the command line.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.roles import Role, Viewer
from store.models import IngestBatch, QuarantinedRow

QUARANTINE_COLUMNS = ["row_number", "reason", "detail", "raw"]


def may_see_batch(viewer: Viewer, source_agency: str, imported_by_agency: str | None) -> bool:
    """Raw rows of a batch: the system, the source agency and the importing agency only."""
    if viewer.role is Role.SYSTEM:
        return True
    return bool(viewer.agency) and viewer.agency in (source_agency, imported_by_agency)


def quarantined_rows(*, session: Session, viewer: Viewer, batch_id: int) -> pd.DataFrame | None:
    """Return the quarantined rows of ``batch_id``, or ``None`` when the viewer may not see them.

    Returns
    -------
    pandas.DataFrame or None
        Columns ``row_number``, ``reason``, ``detail``, ``raw`` (the original row as JSON);
        ``None`` for an unknown batch or one the viewer may not read (the same answer for both).
    """
    batch = session.execute(
        select(IngestBatch.source_agency, IngestBatch.imported_by_agency).where(
            IngestBatch.id == batch_id
        )
    ).one_or_none()
    if batch is None or not may_see_batch(viewer, batch[0], batch[1]):
        return None
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
    return pd.DataFrame(session.execute(stmt).all(), columns=QUARANTINE_COLUMNS)

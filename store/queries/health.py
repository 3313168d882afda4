"""Operational reads for /healthz: row counts per table."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.base import Base


def table_counts(*, session: Session) -> dict[str, int]:
    """Return the number of rows in every table the models own (no row content)."""
    counts: dict[str, int] = {}
    for name, table in sorted(Base.metadata.tables.items()):
        counts[name] = int(session.execute(select(func.count()).select_from(table)).scalar_one())
    return counts

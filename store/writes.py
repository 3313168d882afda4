"""Idempotent writes: events and sites upserted by (source, external id), batches, quarantine.

Nothing here commits: the caller's ``session_scope`` makes one batch one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from store.base import utcnow
from store.bulk import staged_upsert
from store.models import Area, Event, EventRevision, IngestBatch, QuarantinedRow, Site
from store.models.event import add_years

# Bound parameters per statement stay well under SQLite's limit.
_CHUNK = 2_000


@dataclass(frozen=True)
class UpsertCounts:
    """How the good rows of one batch landed."""

    inserted: int
    updated: int
    unchanged: int
    # External ids whose stored record the writer may not change: left untouched (quarantined).
    withheld: tuple[str, ...] = ()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Frame rows as plain-Python dicts: ``None`` for missing values, no numpy scalars."""
    plain = frame.astype(object).where(frame.notna(), None)
    records: list[dict[str, Any]] = plain.to_dict(orient="records")
    return records


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def start_batch(
    session: Session,
    *,
    source_agency: str,
    kind: str,
    origin: str,
    content_sha256: str | None,
    profile: str | None,
    imported_by_agency: str | None = None,
) -> IngestBatch:
    """Create the batch row (status ``running``) and return it with its id.

    ``imported_by_agency``: the agency of the user who imported it (who may then download its
    quarantined rows); ``None`` for the system.
    """
    batch = IngestBatch(
        source_agency=source_agency,
        imported_by_agency=imported_by_agency,
        kind=kind,
        origin=origin,
        content_sha256=content_sha256,
        profile=profile,
        status="running",
        started_at=utcnow(),
    )
    session.add(batch)
    session.flush()
    return batch


def finish_batch(
    session: Session, batch: IngestBatch, *, rows_read: int, counts: UpsertCounts, quarantined: int
) -> None:
    """Record the batch's counts; they must add up to ``rows_read``."""
    total = counts.inserted + counts.updated + counts.unchanged + quarantined
    if total != rows_read:
        raise AssertionError(f"batch counts do not add up: {total} != {rows_read}")
    batch.rows_read = rows_read
    batch.inserted = counts.inserted
    batch.updated = counts.updated
    batch.unchanged = counts.unchanged
    batch.quarantined = quarantined
    batch.status = "committed"
    batch.finished_at = utcnow()
    session.flush()


def add_quarantined(session: Session, *, batch_id: int, rejects: pd.DataFrame) -> int:
    """Store the rejected rows of a batch with their reasons; return how many."""
    if rejects.empty:
        return 0
    rows = _records(rejects[["row_number", "reason", "detail", "raw"]])
    for row in rows:
        row["batch_id"] = batch_id
    session.execute(insert(QuarantinedRow), rows)
    return len(rows)


def upsert_events(
    session: Session,
    frame: pd.DataFrame,
    *,
    source_agency: str,
    batch_id: int,
    all_new: bool = False,
    review_years: int | None = None,
    hidden: str | None = None,
    set_sql: dict[str, str] | None = None,
) -> UpsertCounts:
    """Insert new events, update changed ones (keeping a revision), leave the rest alone.

    ``all_new`` says no row can exist yet (see :func:`store.bulk.staged_upsert`). Suspicious
    events get their review date (entry time plus ``review_years``, 28 CFR 23.20(h)); an update
    keeps the date the record first entered with. ``hidden`` and ``set_sql``: the importer's
    write rule (:func:`store.bulk.staged_upsert`).
    """
    if review_years is None:
        from settings import get_settings  # the store reads settings only when not told

        review_years = get_settings().sar_review_years
    stamped = frame.assign(review_at=review_dates(frame["kind"], years=review_years))
    return _upsert(
        session,
        Event,
        stamped,
        source_agency=source_agency,
        batch_id=batch_id,
        all_new=all_new,
        hidden=hidden,
        set_sql=set_sql,
    )


def review_dates(kind: pd.Series, *, years: int, now: datetime | None = None) -> pd.Series:
    """Return each row's review date: ``now`` plus ``years`` for SARs, missing for incidents."""
    due = pd.Timestamp(add_years(now or utcnow(), years))
    return pd.Series(due, index=kind.index).where(kind == "suspicious", pd.NaT)


def upsert_sites(
    session: Session,
    frame: pd.DataFrame,
    *,
    source_agency: str,
    batch_id: int,
    all_new: bool = False,
    hidden: str | None = None,
    set_sql: dict[str, str] | None = None,
) -> UpsertCounts:
    """Insert new sites and update changed ones (the importer's write rule as for events)."""
    return _upsert(
        session,
        Site,
        frame,
        source_agency=source_agency,
        batch_id=batch_id,
        all_new=all_new,
        hidden=hidden,
        set_sql=set_sql,
    )


def table_is_empty(session: Session, model: Any) -> bool:
    """Whether ``model``'s table has no row at all (cheap on any size)."""
    return session.execute(select(model.id).limit(1)).first() is None


def _upsert(
    session: Session,
    model: Any,
    frame: pd.DataFrame,
    *,
    source_agency: str,
    batch_id: int,
    all_new: bool = False,
    hidden: str | None = None,
    set_sql: dict[str, str] | None = None,
) -> UpsertCounts:
    if frame.empty:
        return UpsertCounts(0, 0, 0)

    def keep(ids: list[int]) -> None:
        _keep_revisions(session, ids, batch_id=batch_id, now=utcnow())

    new, changed, same, withheld = staged_upsert(
        session,
        model.__table__,
        frame,
        source_agency=source_agency,
        batch_id=batch_id,
        before_update=keep if model is Event else None,
        all_new=all_new,
        hidden=hidden,
        set_sql=set_sql,
    )
    return UpsertCounts(new, changed, same, tuple(withheld))


_REVISION_FIELDS = (
    "kind",
    "category",
    "source_category",
    "occurred_at",
    "reported_at",
    "description",
    "location_text",
    "handling",
    "severity",
    "lon",
    "lat",
    "batch_id",
)


def _keep_revisions(
    session: Session, event_ids: list[int], *, batch_id: int, now: datetime
) -> None:
    cols = [Event.id, Event.content_hash, *(getattr(Event, f) for f in _REVISION_FIELDS)]
    revisions = []
    for start in range(0, len(event_ids), _CHUNK):
        chunk = event_ids[start : start + _CHUNK]
        for row in session.execute(select(*cols).where(Event.id.in_(chunk))):
            content = {f: _jsonable(v) for f, v in zip(_REVISION_FIELDS, row[2:], strict=True)}
            revisions.append(
                {
                    "event_id": row[0],
                    "batch_id": batch_id,
                    "content_hash": row[1],
                    "content": json.dumps(content),
                    "replaced_at": now,
                }
            )
    if revisions:
        session.execute(insert(EventRevision), revisions)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def event_public_ids(
    *, session: Session, source_agency: str, external_ids: list[str]
) -> dict[str, str]:
    """Return the public ids of one source's events by external id (the writer's own receipt).

    Public ids, never the integer keys: those are sequential, and two of them would tell the
    writer how many events others stored in between (:mod:`store.public_ids`).
    """
    found: dict[str, str] = {}
    for chunk in _chunks(external_ids):
        stmt = select(Event.external_id, Event.public_id).where(
            Event.source_agency == source_agency, Event.external_id.in_(chunk)
        )
        found.update(dict(session.execute(stmt).tuples().all()))
    return found


def upsert_area(session: Session, values: dict[str, Any]) -> tuple[int, bool]:
    """Insert or replace an area by (source agency, external id); return (id, created).

    ``values`` holds the model's columns, with ``geometry`` as extended WKT.
    """
    existing = session.execute(
        select(Area).where(
            Area.source_agency == values["source_agency"],
            Area.external_id == values["external_id"],
        )
    ).scalar_one_or_none()
    if existing is None:
        area = Area(**values)
        session.add(area)
        session.flush()
        return area.id, True
    for key, value in values.items():
        setattr(existing, key, value)
    session.flush()
    return existing.id, False

"""Batched, idempotent ingest: one file is one batch is one transaction.

``read == inserted + updated + unchanged + quarantined`` for every batch. A crash or kill before
the commit leaves nothing of the batch behind; running the same command again finishes the job.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, select

from data_loaders.profiles import Profile
from data_loaders.readers import RawTable, read_table
from data_loaders.validate import map_rows
from store.base import utcnow
from store.engine import session_scope
from store.models import IngestBatch
from store.writes import (
    add_quarantined,
    finish_batch,
    start_batch,
    upsert_events,
    upsert_sites,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSummary:
    """What one import did; the counts add up to ``rows_read``."""

    batch_id: int | None
    source: str
    kind: str
    origin: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    already_loaded: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict."""
        return asdict(self)


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def already_loaded(engine: Engine, *, source: str, profile: str, sha256: str) -> bool:
    """Whether a committed batch already holds exactly this file under this profile."""
    with session_scope(engine) as session:
        stmt = select(IngestBatch.id).where(
            IngestBatch.source_agency == source,
            IngestBatch.profile == profile,
            IngestBatch.content_sha256 == sha256,
            IngestBatch.status == "committed",
        )
        return session.execute(stmt.limit(1)).first() is not None


def ingest_table(
    engine: Engine,
    table: RawTable,
    profile: Profile,
    *,
    origin: str,
    sha256: str | None,
    area: BaseGeometry | None,
    store_res: int,
) -> BatchSummary:
    """Map ``table`` through ``profile`` and store it as one batch, in one transaction."""
    started = time.perf_counter()
    mapped = map_rows(table, profile, area=area, store_res=store_res, now=utcnow())
    kind = "site" if profile.kind == "site" else "event"
    with session_scope(engine) as session:
        batch = start_batch(
            session,
            source_agency=profile.source,
            kind=profile.kind,
            origin=origin,
            content_sha256=sha256,
            profile=profile.name,
        )
        upsert = upsert_sites if kind == "site" else upsert_events
        counts = upsert(session, mapped.good, source_agency=profile.source, batch_id=batch.id)
        quarantined = add_quarantined(session, batch_id=batch.id, rejects=mapped.rejects)
        finish_batch(session, batch, rows_read=len(table), counts=counts, quarantined=quarantined)
        batch_id = batch.id
    summary = BatchSummary(
        batch_id=batch_id,
        source=profile.source,
        kind=profile.kind,
        origin=origin,
        rows_read=len(table),
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        quarantined=quarantined,
        reasons=mapped.reason_counts,
        seconds=round(time.perf_counter() - started, 3),
    )
    logger.info(
        "batch %s %s/%s from %s: read %d, inserted %d, updated %d, unchanged %d, "
        "quarantined %d in %.2fs",
        batch_id,
        profile.source,
        profile.name,
        origin,
        summary.rows_read,
        summary.inserted,
        summary.updated,
        summary.unchanged,
        summary.quarantined,
        summary.seconds,
    )
    return summary


def ingest_path(
    engine: Engine,
    path: str | Path,
    profile: Profile,
    *,
    area: BaseGeometry | None,
    store_res: int,
    skip_if_loaded: bool = False,
) -> BatchSummary:
    """Read ``path`` and ingest it as one batch; optionally skip a file already loaded whole."""
    p = Path(path)
    sha = file_sha256(p) if p.is_file() else None
    if (
        skip_if_loaded
        and sha
        and already_loaded(engine, source=profile.source, profile=profile.name, sha256=sha)
    ):
        logger.info("%s already loaded with profile %s: skipped", p.name, profile.name)
        return BatchSummary(None, profile.source, profile.kind, p.name, 0, 0, 0, 0, 0, {}, True)
    table = read_table(p)
    return ingest_table(
        engine, table, profile, origin=p.name, sha256=sha, area=area, store_res=store_res
    )

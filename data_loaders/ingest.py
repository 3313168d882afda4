"""Batched, idempotent ingest: one file is one batch is one transaction, read in chunks.

``read == inserted + updated + unchanged + quarantined`` for every batch. A crash or kill before
the commit leaves nothing of the batch behind; running the same command again finishes the job.
Code that must react to new data (detection, caches) registers with :func:`on_ingested`.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.orm import Session

from data_loaders.errors import ProfileError
from data_loaders.prefetch import mapped_ahead
from data_loaders.profiles import Profile
from data_loaders.readers import CHUNK_ROWS, RawTable, inspect_file, iter_tables
from data_loaders.recognize import auto_profile
from data_loaders.validate import MappedRows, map_rows
from domain.roles import Role, Viewer
from rules.write_rights import NOT_WRITABLE, NOT_WRITABLE_DETAIL, RowGuard, row_guard
from security.audit import record
from store.base import utcnow
from store.bulk import deferred_indexes
from store.engine import session_scope
from store.models import Event, IngestBatch, Site
from store.writes import (
    UpsertCounts,
    add_quarantined,
    finish_batch,
    start_batch,
    table_is_empty,
    upsert_events,
    upsert_sites,
)

logger = logging.getLogger(__name__)
# A first chunk this full marks a bulk load (SpatiaLite then rebuilds its R*Tree once at the end).
BULK_ROWS = 50_000


@dataclass(frozen=True)
class BatchSummary:
    """What one import did; the counts add up to ``rows_read``.

    ``notes`` counts what was repaired rather than refused (e.g. swapped coordinates fixed);
    ``unmapped`` the source categories no crosswalk knows (kept as given).
    """

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
    notes: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)
    profile: str = ""
    columns: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready dict."""
        return asdict(self)


IngestHook = Callable[[Engine, BatchSummary], None]
# Called after every committed batch (file, upload or API call), in registration order.
_HOOKS: list[IngestHook] = []
Progress = Callable[[int], None]


def on_ingested(hook: IngestHook) -> IngestHook:
    """Register ``hook(engine, summary)`` to run after every committed ingest batch.

    Hooks run after the commit, in the importing process; an exception in a hook is logged and
    never undoes the batch. Usable as a decorator; returns ``hook``.

    Examples
    --------
    >>> from data_loaders.ingest import on_ingested, remove_hook
    >>> seen = []
    >>> hook = on_ingested(lambda engine, summary: seen.append(summary.batch_id))
    >>> remove_hook(hook)
    """
    _HOOKS.append(hook)
    return hook


def remove_hook(hook: IngestHook) -> None:
    """Unregister a hook added with :func:`on_ingested` (no error if absent)."""
    if hook in _HOOKS:
        _HOOKS.remove(hook)


def _run_hooks(engine: Engine, summary: BatchSummary) -> None:
    for hook in list(_HOOKS):
        try:
            hook(engine, summary)
        except Exception:  # a hook never undoes a committed batch
            logger.exception("ingest hook %r failed for batch %s", hook, summary.batch_id)


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
    mapped: MappedRows | None = None,
    importer: Viewer | None = None,
    channel: str = "",
) -> BatchSummary:
    """Map ``table`` through ``profile`` and store it as one batch, in one transaction.

    ``mapped``: ``table`` already mapped by the caller with the same profile, area and
    resolution (the partner API maps a batch first to refuse it whole): not mapped again.
    ``importer``, ``channel``: as for :func:`ingest_chunks`.
    """
    return ingest_chunks(
        engine,
        [table],
        profile,
        origin=origin,
        sha256=sha256,
        area=area,
        store_res=store_res,
        premapped=mapped,
        importer=importer,
        channel=channel,
    )


def ingest_chunks(
    engine: Engine,
    chunks: Iterable[RawTable],
    profile: Profile,
    *,
    origin: str,
    sha256: str | None,
    area: BaseGeometry | None,
    store_res: int,
    progress: Progress | None = None,
    bulk: int = 0,
    premapped: MappedRows | None = None,
    importer: Viewer | None = None,
    channel: str = "",
) -> BatchSummary:
    """Map and store the chunks of one file as one batch, in one transaction.

    Parameters
    ----------
    engine
        The database.
    chunks
        The file's rows, chunk by chunk (memory stays bounded by one chunk).
    profile
        The mapping profile.
    origin, sha256
        The file's name and hash, kept on the batch.
    area
        The area of responsibility, or ``None``.
    store_res
        H3 resolution of the stored cells.
    progress
        Called with the number of rows read so far after each chunk.
    bulk
        The rows expected of a big load (0 for a small one): when the table holds fewer, its
        indexes are dropped and built once at the end.
    premapped
        The one chunk, already mapped (``ingest_table``'s ``mapped``).
    importer
        Who imports (a user, an API key's agency, or ``Viewer.system()``): its write rule
        (:mod:`rules.write_rights`) decides which stored records the batch may change, and
        the import is audited as its in the batch's own transaction. ``None``: the system,
        unaudited (the demo kit, tests).
    channel
        How the file came in, kept in the audit entry (``dashboard``, ``cli``, ``api``).

    Returns
    -------
    BatchSummary
        The counts; they add up to ``rows_read``.
    """
    started = time.perf_counter()
    is_site = profile.kind == "site"
    upsert = upsert_sites if is_site else upsert_events
    now = utcnow()
    read = inserted = updated = unchanged = quarantined = 0
    reasons: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    seen: set[str] = set()
    with session_scope(engine) as session:
        by_user = importer is not None and not _is_system(importer)
        batch = start_batch(
            session,
            source_agency=profile.source,
            kind=profile.kind,
            origin=origin,
            content_sha256=sha256,
            profile=profile.name,
            imported_by_agency=importer.agency if by_user and importer is not None else None,
        )
        model = Site if is_site else Event
        # Declarative models map Tables; the stubs type __table__ as any FromClause.
        table = cast(Table, model.__table__)
        guard = (
            RowGuard()
            if importer is None
            else row_guard(
                importer, profile.source, table_name=table.name, dialect=session.get_bind().dialect
            )
        )
        # A first load into an empty table skips the staging table (ids are unique in the file).
        all_new = table_is_empty(session, model)
        with deferred_indexes(
            session, table, enabled=bool(bulk) and _few_rows(session, table, bulk)
        ):
            offset = [0]  # rows before the chunk being mapped (in the helper thread)

            def mapping(chunk: RawTable) -> MappedRows:
                mapped = map_rows(
                    chunk,
                    profile,
                    area=area,
                    store_res=store_res,
                    now=now,
                    row_offset=offset[0],
                    seen=seen,
                )
                offset[0] += len(chunk)
                return mapped

            pairs = (
                mapped_ahead(chunks, mapping)
                if premapped is None
                else ((chunk, premapped) for chunk in _one(chunks))
            )
            for chunk, mapped in pairs:
                counts = upsert(
                    session,
                    mapped.good,
                    source_agency=profile.source,
                    batch_id=batch.id,
                    all_new=all_new,
                    hidden=guard.hidden,
                    set_sql=guard.set_sql,
                )
                quarantined += add_quarantined(session, batch_id=batch.id, rejects=mapped.rejects)
                if counts.withheld:
                    refused = mapped.withdrawn(
                        chunk,
                        counts.withheld,
                        reason=NOT_WRITABLE,
                        detail=NOT_WRITABLE_DETAIL,
                        row_offset=read,
                    )
                    quarantined += add_quarantined(session, batch_id=batch.id, rejects=refused)
                    reasons[NOT_WRITABLE] += len(refused)
                read += len(chunk)
                inserted += counts.inserted
                updated += counts.updated
                unchanged += counts.unchanged
                reasons.update(mapped.reason_counts)
                notes.update(mapped.notes)
                unmapped.update(mapped.unmapped)
                if progress is not None:
                    progress(read)
        totals = UpsertCounts(inserted, updated, unchanged)
        finish_batch(session, batch, rows_read=read, counts=totals, quarantined=quarantined)
        summary = BatchSummary(
            batch_id=batch.id,
            source=profile.source,
            kind=profile.kind,
            origin=origin,
            rows_read=read,
            inserted=inserted,
            updated=updated,
            unchanged=unchanged,
            quarantined=quarantined,
            reasons=dict(reasons),
            seconds=round(time.perf_counter() - started, 3),
            notes=dict(notes),
            unmapped=dict(unmapped.most_common(50)),
            profile=profile.name,
            columns=dict(profile.columns),
        )
        if importer is not None:  # the audit entry commits (or rolls back) with the batch
            record(
                session=session,
                viewer=importer,
                action="import",
                object=origin,
                outcome="ok" if read > 0 else "error",
                details={"origin": channel, **summary.to_dict()},
            )
        batch_id = batch.id
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
    _run_hooks(engine, summary)
    return summary


def _is_system(viewer: Viewer) -> bool:
    return viewer.role is Role.SYSTEM


def _one(chunks: Iterable[RawTable]) -> list[RawTable]:
    """The single chunk a premapped batch must be."""
    found = list(chunks)
    if len(found) != 1:
        raise ValueError("a premapped batch is one chunk")
    return found


def _expected_rows(size: int, first: RawTable) -> int:
    """Rough rows in a file of ``size`` bytes, from its width (about 8 bytes a field)."""
    per_row = max(8 * max(len(first.frame.columns), 1), 1)
    return max(size // per_row, len(first))


def _few_rows(session: Session, table: Any, expected: int) -> bool:
    """Whether ``table`` holds few rows next to a load of ``expected`` rows.

    Rebuilding the indexes then costs less than maintaining them row by row.
    """
    return int(session.execute(select(func.count()).select_from(table)).scalar_one()) < expected


def ingest_path(
    engine: Engine,
    path: str | Path,
    profile: Profile | None,
    *,
    area: BaseGeometry | None,
    store_res: int,
    skip_if_loaded: bool = False,
    kind: str | None = None,
    source: str | None = None,
    timezone: str = "America/New_York",
    overrides: dict[str, str] | None = None,
    sector: str | None = None,
    time_format: str | None = None,
    crs: str | None = None,
    progress: Progress | None = None,
    origin: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    importer: Viewer | None = None,
    channel: str = "",
) -> BatchSummary:
    """Read ``path`` in chunks and ingest it as one batch.

    Parameters
    ----------
    engine
        The database.
    path
        The file (CSV/TSV, GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ).
    profile
        The mapping profile, or ``None`` to recognise the columns (then ``kind`` and ``source``
        are required; ``timezone``, ``overrides`` and ``sector`` refine the guess).
    area, store_res
        The area of responsibility and the stored H3 resolution.
    skip_if_loaded
        Skip a file already loaded whole under the same profile.
    time_format
        A ``strftime`` format every time follows (else each is recognised).
    crs
        CRS of a spatial file that does not state one.
    progress
        Called with the rows read so far.
    origin
        The name kept on the batch (default: the file's name).
    chunk_rows
        Rows per chunk (memory bound).
    importer, channel
        Who imports and how (:func:`ingest_chunks`).

    Raises
    ------
    IngestError
        When the file cannot be read at all, or its columns cannot be mapped.
    """
    p = Path(path)
    info = inspect_file(p)
    origin = origin or p.name
    if profile is not None:
        if kind is not None and kind != profile.kind and profile.kind != "mixed":
            raise ProfileError(f"profile {profile.name} is for kind {profile.kind!r}, not {kind!r}")
        if source is not None and source != profile.source:
            profile = profile.model_copy(update={"source": source})
        if overrides:
            profile = profile.model_copy(update={"columns": {**profile.columns, **overrides}})
        if skip_if_loaded and already_loaded(
            engine, source=profile.source, profile=profile.name, sha256=info.sha256
        ):
            logger.info("%s already loaded with profile %s: skipped", p.name, profile.name)
            return BatchSummary(None, profile.source, profile.kind, origin, 0, 0, 0, 0, 0, {}, True)
    chunks = iter_tables(p, info=info, crs=crs, chunk_rows=chunk_rows)
    first = next(chunks)
    if profile is None:
        if kind is None or source is None:
            raise ProfileError("without a profile, give the kind and the source agency")
        profile = auto_profile(
            first,
            kind=kind,
            source=source,
            timezone=timezone,
            overrides=overrides,
            sector=sector,
        )
        if time_format:
            profile = profile.model_copy(update={"time_format": time_format})
    return ingest_chunks(
        engine,
        itertools.chain([first], chunks),
        profile,
        origin=origin,
        sha256=info.sha256,
        area=area,
        store_res=store_res,
        progress=progress,
        bulk=_expected_rows(info.size, first) if len(first) >= min(BULK_ROWS, chunk_rows) else 0,
        importer=importer,
        channel=channel,
    )

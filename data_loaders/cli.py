"""`manage.py ingest` behind the wiring: pick the profile, import, say what happened."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine

from data_loaders.areas import load_area
from data_loaders.errors import IngestError, named_only
from data_loaders.ingest import BatchSummary, ingest_path
from data_loaders.profiles import Profile, load_profile, matching_profile, shipped_profiles
from data_loaders.progress import ProgressLine
from data_loaders.readers import iter_tables
from domain.roles import Viewer
from rules.write_rights import SourceNotAllowed, check_source
from settings import Settings
from store.migrate import upgrade

logger = logging.getLogger(__name__)


def choose_profile(
    path: Path, *, kind: str, source: str, profile: str | None, crs: str | None = None
) -> Profile | None:
    """Return the named profile, else the shipped profile of ``source`` that fits the file.

    ``None`` means: recognise the columns by name.
    """
    if profile:
        return load_profile(profile)
    if not any(p.source.upper() == source.upper() for p in shipped_profiles()):
        return None
    first = next(iter_tables(path, chunk_rows=1000, crs=crs))
    return matching_profile(source, kind, list(first.frame.columns))


def run_ingest(
    engine: Engine,
    settings: Settings,
    path: str | Path,
    *,
    kind: str,
    source: str,
    profile: str | None = None,
    timezone: str | None = None,
    time_format: str | None = None,
    overrides: dict[str, str] | None = None,
    sector: str | None = None,
    crs: str | None = None,
    use_area: bool = True,
    show_progress: bool = True,
    migrate: bool = True,
    importer: Viewer | None = None,
    channel: str = "cli",
) -> tuple[BatchSummary, str]:
    """Import ``path`` and return its summary with a human-readable text of it.

    ``importer``: who imports (audited with the batch; its write rule applies, and it must be
    entitled to import for ``source``); ``None`` imports as the system, unaudited.

    Raises
    ------
    IngestError
        With a message for the user when the file cannot be imported at all, or the importer
        may not import for ``source``.
    """
    if importer is not None:
        try:
            check_source(
                importer,
                source,
                host_agency=settings.host_agency,
                delegations=settings.import_delegations,
            )
        except SourceNotAllowed as exc:
            raise IngestError(str(exc)) from exc
    p = Path(path)
    if migrate:  # the command line may meet a fresh database; the running app has migrated
        upgrade(engine)
    chosen = choose_profile(p, kind=kind, source=source, profile=profile, crs=crs)
    if chosen is not None and timezone:
        chosen = chosen.model_copy(update={"timezone": timezone})
    if chosen is not None and time_format:
        chosen = chosen.model_copy(update={"time_format": time_format})
    area = load_area(str(settings.area_path)) if use_area and settings.area_path else None
    size = p.stat().st_size if p.is_file() else 0
    progress = ProgressLine(p.name, size) if show_progress else None
    try:
        summary = ingest_path(
            engine,
            p,
            chosen,
            area=area,
            store_res=settings.h3_store_res,
            kind=kind,
            source=source,
            timezone=timezone or settings.timezone,
            overrides=overrides,
            sector=sector,
            time_format=time_format,
            crs=crs,
            progress=progress,
            chunk_rows=settings.ingest_chunk_rows,
            importer=importer,
            channel=channel,
        )
    except IngestError:
        raise
    except (UnicodeError, ValueError, OSError, MemoryError) as exc:
        # Anything a hostile file can still provoke in a library becomes a message, not a trace.
        logger.debug("ingest of %s failed", p, exc_info=True)
        message = named_only(str(exc), p)
        raise IngestError(f"{p.name} cannot be imported: {type(exc).__name__}: {message}") from exc
    finally:
        if progress is not None:
            progress.close()
    return summary, summary_text(summary)


def summary_text(s: BatchSummary) -> str:
    """Return the summary as a few lines for a person."""
    if s.already_loaded:
        return f"{s.origin}: already loaded"
    if s.rows_read == 0:
        return f"{s.origin}: nothing read (a header and no rows); nothing stored"
    lines = [
        f"{s.origin} -> batch {s.batch_id} ({s.source}, profile {s.profile}): "
        f"read {s.rows_read:,} = inserted {s.inserted:,} + updated {s.updated:,} "
        f"+ unchanged {s.unchanged:,} + quarantined {s.quarantined:,} in {s.seconds:.1f} s"
    ]
    if s.reasons:
        lines.append(
            "  quarantined: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.reasons.items()))
        )
    if s.notes:
        lines.append("  notes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.notes.items())))
    if s.unmapped:
        top = list(s.unmapped.items())[:10]
        lines.append(
            "  categories kept as given (no crosswalk): "
            + ", ".join(f"{k!r} {v:,}" for k, v in top)
        )
    lines.append("  columns: " + ", ".join(f"{k}={v}" for k, v in s.columns.items()))
    return "\n".join(lines)

"""Dashboard export jobs: the screen's filter written to a file chunk by chunk, with progress.

Starting a job (:func:`start_export_job`) adds an ``export_jobs`` row and runs
:func:`run_export_job` in a background thread of the process that took the click. The job counts
the rows first with the same filter, then reads the event layers in keyset pages
(``WATCHFLOOR_EXPORT_CHUNK_ROWS`` rows each, every page a short query of its own) and appends
each page to the file under ``VAR_DIR/exports/<job id>/``, updating ``rows_done`` and its
heartbeat in the database. Any worker answers a poll from that row (:func:`job_status`); a
running job without a heartbeat for ``WATCHFLOOR_EXPORT_STALE_S`` seconds lost its process and
is reported failed. The file is sent (and audited) by ``web.downloads``. Files of jobs older than
``WATCHFLOOR_EXPORT_RETENTION_HOURS`` are deleted when the next job starts, or by
``manage.py exports cleanup``.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
from sqlalchemy import Engine

from domain.export_names import EXPORT_LAYERS, FORMATS, ExportFormat
from domain.roles import Viewer
from exports.chunked import ChunkSource, write_layers_chunked
from exports.formats import SUFFIX
from exports.service import (
    export_metadata,
    frame_marking,
    layer_frame,
    points_frame,
)
from layers.selection import ScreenState, SelectionError, area_label, screen_filter
from settings import Settings
from store.base import utcnow
from store.engine import session_scope
from store.export_jobs import (
    JobStatus,
    add_progress,
    beat,
    create_job,
    delete_jobs,
    expired_job_ids,
    fail_job,
    finish_job,
    load_job,
    set_plan,
)
from store.queries.features import event_keyset_page, event_summary, newest_event_id
from store.queries.filters import EventFilter

logger = logging.getLogger(__name__)

_KIND = {"suspicious": "suspicious", "incidents": "incident"}
# Formats whose metadata lives only in a sidecar: the download is a zip of the file and sidecar.
SIDECAR_ONLY = frozenset({"csv", "kml"})


class ExportJobError(ValueError):
    """A job cannot start: unknown layer or format (words for the user)."""


class _GivenUp(Exception):
    """The job's row no longer says running (declared dead by a poll): stop writing."""


@dataclass(frozen=True)
class _Plan:
    filters: EventFilter
    names: list[str]
    rows: dict[str, int]
    metadata: dict[str, Any]
    upto_id: int
    small: dict[str, gpd.GeoDataFrame]


def job_dir(settings: Settings, job_id: str) -> Path:
    """Return the directory of job ``job_id`` (under the configured var directory)."""
    return settings.export_dir / job_id


def output_name(layer: str, fmt: str) -> str:
    """Return the name of the file downloaded for ``layer`` in ``fmt`` (as the link names it)."""
    several = layer == "all" and fmt != "gpkg"
    name = f"watchfloor-{layer}{'.zip' if several else SUFFIX[fmt]}"
    return f"{name}.zip" if fmt in SIDECAR_ONLY and not several else name


def start_export_job(
    *,
    engine: Engine,
    settings: Settings,
    viewer: Viewer,
    layer: str,
    fmt: str,
    res: int,
    state: ScreenState,
    background: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> str:
    """Start exporting ``layer`` in ``fmt`` for ``viewer`` with exactly ``state``'s filter.

    Parameters
    ----------
    engine, settings
        The store and the configuration (chunk size, var directory).
    viewer
        Who exports: the visibility filter applies, and only they may poll or download the job.
    layer, fmt, res
        One of ``EXPORT_LAYERS`` or ``"all"``; one of ``FORMATS``; the hexagons' H3 resolution.
    state
        The screen state (window, categories, agencies, caveats, area).
    background
        Run in a daemon thread (the dashboard) or here, before returning (tests, the bench).
    on_progress
        Called with the rows done after each chunk's progress is committed (tests watch it).

    Returns
    -------
    str
        The job id (a random token).
    """
    if layer not in (*EXPORT_LAYERS, "all"):
        raise ExportJobError(f"unknown layer {layer!r}")
    if fmt not in FORMATS:
        raise ExportJobError(f"unknown format {fmt!r}")
    cleanup_expired_jobs(engine=engine, settings=settings)
    job_id = secrets.token_hex(16)
    with session_scope(engine) as session:
        create_job(
            session=session,
            job_id=job_id,
            username=viewer.username,
            agency=viewer.agency,
            layer=layer,
            fmt=fmt,
            res=res,
            state_json=state.to_json(),
        )
    args = (engine, settings, job_id, viewer, layer, fmt, res, state, on_progress)
    if background:
        thread = threading.Thread(
            target=run_export_job, args=args, name=f"export-{job_id[:8]}", daemon=True
        )
        thread.start()
    else:
        run_export_job(*args)
    return job_id


def job_status(
    *, engine: Engine, settings: Settings, job_id: str, viewer: Viewer
) -> JobStatus | None:
    """Return ``viewer``'s job ``job_id`` (None for another user's or an unknown job)."""
    with session_scope(engine) as session:
        return load_job(
            session=session,
            job_id=job_id,
            username=viewer.username,
            stale_s=settings.export_stale_s,
        )


def job_file(settings: Settings, status: JobStatus) -> Path | None:
    """Return the finished file of a done job, or None when it is not (or no longer) there."""
    if status.status != "done" or not status.filename:
        return None
    path = job_dir(settings, status.id) / status.filename
    return path if path.is_file() else None


def cleanup_expired_jobs(*, engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Delete the files and rows of jobs older than the retention period; return how many."""
    before = (now or utcnow()) - timedelta(hours=settings.export_retention_hours)
    with session_scope(engine) as session:
        ids = expired_job_ids(session=session, before=before)
        for job_id in ids:
            shutil.rmtree(job_dir(settings, job_id), ignore_errors=True)
        delete_jobs(session=session, job_ids=ids)
    if ids:
        logger.info("export jobs: deleted %d expired job(s) and their files", len(ids))
    return len(ids)


def run_export_job(
    engine: Engine,
    settings: Settings,
    job_id: str,
    viewer: Viewer,
    layer: str,
    fmt: str,
    res: int,
    state: ScreenState,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Do job ``job_id``: count, write chunk by chunk, zip where needed, mark it done or failed.

    Errors never escape (this runs in a thread): the job is marked failed with a message in
    words, the partial files are removed and the traceback goes to the log.
    """
    folder = job_dir(settings, job_id)
    stop = threading.Event()
    ticker = threading.Thread(
        target=_heartbeat,
        args=(engine, job_id, stop, max(0.5, settings.export_stale_s / 6)),
        name=f"export-beat-{job_id[:8]}",
        daemon=True,
    )
    ticker.start()
    started = time.perf_counter()
    try:
        plan = _plan(engine, settings, job_id, viewer, layer, fmt, res, state)
        folder.mkdir(parents=True, exist_ok=True)
        name = output_name(layer, fmt)
        written = _write(engine, settings, job_id, viewer, plan, fmt, folder, name, on_progress)
        size = written.stat().st_size
        with session_scope(engine) as session:
            if not finish_job(session=session, job_id=job_id, filename=name, size_bytes=size):
                raise _GivenUp
        logger.info(
            "export job %s: %s as %s by %s/%s, %s rows, %.1f s",
            job_id[:8],
            plan.names,
            fmt,
            viewer.username,
            viewer.agency,
            plan.rows,
            time.perf_counter() - started,
        )
    except _GivenUp:
        logger.warning("export job %s was given up; its partial file is removed", job_id[:8])
        shutil.rmtree(folder, ignore_errors=True)
    except SelectionError as exc:
        _fail(engine, job_id, folder, f"The area cannot be used: {exc}")
    except Exception as exc:
        logger.exception("export job %s failed", job_id[:8])
        _fail(engine, job_id, folder, f"The export failed: {type(exc).__name__}: {exc}")
    finally:
        stop.set()


def _fail(engine: Engine, job_id: str, folder: Path, message: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    with session_scope(engine) as session:
        fail_job(session=session, job_id=job_id, message=message)


def _heartbeat(engine: Engine, job_id: str, stop: threading.Event, every_s: float) -> None:
    # A separate beat, so a long single step (a big hexagon count, a slow GDAL write)
    # does not look like a dead process; it dies with the process, which is the point.
    while not stop.wait(every_s):
        try:
            with session_scope(engine) as session:
                if not beat(session=session, job_id=job_id):
                    return
        except Exception:  # a missed beat is retried; the job itself reports real failures
            logger.warning("export job %s: heartbeat failed", job_id[:8], exc_info=True)


def _plan(
    engine: Engine,
    settings: Settings,
    job_id: str,
    viewer: Viewer,
    layer: str,
    fmt: str,
    res: int,
    state: ScreenState,
) -> _Plan:
    """Count every layer's rows with the filter and build the metadata before writing a row."""
    names = list(EXPORT_LAYERS) if layer == "all" else [layer]
    rows: dict[str, int] = {}
    caveats: list[str] = []
    times: list[Any] = []
    small: dict[str, gpd.GeoDataFrame] = {}
    with session_scope(engine, readonly=True) as session:
        filters = screen_filter(state, session=session, viewer=viewer, tz=settings.timezone)
        area_name = area_label(state, session=session, viewer=viewer)
        upto_id = newest_event_id(session=session)
        for name in names:
            if name in _KIND:
                kind_filter = replace(filters, kinds=(_KIND[name],))
                summary = event_summary(
                    session=session, viewer=viewer, filters=kind_filter, upto_id=upto_id
                )
                rows[name] = summary.rows
                caveats += summary.caveats
                if summary.newest_at is not None:
                    times.append(summary.newest_at)
                continue
            # Sites, hexagons, flags, regions, hazards: bounded by the map, not by time; built
            # whole (the largest, statewide hexagons, is tens of thousands of rows).
            frame = layer_frame(name, session=session, viewer=viewer, filters=filters, res=res)
            small[name] = frame
            rows[name] = len(frame)
            marks, newest = frame_marking(
                name, frame, session=session, viewer=viewer, filters=filters
            )
            caveats += marks
            times += [newest] if newest is not None else []
    metadata = export_metadata(
        names,
        fmt,
        viewer=viewer,
        filters=filters,
        res=res,
        area_name=area_name,
        data_through=max(times) if times else None,
        caveats=caveats,
        rows=rows,
    )
    details = {
        "layers": [layer],
        "format": fmt,
        "rows": rows,
        "filters": metadata["filters"],
        "handling": metadata["handling"],
        "state": state.to_audit(),
    }
    with session_scope(engine) as session:
        if not set_plan(
            session=session, job_id=job_id, rows_total=sum(rows.values()), details=details
        ):
            raise _GivenUp
    return _Plan(filters, names, rows, metadata, upto_id, small)


def _write(
    engine: Engine,
    settings: Settings,
    job_id: str,
    viewer: Viewer,
    plan: _Plan,
    fmt: str,
    folder: Path,
    name: str,
    on_progress: Callable[[int], None] | None,
) -> Path:
    done = 0

    def progress(rows: int) -> None:
        nonlocal done
        with session_scope(engine) as session:
            if not add_progress(session=session, job_id=job_id, rows=rows):
                raise _GivenUp
        done += rows
        if on_progress is not None:
            on_progress(done)

    def events(layer: str) -> Iterator[gpd.GeoDataFrame]:
        kind_filter = replace(plan.filters, kinds=(_KIND[layer],))
        after = None
        first = True
        while True:
            # A short read of its own per page: no transaction stays open while GDAL writes.
            with session_scope(engine, readonly=True) as session:
                page = event_keyset_page(
                    session=session,
                    viewer=viewer,
                    filters=kind_filter,
                    limit=settings.export_chunk_rows,
                    upto_id=plan.upto_id,
                    after=after,
                )
            if page.empty and not first:
                return
            first = False
            last = page.iloc[-1] if len(page) else None
            yield points_frame(page.drop(columns=["id"]))
            progress(len(page))  # runs once the writer has taken the page
            if last is None or len(page) < settings.export_chunk_rows:
                return
            after = (last["occurred_at"].to_pydatetime(), int(last["id"]))

    def whole(layer: str) -> Iterator[gpd.GeoDataFrame]:
        frame = plan.small[layer]
        yield frame
        progress(len(frame))

    sources: dict[str, ChunkSource] = {
        layer: (lambda layer=layer: events(layer))  # type: ignore[misc]
        if layer in _KIND
        else (lambda layer=layer: whole(layer))  # type: ignore[misc]
        for layer in plan.names
    }
    several = len(plan.names) > 1 and fmt != "gpkg"
    base = f"watchfloor-{plan.names[0] if len(plan.names) == 1 else 'all'}"
    out = folder / f"{base}{'.zip' if several else SUFFIX[fmt]}"
    fmt_typed: ExportFormat = fmt  # type: ignore[assignment]
    paths = write_layers_chunked(sources, fmt_typed, out, plan.metadata)
    if out.name == name:  # sent as written; the sidecar is only for a zip
        for extra in paths[1:]:
            extra.unlink(missing_ok=True)
        return out
    # CSV and KML: a zip of the file and its metadata sidecar, as /export/download sends them.
    target = folder / name
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in paths:
            zf.write(part, part.name)
            part.unlink()
    return target

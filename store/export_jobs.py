"""Read and change dashboard export jobs (the ``export_jobs`` rows); nothing here commits."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store.base import utcnow
from store.models import ExportJob

JobState = Literal["running", "done", "failed"]
DEAD_MESSAGE = (
    "The export stopped: the server process running it ended (no sign of life for {s:.0f} s). "
    "Start it again."
)


@dataclass(frozen=True)
class JobStatus:
    """What a poll answers about one job."""

    id: str
    status: JobState
    layer: str
    format: str
    rows_done: int
    rows_total: int | None
    message: str | None
    filename: str | None
    size_bytes: int | None
    created_at: datetime
    finished_at: datetime | None
    details: dict[str, Any] = field(default_factory=dict)


def create_job(
    *,
    session: Session,
    job_id: str,
    username: str,
    agency: str,
    layer: str,
    fmt: str,
    res: int,
    state_json: str,
) -> None:
    """Add a running job with no progress yet."""
    now = utcnow()
    session.add(
        ExportJob(
            id=job_id,
            username=username[:64],
            agency=agency[:64],
            layer=layer,
            format=fmt,
            res=res,
            state=state_json,
            status="running",
            rows_done=0,
            created_at=now,
            heartbeat_at=now,
        )
    )
    session.flush()


def _running(job_id: str) -> Any:  # Any: a SQLAlchemy UPDATE statement
    return update(ExportJob).where(ExportJob.id == job_id, ExportJob.status == "running")


def set_plan(*, session: Session, job_id: str, rows_total: int, details: dict[str, Any]) -> bool:
    """Record the row count and the export's metadata; False when the job no longer runs."""
    stmt = _running(job_id).values(
        rows_total=rows_total, details=json.dumps(details, default=str), heartbeat_at=utcnow()
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def add_progress(*, session: Session, job_id: str, rows: int) -> bool:
    """Count ``rows`` more as written and beat; False when the job was given up meanwhile."""
    stmt = _running(job_id).values(rows_done=ExportJob.rows_done + rows, heartbeat_at=utcnow())
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def beat(*, session: Session, job_id: str) -> bool:
    """Refresh the heartbeat of a running job; False when it no longer runs."""
    stmt = _running(job_id).values(heartbeat_at=utcnow())
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def finish_job(*, session: Session, job_id: str, filename: str, size_bytes: int) -> bool:
    """Mark the job done with its file; False when it had been given up (the file is stale)."""
    now = utcnow()
    stmt = _running(job_id).values(
        status="done", filename=filename, size_bytes=size_bytes, finished_at=now, heartbeat_at=now
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def fail_job(*, session: Session, job_id: str, message: str) -> None:
    """Mark a running job failed with ``message`` (words for the user)."""
    now = utcnow()
    session.execute(
        _running(job_id).values(status="failed", message=message, finished_at=now, heartbeat_at=now)
    )


def load_job(
    *, session: Session, job_id: str, username: str, stale_s: float, now: datetime | None = None
) -> JobStatus | None:
    """Return ``username``'s job ``job_id``, or None when there is none for them.

    Another user's job answers None, exactly like one that does not exist. A running job without
    a heartbeat for ``stale_s`` seconds lost its process: it is marked failed here, so every
    worker gives the same answer from then on, and the job itself stops at its next step.
    """
    row = session.get(ExportJob, job_id)
    if row is None or row.username != username:
        return None
    now = now or utcnow()
    if row.status == "running" and row.heartbeat_at < now - timedelta(seconds=stale_s):
        fail_job(session=session, job_id=job_id, message=DEAD_MESSAGE.format(s=stale_s))
        session.refresh(row)
    status: JobState = row.status if row.status in ("done", "failed") else "running"  # type: ignore[assignment]
    return JobStatus(
        id=row.id,
        status=status,
        layer=row.layer,
        format=row.format,
        rows_done=int(row.rows_done),
        rows_total=None if row.rows_total is None else int(row.rows_total),
        message=row.message,
        filename=row.filename,
        size_bytes=row.size_bytes,
        created_at=row.created_at,
        finished_at=row.finished_at,
        details=json.loads(row.details) if row.details else {},
    )


def expired_job_ids(*, session: Session, before: datetime) -> list[str]:
    """Return the ids of jobs started and last alive before ``before`` (files due for deletion).

    A job still beating is never returned, however long it has run.
    """
    stmt = select(ExportJob.id).where(
        ExportJob.created_at < before, ExportJob.heartbeat_at < before
    )
    return list(session.execute(stmt).scalars())


def delete_jobs(*, session: Session, job_ids: list[str]) -> int:
    """Delete these job rows; return how many."""
    if not job_ids:
        return 0
    result = session.execute(delete(ExportJob).where(ExportJob.id.in_(job_ids)))
    return int(result.rowcount)  # type: ignore[attr-defined]

"""Replay a historic file as if it were arriving live: for drills, demonstrations and load tests.

Each event is fed at ``(t - t_first) / speed`` after the start of the run, and its time becomes
the moment it is fed (the stored ``occurred_at`` and ``reported_at`` are "now"), so live views
see it as just reported. Its external id becomes ``replay-RUN:<id>``: a drill never collides with
the real record of the same id, and replaying the same run again updates its records instead
of doubling them. Events go through the normal ingest path (profile, validation, quarantine,
batches, the post-import hooks) in small batches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from data_loaders.areas import load_area
from data_loaders.cli import choose_profile
from data_loaders.errors import IngestError
from data_loaders.ingest import ingest_table
from data_loaders.parsing import parse_times
from data_loaders.profiles import Profile
from data_loaders.readers import RawTable, read_table
from data_loaders.recognize import auto_profile
from data_loaders.validate import _column, _content_ids  # the ids an import would give
from settings import Settings

logger = logging.getLogger(__name__)

_ID, _TIME = "__replay_id", "__replay_time"


@dataclass
class ReplayReport:
    """What a replay fed: events, batches, and the ingest counts summed over its batches."""

    run: str
    events: int = 0
    batches: int = 0
    inserted: int = 0
    unchanged: int = 0
    updated: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Return the report as a JSON-ready dict."""
        return dict(vars(self))


@dataclass(frozen=True)
class ReplayPlan:
    """The table to feed with replay ids, and each row's offset (seconds) from the start."""

    table: RawTable
    profile: Profile
    offset_s: np.ndarray  # float seconds after the start; NaN: unparseable time (fed first)


def plan_replay(
    table: RawTable, profile: Profile, *, run: str, speed: float, limit: int | None = None
) -> ReplayPlan:
    """Return the rows of ``table`` in feeding order, with replay ids and their offsets.

    Parameters
    ----------
    table, profile
        The historic file and the profile that maps it.
    run
        The run's name: ids become ``replay-RUN:<id>``.
    speed
        How many historic seconds pass per wall-clock second (60: an hour a minute).
    limit
        Feed only the first ``limit`` events in time.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    frame = table.frame.reset_index(drop=True)
    id_spec = profile.columns.get("external_id")
    ids = _content_ids(table, frame) if id_spec is None else _column(frame, id_spec)
    when = parse_times(
        _column(frame, profile.columns.get("occurred_at"), sep=" "),
        timezone=profile.timezone,
        fmt=profile.time_format,
    )
    t = pd.to_datetime(when, utc=True)
    order = np.argsort(t.to_numpy(dtype="datetime64[ns]"), kind="stable")  # NaT sorts last
    first = t.min()
    offset = ((t - first).dt.total_seconds() / speed).to_numpy(dtype=float)
    if limit is not None:
        order = order[:limit]
    keep = frame.iloc[order].copy()
    keep[_ID] = [f"replay-{run}:{i}" if i else "" for i in ids.iloc[order]]
    keep[_TIME] = ""
    columns = {**profile.columns, "external_id": _ID, "occurred_at": _TIME}
    if "reported_at" in columns:
        columns["reported_at"] = _TIME
    replay_profile = profile.model_copy(
        update={"columns": columns, "timezone": "UTC", "time_format": None}
    )
    sub = RawTable(
        frame=keep.reset_index(drop=True),
        lon=None if table.lon is None else table.lon[order],
        lat=None if table.lat is None else table.lat[order],
        malformed=None if table.malformed is None else table.malformed[order],
    )
    return ReplayPlan(table=sub, profile=replay_profile, offset_s=offset[order])


def replay_file(
    engine: Engine,
    settings: Settings,
    path: str | Path,
    *,
    source: str,
    speed: float = 60.0,
    kind: str = "incident",
    run: str | None = None,
    profile: str | None = None,
    batch_rows: int = 500,
    interval_s: float = 1.0,
    limit: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReplayReport:
    """Feed ``path`` as if live; return what was fed.

    Parameters
    ----------
    source, kind, profile
        As for ``manage.py ingest``: the agency's shipped profile is used when it fits.
    speed
        Historic seconds per wall-clock second.
    run
        The run's name (default: the start time, ``YYYYMMDDTHHMMSS``).
    batch_rows, interval_s
        At most ``batch_rows`` events per batch, and a batch at most every ``interval_s``.
    limit
        Feed only the first ``limit`` events.
    clock, sleep, now
        Monotonic seconds, waiting, and the wall clock (UTC).
    """
    p = Path(path)
    started_at = now()
    run = run or started_at.strftime("%Y%m%dT%H%M%S")
    table = read_table(p)
    if len(table) == 0:
        raise IngestError(f"{p.name}: nothing to replay")
    chosen = choose_profile(p, kind=kind, source=source, profile=profile) or auto_profile(
        table, kind=kind, source=source, timezone=settings.timezone
    )
    plan = plan_replay(table, chosen, run=run, speed=speed, limit=limit)
    area = load_area(str(settings.area_path)) if settings.area_path else None
    report = ReplayReport(run=run)
    start = clock()
    offsets = np.nan_to_num(plan.offset_s, nan=0.0)
    done = 0
    while done < len(offsets):
        elapsed = clock() - start
        due = int(np.searchsorted(offsets, elapsed, side="right"))
        if due <= done:
            sleep(max(min(offsets[done] - elapsed, interval_s), 0.0))
            continue
        upto = min(due, done + batch_rows)
        chunk = plan.table.frame.iloc[done:upto].copy()
        fed_at = started_at + timedelta(seconds=clock() - start)
        chunk[_TIME] = fed_at.isoformat()
        # Rows whose historic time could not be read keep no time: quarantined as usual.
        chunk.loc[np.isnan(plan.offset_s[done:upto]), _TIME] = ""
        summary = ingest_table(
            engine,
            RawTable(
                frame=chunk,
                lon=None if plan.table.lon is None else plan.table.lon[done:upto],
                lat=None if plan.table.lat is None else plan.table.lat[done:upto],
                malformed=None if plan.table.malformed is None else plan.table.malformed[done:upto],
            ),
            plan.profile,
            origin=f"replay-{run}:{p.name}",
            sha256=None,
            area=area,
            store_res=settings.h3_store_res,
        )
        report.events += upto - done
        report.batches += 1
        report.inserted += summary.inserted
        report.updated += summary.updated
        report.unchanged += summary.unchanged
        report.quarantined += summary.quarantined
        for reason, n in summary.reasons.items():
            report.reasons[reason] = report.reasons.get(reason, 0) + n
        done = upto
        if done < len(offsets):
            sleep(interval_s)
    report.seconds = round(clock() - start, 3)
    logger.info(
        "replay %s of %s: %d events in %d batches, %d inserted, %d quarantined in %.1f s",
        run,
        p.name,
        report.events,
        report.batches,
        report.inserted,
        report.quarantined,
        report.seconds,
    )
    return report

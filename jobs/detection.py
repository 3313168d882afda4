"""One detection run: read events and sites, scan each window, store the flags.

Hooking it after an import (the post-import hook of the ingest path)::

    from jobs.detection import run_detection
    run_detection(engine, settings)   # the latest window only: bounded cost

It reads only the events of the latest window and its baseline (an indexed range on
``occurred_at``), scans them in numpy and upserts a handful of flags, so its cost depends on the
events of ``detect_window_days + detect_baseline_days``, not on the size of the store.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from analytics.flags import build_flags
from analytics.hotspots import DetectionParams, scan
from analytics.proximity import protection_radii
from data_loaders.ingest import BatchSummary, IngestHook, on_ingested, remove_hook
from domain.roles import Viewer
from settings import Settings
from store.engine import session_scope
from store.flag_writes import upsert_flags
from store.queries.events import event_time_range
from store.queries.flags import detection_events
from store.queries.sites import site_points

logger = logging.getLogger(__name__)


@dataclass
class DetectionReport:
    """What one run did: windows scanned, what was tested and found, and what was stored."""

    windows: list[str] = field(default_factory=list)
    events_read: int = 0
    tests: int = 0
    clusters: int = 0
    candidates: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    reopened: int = 0
    flag_ids: list[int] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return asdict(self)


def detection_params(settings: Settings) -> DetectionParams:
    """Return the detection parameters configured in ``settings``."""
    return DetectionParams(
        res=settings.detect_res,
        window_s=round(settings.detect_window_days * 86_400),
        baseline_s=round(settings.detect_baseline_days * 86_400),
        k=settings.detect_k,
        alpha=settings.detect_alpha,
        min_events=settings.detect_min_events,
        kind_weights=dict(settings.detect_kind_weights),
        category_weights=dict(settings.detect_category_weights),
    )


def window_ends(
    until: pd.Timestamp, since: pd.Timestamp | None, window_s: int, step_s: int | None
) -> list[pd.Timestamp]:
    """Return the ends of the windows to scan: just ``until``, or a back-test from ``since``.

    Examples
    --------
    >>> t = pd.Timestamp("2023-03-01", tz="UTC")
    >>> [e.day for e in window_ends(t, t - pd.Timedelta(days=21), 7 * 86400, None)]
    [15, 22, 1]
    """
    if since is None or since + pd.Timedelta(seconds=window_s) >= until:
        return [until]
    step = pd.Timedelta(seconds=step_s or window_s)
    ends = list(pd.date_range(since + pd.Timedelta(seconds=window_s), until, freq=step))
    if ends[-1] < until:
        ends.append(until)
    return [pd.Timestamp(e) for e in ends]


def run_detection(
    engine: Engine,
    settings: Settings,
    *,
    until: datetime | None = None,
    since: datetime | None = None,
    step_days: float | None = None,
    store: bool = True,
) -> DetectionReport:
    """Detect significant clusters near sites and upsert them as flags.

    Parameters
    ----------
    engine
        The store.
    settings
        Parameters ``detect_*`` (see README "Detection").
    until
        End of the (last) window; default: just after the newest event.
    since
        Back-test: scan every window ending from ``since + window`` to ``until``.
    step_days
        Back-test step between window ends (default: one window).
    store
        Write flags (``False``: only report what would be flagged).

    Returns
    -------
    DetectionReport
        Counts, the flags touched and the parameters used.
    """
    started = time.perf_counter()
    params = detection_params(settings)
    report = DetectionReport(parameters=params.to_dict())
    system = Viewer.system()
    with session_scope(engine) as session:
        if until is None:
            extent = event_time_range(session=session, viewer=system)
            if extent is None:
                return report
            until = extent[1] + timedelta(seconds=1)
        end = pd.Timestamp(until)
        ends = window_ends(
            end,
            pd.Timestamp(since) if since is not None else None,
            params.window_s,
            round(step_days * 86_400) if step_days else None,
        )
        first = ends[0] - pd.Timedelta(seconds=params.window_s + params.baseline_s)
        events = detection_events(
            session=session,
            viewer=system,
            start_at=first.to_pydatetime(),
            end_at=end.to_pydatetime(),
        )
        sites = site_points(session=session, viewer=system)
        radii = protection_radii(
            sites,
            sector_radius_m=settings.detect_sector_radius_m,
            tier_factor=settings.detect_tier_factor,
            default_radius_m=settings.detect_default_radius_m,
        )
        report.events_read = len(events)
        for window_end in ends:
            result = scan(events, until=window_end, params=params)
            candidates = build_flags(result.clusters, events, sites, radii, params)
            report.windows.append(window_end.isoformat())
            report.tests += result.tests
            report.clusters += len(result.clusters)
            report.candidates += len(candidates)
            report.flags += [
                {"fingerprint": c.fingerprint, "priority": c.priority, **_brief(c.explanation)}
                for c in candidates
            ]
            if store and candidates:
                counts = upsert_flags(session, candidates, gap_s=params.window_s)
                report.created += counts.created
                report.updated += counts.updated
                report.unchanged += counts.unchanged
                report.reopened += counts.reopened
                report.flag_ids += counts.flag_ids
    report.seconds = round(time.perf_counter() - started, 3)
    logger.info(
        "detection over %d window(s), %d events: %d clusters, %d near sites; flags created %d, "
        "updated %d, unchanged %d, reopened %d in %.2fs",
        len(report.windows),
        report.events_read,
        report.clusters,
        report.candidates,
        report.created,
        report.updated,
        report.unchanged,
        report.reopened,
        report.seconds,
    )
    return report


def _brief(explanation: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": explanation["summary"],
        "q_value": explanation["q_value"],
        "window": explanation["window"],
    }


_AFTER_INGEST: list[IngestHook] = []


class DebouncedDetection:
    """Run detection in a background thread, at most once per ``interval_s``, after batches.

    Batches only mark the engine as due; the thread runs :func:`run_detection` once for all the
    batches that arrived while it waited or ran. So a stream of small batches (the partner API
    at ten batches a second) costs one run per interval per process, and no batch's answer
    waits for detection. Idempotent flags (``store.flag_writes``) make a run that covers several
    batches the same as one run per batch on the newest data.
    """

    def __init__(self, settings: Settings, interval_s: float) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self.runs = 0
        self._due: dict[str, Engine] = {}
        self._wake = threading.Condition()
        self._last_run = float("-inf")
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="detect-debounced", daemon=True)
        self._thread.start()

    def __call__(self, engine: Engine, summary: BatchSummary) -> None:
        """The ingest hook: mark ``engine`` as due for a run."""
        if summary.kind == "site" or not (summary.inserted or summary.updated):
            return
        with self._wake:
            self._due[str(engine.url)] = engine
            self._wake.notify()

    def stop(self) -> None:
        """End the thread after the run in progress (due runs are dropped)."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=60)

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._due and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                wait_s = self._last_run + self.interval_s - time.monotonic()
                if wait_s > 0:
                    self._wake.wait(wait_s)  # batches arriving meanwhile join this run
                    continue
                due, self._due = self._due, {}
                self._last_run = time.monotonic()
            for engine in due.values():  # outside the lock: batches keep marking meanwhile
                try:
                    report = run_detection(engine, self.settings)
                    logger.info(
                        "detection after imports: %d flags created, %d updated",
                        report.created,
                        report.updated,
                    )
                except Exception:  # the next batch tries again; imports are never undone
                    logger.exception("detection after imports failed")
            with self._wake:
                self.runs += 1
                self._wake.notify_all()


_DEBOUNCED: list[DebouncedDetection] = []


def enable_detection_after_ingest(settings: Settings) -> None:
    """Run detection on the latest window after every committed batch that changed events.

    Idempotent: calling it again replaces the hook (one app or command line per process). The
    cost is bounded by the window and baseline read (see :func:`run_detection`); a failure is
    logged by the ingest path and never undoes the batch. With ``detect_debounce_s`` above 0
    (the dashboard and API server), detection runs in a background thread at most that often
    (:class:`DebouncedDetection`) instead of inside every batch's request.
    """
    for hook in _AFTER_INGEST:
        remove_hook(hook)
    _AFTER_INGEST.clear()
    while _DEBOUNCED:
        _DEBOUNCED.pop().stop()
    if not settings.detect_after_ingest:
        return
    if settings.detect_debounce_s > 0:
        debounced = DebouncedDetection(settings, settings.detect_debounce_s)
        _DEBOUNCED.append(debounced)
        _AFTER_INGEST.append(on_ingested(debounced))
        return

    def detect_after(engine: Engine, summary: BatchSummary) -> None:
        if summary.kind == "site" or not (summary.inserted or summary.updated):
            return
        report = run_detection(engine, settings)
        logger.info(
            "detection after batch %s: %d flags created, %d updated",
            summary.batch_id,
            report.created,
            report.updated,
        )

    _AFTER_INGEST.append(on_ingested(detect_after))

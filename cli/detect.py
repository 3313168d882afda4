"""Detection: ``detect`` (and back-tests with ``--since``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cli._common import configured_engine, emit, parse_iso

if TYPE_CHECKING:
    pass


def cmd_detect(args: argparse.Namespace) -> int:
    """Detect significant clusters near sites and store them as flags (or back-test a period)."""
    from jobs.detection import run_detection
    from settings import get_settings

    engine = configured_engine()
    report = run_detection(
        engine,
        get_settings(),
        since=args.since,
        until=args.until,
        step_days=args.step_days,
        store=not args.dry_run,
    )
    lines = [
        f"{len(report.windows)} window(s), {report.events_read} events read, "
        f"{report.tests} neighbourhoods tested, {report.clusters} clusters, "
        f"{report.candidates} near sites; flags created {report.created}, updated "
        f"{report.updated}, unchanged {report.unchanged}, reopened {report.reopened} "
        f"in {report.seconds:.2f} s",
        *(f"  [{f['priority']:5.1f}] {f['summary']}" for f in report.flags),
    ]
    emit(args, report.to_dict(), "\n".join(lines))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the detect commands to ``sub``."""
    det = sub.add_parser(
        "detect", help="flag significant clusters near sites (back-test with --since)"
    )
    det.add_argument("--since", type=parse_iso, help="back-test: windows from this time (UTC)")
    det.add_argument("--until", type=parse_iso, help="end of the last window (default: newest)")
    det.add_argument("--step-days", type=float, help="back-test step (default: one window)")
    det.add_argument("--dry-run", action="store_true", help="report, but store no flags")
    det.add_argument("--json", action="store_true", help="print one JSON object")
    det.set_defaults(func=cmd_detect)

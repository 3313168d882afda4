"""Watchfloor's command line: wiring only; every command calls one function of the project.

Run ``python manage.py --help`` for the subcommands.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

logger = logging.getLogger("watchfloor.cli")


def _engine():  # type: ignore[no-untyped-def]
    from settings import get_settings
    from store.engine import get_engine

    s = get_settings()
    return get_engine(s.database_url, s.spatialite_path)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the configured database to the newest schema."""
    from store.migrate import upgrade

    version = upgrade(_engine(), args.revision)
    _emit(args, {"schema_version": version}, f"schema at version {version}")
    return 0


def cmd_db_version(args: argparse.Namespace) -> int:
    """Print the schema version of the configured database."""
    from store.migrate import schema_version

    version = schema_version(_engine())
    _emit(
        args, {"schema_version": version}, f"schema version: {version or 'none (run db upgrade)'}"
    )
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    """Load the shipped demo kit (files already loaded are skipped)."""
    from data_loaders.demo import seed_demo
    from settings import get_settings
    from store.migrate import upgrade

    engine = _engine()
    upgrade(engine)
    summaries = seed_demo(engine, get_settings())
    lines = [
        f"{s.origin}: already loaded"
        if s.already_loaded
        else f"{s.origin}: read {s.rows_read}, inserted {s.inserted}, updated {s.updated}, "
        f"unchanged {s.unchanged}, quarantined {s.quarantined} {s.reasons or ''}".rstrip()
        for s in summaries
    ]
    _emit(args, {"batches": [s.to_dict() for s in summaries]}, "\n".join(lines))
    return 0


def _parse_iso(value: str):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def cmd_detect(args: argparse.Namespace) -> int:
    """Detect significant clusters near sites and store them as flags (or back-test a period)."""
    from jobs.detection import run_detection
    from settings import get_settings

    engine = _engine()
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
    _emit(args, report.to_dict(), "\n".join(lines))
    return 0


def _emit(args: argparse.Namespace, payload: dict[str, object], text: str) -> None:
    out = json.dumps(payload, default=str) if getattr(args, "json", False) else text
    sys.stdout.write(out + "\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="manage.py",
        description="Watchfloor command line (configuration from the environment).",
    )
    parser.add_argument("--log-level", default=None, help="override WATCHFLOOR_LOG_LEVEL")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="schema migrations (Alembic)")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="migrate to the newest schema (or --revision)")
    up.add_argument("--revision", default="head")
    up.add_argument("--json", action="store_true", help="print one JSON object")
    up.set_defaults(func=cmd_db_upgrade)
    ver = db_sub.add_parser("version", help="print the current schema version")
    ver.add_argument("--json", action="store_true", help="print one JSON object")
    ver.set_defaults(func=cmd_db_version)

    seed = sub.add_parser("seed-demo", help="load the demo kit (idempotent)")
    seed.add_argument("--json", action="store_true", help="print one JSON object")
    seed.set_defaults(func=cmd_seed_demo)

    det = sub.add_parser(
        "detect", help="flag significant clusters near sites (back-test with --since)"
    )
    det.add_argument("--since", type=_parse_iso, help="back-test: windows from this time (UTC)")
    det.add_argument("--until", type=_parse_iso, help="end of the last window (default: newest)")
    det.add_argument("--step-days", type=float, help="back-test step (default: one window)")
    det.add_argument("--dry-run", action="store_true", help="report, but store no flags")
    det.add_argument("--json", action="store_true", help="print one JSON object")
    det.set_defaults(func=cmd_detect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; known failures print a message and exit non-zero, no traceback."""
    args = build_parser().parse_args(argv)
    try:
        from settings import get_settings

        level = args.log_level or get_settings().log_level
    except ValidationError as exc:
        sys.stderr.write(f"error: invalid configuration:\n{exc}\n")
        return 2
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s:%(lineno)d %(message)s"
    )
    func: Callable[[argparse.Namespace], int] = args.func
    from data_loaders.errors import IngestError
    from store.errors import StoreError

    try:
        return func(args)
    except (IngestError, StoreError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())

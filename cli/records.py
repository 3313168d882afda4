"""Records kept and let go: ``audit export``, ``purge``, ``exports cleanup``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cli._common import configured_engine, emit

if TYPE_CHECKING:
    pass


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Write the audit log as CSV (to --output or standard output); the export is audited."""
    from datetime import datetime

    from domain.roles import Viewer
    from security import audit
    from store.engine import session_scope

    since = datetime.fromisoformat(args.since) if args.since else None
    if since is not None and since.tzinfo is None:
        from datetime import UTC

        since = since.replace(tzinfo=UTC)
    with session_scope(configured_engine()) as session:
        rows = audit.entries(session=session, since=since)
        audit.record(
            session=session,
            viewer=Viewer.system(),
            action="audit.export",
            object=args.output or "stdout",
            details={"rows": len(rows), "format": "csv"},
        )
        body = audit.to_csv(rows)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as fh:
            fh.write(body)
        sys.stderr.write(f"{len(rows)} audit entries written to {args.output}\n")
    else:
        sys.stdout.write(body)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """List the records past their review date and the session records no cookie can name;
    delete them with --apply (the records audited)."""
    from domain.roles import Viewer
    from security.retention import prune_sessions, purge
    from settings import get_settings
    from store.base import utcnow
    from store.engine import session_scope

    now, hours = utcnow(), get_settings().session_max_hours
    with session_scope(configured_engine()) as session:
        due = purge(session=session, viewer=Viewer.system(), now=now, apply=args.apply)
        sessions = prune_sessions(session=session, now=now, max_hours=hours, apply=args.apply)
    verb = "purged" if args.apply else "due for review (dry run; --apply purges)"
    lines = [f"{len(due)} records {verb}"] + [
        f"  {d.source_agency}/{d.external_id} {d.kind} occurred {d.occurred_at:%Y-%m-%d} "
        f"review {d.review_at:%Y-%m-%d}"
        for d in due
    ]
    lines.append(f"{sessions} session records older than {hours:g} h {verb.split(' (')[0]}")
    payload = {"applied": args.apply, "records": [vars(d) for d in due], "sessions": sessions}
    emit(args, payload, "\n".join(lines))
    return 0


def cmd_exports_cleanup(args: argparse.Namespace) -> int:
    """Delete dashboard export jobs (files and rows) older than the retention period."""
    from jobs.exports import cleanup_expired_jobs
    from settings import get_settings

    settings = get_settings()
    deleted = cleanup_expired_jobs(engine=configured_engine(), settings=settings)
    emit(
        args,
        {"deleted": deleted, "retention_hours": settings.export_retention_hours},
        f"{deleted} export job(s) older than {settings.export_retention_hours:g} h deleted "
        f"from {settings.export_dir}",
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the audit, purge, exports commands to ``sub``."""
    aud = sub.add_parser("audit", help="the audit log")
    aud_sub = aud.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    exp = aud_sub.add_parser("export", help="write the audit log as CSV")
    exp.add_argument("--output", help="file to write (default: standard output)")
    exp.add_argument("--since", help="ISO date or time (UTC unless given)")
    exp.set_defaults(func=cmd_audit_export)

    purge = sub.add_parser("purge", help="records past their review date (dry run by default)")
    purge.add_argument("--apply", action="store_true", help="delete them (audited)")
    purge.add_argument("--json", action="store_true", help="print one JSON object")
    purge.set_defaults(func=cmd_purge)

    jobs = sub.add_parser("exports", help="the dashboard's export job files")
    jobs_sub = jobs.add_subparsers(dest="exports_command", required=True, metavar="ACTION")
    clean = jobs_sub.add_parser(
        "cleanup", help="delete job files older than WATCHFLOOR_EXPORT_RETENTION_HOURS"
    )
    clean.add_argument("--json", action="store_true", help="print one JSON object")
    clean.set_defaults(func=cmd_exports_cleanup)

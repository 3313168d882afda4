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


def cmd_users_add(args: argparse.Namespace) -> int:
    """Create a user; the password comes from stdin or is a printed one-time password."""
    from security.roles import Viewer
    from security.users import add_user
    from store.engine import session_scope

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    with session_scope(_engine()) as session:
        user, otp = add_user(
            session=session,
            actor=Viewer.system(),
            username=args.name,
            role=args.role,
            agency=args.agency,
            password=password,
        )
        payload = {"username": user.username, "role": user.role, "agency": user.agency}
    text = f"user {args.name} added"
    if otp:
        payload["one_time_password"] = otp
        text += f"; one-time password (must be changed at first sign-in): {otp}"
    _emit(args, payload, text)
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    """Disable (or with --enable, enable again) a user; their sessions end."""
    from security.roles import Viewer
    from security.users import set_disabled
    from store.engine import session_scope

    with session_scope(_engine()) as session:
        set_disabled(
            session=session, actor=Viewer.system(), username=args.name, disabled=not args.enable
        )
    state = "enabled" if args.enable else "disabled"
    _emit(args, {"username": args.name, "state": state}, f"user {args.name} {state}")
    return 0


def cmd_users_reset(args: argparse.Namespace) -> int:
    """Give a user a new one-time password, unlock them and end their sessions."""
    from security.roles import Viewer
    from security.users import reset_password
    from store.engine import session_scope

    with session_scope(_engine()) as session:
        otp = reset_password(session=session, actor=Viewer.system(), username=args.name)
    _emit(
        args,
        {"username": args.name, "one_time_password": otp},
        f"user {args.name} reset; one-time password (must be changed at sign-in): {otp}",
    )
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    """List the users with role, agency and state."""
    from security.users import list_users
    from store.engine import session_scope

    with session_scope(_engine()) as session:
        rows = [
            {
                "username": u.username,
                "role": u.role,
                "agency": u.agency,
                "disabled": u.disabled,
                "demo": u.is_demo,
                "must_change_password": u.must_change_password,
                "locked_until": u.locked_until,
                "last_sign_in_at": u.last_sign_in_at,
            }
            for u in list_users(session=session)
        ]
    text = "\n".join(
        f"{r['username']:<24} {r['role']:<14} {r['agency']:<16}"
        + (" disabled" if r["disabled"] else "")
        + (" demo" if r["demo"] else "")
        for r in rows
    )
    _emit(args, {"users": rows}, text or "no users")
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Write the audit log as CSV (to --output or standard output); the export is audited."""
    from datetime import datetime

    from security import audit
    from security.roles import Viewer
    from store.engine import session_scope

    since = datetime.fromisoformat(args.since) if args.since else None
    if since is not None and since.tzinfo is None:
        from datetime import UTC

        since = since.replace(tzinfo=UTC)
    with session_scope(_engine()) as session:
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
    """List the records past their review date; delete them with --apply (audited)."""
    from security.retention import purge
    from security.roles import Viewer
    from store.base import utcnow
    from store.engine import session_scope

    with session_scope(_engine()) as session:
        due = purge(session=session, viewer=Viewer.system(), now=utcnow(), apply=args.apply)
    verb = "purged" if args.apply else "due for review (dry run; --apply purges)"
    lines = [f"{len(due)} records {verb}"] + [
        f"  {d.source_agency}/{d.external_id} {d.kind} occurred {d.occurred_at:%Y-%m-%d} "
        f"review {d.review_at:%Y-%m-%d}"
        for d in due
    ]
    _emit(args, {"applied": args.apply, "records": [vars(d) for d in due]}, "\n".join(lines))
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

    users = sub.add_parser("users", help="user accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_sub.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, help="watch_officer, command, analyst, ...")
    add.add_argument("--agency", required=True)
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else print a one-time one)",
    )
    add.set_defaults(func=cmd_users_add)
    dis = users_sub.add_parser("disable", help="disable a user (ends their sessions)")
    dis.add_argument("name")
    dis.add_argument("--enable", action="store_true", help="enable the user again")
    dis.set_defaults(func=cmd_users_disable)
    reset = users_sub.add_parser("reset", help="new one-time password, unlock")
    reset.add_argument("name")
    reset.set_defaults(func=cmd_users_reset)
    lst = users_sub.add_parser("list", help="list users")
    lst.set_defaults(func=cmd_users_list)
    for p in (add, dis, reset, lst):
        p.add_argument("--json", action="store_true", help="print one JSON object")

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
    from security.users import AccountError
    from store.errors import StoreError

    try:
        return func(args)
    except (IngestError, StoreError, AccountError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())

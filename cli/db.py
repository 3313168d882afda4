"""Schema and demo data: ``db upgrade``, ``db version``, ``seed-demo``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cli._common import configured_engine, emit

if TYPE_CHECKING:
    pass


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the configured database to the newest schema."""
    from store.migrate import upgrade

    version = upgrade(configured_engine(), args.revision)
    emit(args, {"schema_version": version}, f"schema at version {version}")
    return 0


def cmd_db_version(args: argparse.Namespace) -> int:
    """Print the schema version of the configured database."""
    from store.migrate import schema_version

    version = schema_version(configured_engine())
    emit(args, {"schema_version": version}, f"schema version: {version or 'none (run db upgrade)'}")
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    """Load the shipped demo kit (files already loaded are skipped)."""
    from data_loaders.demo import seed_demo
    from settings import get_settings
    from store.migrate import upgrade

    engine = configured_engine()
    upgrade(engine)
    summaries = seed_demo(engine, get_settings())
    lines = [
        f"{s.origin}: already loaded"
        if s.already_loaded
        else f"{s.origin}: read {s.rows_read}, inserted {s.inserted}, updated {s.updated}, "
        f"unchanged {s.unchanged}, quarantined {s.quarantined} {s.reasons or ''}".rstrip()
        for s in summaries
    ]
    emit(args, {"batches": [s.to_dict() for s in summaries]}, "\n".join(lines))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the db, seed-demo commands to ``sub``."""
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

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


def cmd_export(args: argparse.Namespace) -> int:
    """Export filtered layers for a viewer (the host agency's analyst unless told otherwise)."""
    from pathlib import Path

    from exports.service import build_filter, export_layers
    from security.roles import Role, Viewer
    from settings import get_settings
    from store.engine import session_scope

    settings = get_settings()
    filters = build_filter(
        since=args.since,
        until=args.until,
        bbox=args.bbox,
        categories=args.categories,
        agencies=args.agencies,
        caveats=args.caveats,
    )
    viewer = Viewer(args.user, Role(args.role), args.agency or settings.host_agency)
    with session_scope(_engine()) as session:
        result = export_layers(
            [args.layer],
            args.format,
            Path(args.output),
            session=session,
            viewer=viewer,
            filters=filters,
            res=args.res,
        )
    text = (
        f"wrote {', '.join(str(p) for p in result.paths)}: rows {result.rows}, "
        f"marking {result.metadata['handling']}"
    )
    _emit(args, {"paths": [str(p) for p in result.paths], **result.metadata}, text)
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

    from exports.formats import FORMATS
    from exports.service import EXPORT_LAYERS

    exp = sub.add_parser("export", help="export a filtered layer (or all) to a GIS format")
    exp.add_argument("--layer", required=True, choices=[*EXPORT_LAYERS, "all"])
    exp.add_argument("--format", required=True, choices=list(FORMATS))
    exp.add_argument("-o", "--output", required=True, help="output file")
    exp.add_argument("--since", help="ISO date/time (UTC unless an offset is given)")
    exp.add_argument("--until", help="ISO date/time, exclusive")
    exp.add_argument("--bbox", help="west,south,east,north in degrees")
    exp.add_argument("--categories", help="comma-separated categories")
    exp.add_argument("--agencies", help="comma-separated source agencies")
    exp.add_argument("--caveats", help="comma-separated handling caveats")
    exp.add_argument("--res", type=int, default=8, help="H3 resolution of the hexes layer")
    exp.add_argument("--user", default="cli", help="who exports (recorded in the metadata)")
    exp.add_argument("--role", default="analyst", help="the exporter's role (what they may see)")
    exp.add_argument("--agency", default=None, help="the exporter's agency (default: host agency)")
    exp.add_argument("--json", action="store_true", help="print one JSON object")
    exp.set_defaults(func=cmd_export)
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
    except (IngestError, StoreError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())

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


_COLUMN_FLAGS = ("id", "lat", "lon", "location", "geometry", "time", "category", "description")
_FIELD_OF_FLAG = {"id": "external_id", "time": "occurred_at"}


def cmd_ingest(args: argparse.Namespace) -> int:
    """Import one partner file as one batch; exit 1 when nothing could be read."""
    from data_loaders.cli import run_ingest
    from settings import get_settings

    overrides = {
        _FIELD_OF_FLAG.get(flag, flag): value
        for flag in _COLUMN_FLAGS
        if (value := getattr(args, f"{flag}_column"))
    }
    summary, text = run_ingest(
        _engine(),
        get_settings(),
        args.path,
        kind=args.kind,
        source=args.source,
        profile=args.profile,
        timezone=args.timezone,
        time_format=args.time_format,
        overrides=overrides,
        sector=args.sector,
        crs=args.crs,
        use_area=not args.no_area,
        show_progress=not args.quiet,
    )
    _emit(args, summary.to_dict(), text)
    return 0 if summary.rows_read > 0 else 1


def cmd_apikeys_create(args: argparse.Namespace) -> int:
    """Create an API key for an agency and print it once."""
    from security.apikeys import create_key
    from store.engine import session_scope

    with session_scope(_engine()) as session:
        key, record = create_key(session=session, agency=args.agency, label=args.label)
        prefix = record.prefix
    _emit(
        args,
        {"agency": args.agency, "key": key, "prefix": prefix},
        f"API key for {args.agency} (shown once, store it safely):\n{key}",
    )
    return 0


def cmd_apikeys_revoke(args: argparse.Namespace) -> int:
    """Revoke an API key by its prefix."""
    from security.apikeys import revoke_key
    from store.engine import session_scope

    with session_scope(_engine()) as session:
        n = revoke_key(session=session, prefix=args.prefix)
    _emit(args, {"revoked": n}, f"revoked {n} key(s)")
    return 0 if n else 1


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

    ing = sub.add_parser(
        "ingest",
        help="import a partner file (CSV/TSV, GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ)",
        description="Import one file as one batch. Without --profile, a shipped profile of the "
        "source is used when it fits the file, else the columns are recognised by name.",
    )
    ing.add_argument("path", help="the file")
    ing.add_argument("--kind", required=True, choices=["suspicious", "incident", "site"])
    ing.add_argument("--source", required=True, help="the source agency, e.g. BPD")
    ing.add_argument("--profile", help="a mapping profile: a YAML file or a shipped name")
    ing.add_argument("--timezone", default=None, help="zone of naive times (the center's)")
    ing.add_argument(
        "--time-format", help="strftime format of every time, e.g. %%d/%%m/%%Y %%H:%%M"
    )
    ing.add_argument("--crs", help="CRS of a spatial file without one, e.g. EPSG:26986")
    ing.add_argument("--sector", help="DHS sector of every site (files without a sector column)")
    for flag in _COLUMN_FLAGS:
        ing.add_argument(f"--{flag}-column", metavar="NAME", help=f"the {flag} column")
    ing.add_argument("--no-area", action="store_true", help="accept rows outside the area")
    ing.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    ing.add_argument("--json", action="store_true", help="print one JSON object")
    ing.set_defaults(func=cmd_ingest)

    keys = sub.add_parser("apikeys", help="partner API keys (stored hashed)")
    keys_sub = keys.add_subparsers(dest="apikeys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="create a key for AGENCY and print it once")
    create.add_argument("agency")
    create.add_argument("--label", default="", help="what the key is for")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(func=cmd_apikeys_create)
    revoke = keys_sub.add_parser("revoke", help="revoke the key(s) with this prefix")
    revoke.add_argument("prefix")
    revoke.add_argument("--json", action="store_true", help="print one JSON object")
    revoke.set_defaults(func=cmd_apikeys_revoke)
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
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: nothing of the running batch was kept\n")
        return 130
    except Exception as exc:  # last resort: a message, the traceback only in the debug log
        logger.debug("command failed", exc_info=True)
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())

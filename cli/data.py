"""Getting data in: ``ingest`` (as the system or ``--as USER``) and ``replay``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cli._common import configured_engine, emit

if TYPE_CHECKING:
    from domain.roles import Viewer

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
        configured_engine(),
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
        importer=_importer(args.as_user),
        channel="cli",
    )
    emit(args, summary.to_dict(), text)
    return 0 if summary.rows_read > 0 else 1


def _importer(username: str | None) -> Viewer:
    """The viewer an import runs as: the named, enabled user, else the system (the operator)."""
    from domain.roles import Viewer
    from security.users import AccountError, get_user, viewer_of
    from store.engine import session_scope

    if not username:
        return Viewer.system()
    with session_scope(configured_engine()) as session:
        user = get_user(session=session, username=username)
        if user is None or user.disabled:
            raise AccountError(f"no enabled user {username!r}")
        return viewer_of(user)


def cmd_replay(args: argparse.Namespace) -> int:
    """Feed a historic file as if it were arriving live (drills, demonstrations, load tests)."""
    from data_loaders.replay import replay_file
    from settings import get_settings
    from store.migrate import upgrade

    engine = configured_engine()
    upgrade(engine)
    report = replay_file(
        engine,
        get_settings(),
        args.path,
        source=args.source,
        speed=args.speed,
        kind=args.kind,
        run=args.run,
        profile=args.profile,
        batch_rows=args.batch_rows,
        interval_s=args.interval,
        limit=args.limit,
    )
    text = (
        f"replay {report.run}: {report.events:,} events in {report.batches:,} batches, "
        f"inserted {report.inserted:,}, unchanged {report.unchanged:,}, "
        f"quarantined {report.quarantined:,} {report.reasons or ''} in {report.seconds:.1f} s"
    )
    emit(args, report.to_dict(), text.rstrip())
    return 0 if report.events else 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ingest, replay commands to ``sub``."""
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
    ing.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        help="import as this user: its sources and write rule apply (default: the system)",
    )
    ing.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    ing.add_argument("--json", action="store_true", help="print one JSON object")
    ing.set_defaults(func=cmd_ingest)

    rep = sub.add_parser(
        "replay",
        help="feed a historic file as if live (times become now, ids replay-RUN:...)",
        description="Feed PATH through the normal ingest path in small batches, each event "
        "when its turn comes at --speed historic seconds per second; its time becomes the "
        "moment it is fed and its id replay-RUN:<id>, so drills never collide with real records.",
    )
    rep.add_argument("path", help="the historic file")
    rep.add_argument("--source", required=True, help="the source agency, e.g. BPD")
    rep.add_argument("--speed", type=float, default=60.0, help="historic seconds per second")
    rep.add_argument("--kind", default="incident", choices=["suspicious", "incident"])
    rep.add_argument("--profile", help="a mapping profile: a YAML file or a shipped name")
    rep.add_argument("--run", help="the run's name in the ids (default: the start time)")
    rep.add_argument("--batch-rows", type=int, default=500, help="most events per batch")
    rep.add_argument("--interval", type=float, default=1.0, help="seconds between batches")
    rep.add_argument("--limit", type=int, help="feed only the first N events in time")
    rep.add_argument("--json", action="store_true", help="print one JSON object")
    rep.set_defaults(func=cmd_replay)

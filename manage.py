"""Watchfloor's command line: wiring only; every command calls one function of the project.

Run ``python manage.py --help`` for the subcommands.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

if TYPE_CHECKING:
    from domain.roles import Viewer

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

    from domain.roles import Role, Viewer
    from exports.service import build_filter, export_layers
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
    from dataclasses import replace

    from layers.selection import area_from_option
    from security.audit import record

    with session_scope(_engine()) as session:
        area_name = None
        if args.area:
            shape, area_name = area_from_option(args.area, session=session, viewer=viewer)
            filters = replace(filters, area=shape)
        result = export_layers(
            [args.layer],
            args.format,
            Path(args.output),
            session=session,
            viewer=viewer,
            filters=filters,
            res=args.res,
            area_name=area_name,
        )
        # 28 CFR 23.20(e): every dissemination is recorded (who, what, when).
        record(
            session=session,
            viewer=viewer,
            action="export",
            object=str(args.output),
            details={"layers": [args.layer], "format": args.format, **result.metadata},
        )
    text = (
        f"wrote {', '.join(str(p) for p in result.paths)}: rows {result.rows}, "
        f"marking {result.metadata['handling']}"
    )
    _emit(args, {"paths": [str(p) for p in result.paths], **result.metadata}, text)
    return 0


def cmd_hazards_import(args: argparse.Namespace) -> int:
    """Import hurricane best tracks (HURDAT2) as hazard footprints."""
    from data_loaders.hazards import import_hurdat2

    loads = import_hurdat2(_engine(), args.path, storms=args.storm or None, wind=args.wind)
    _emit(
        args,
        {"areas": [vars(load) for load in loads]},
        "\n".join(
            f"{'new' if x.created else 'updated'}: {x.name} (area {x.area_id})" for x in loads
        ),
    )
    return 0


def cmd_regions_import(args: argparse.Namespace) -> int:
    """Import region polygons (counties, districts, ...) from a GIS file."""
    from data_loaders.hazards import import_regions

    loads = import_regions(
        _engine(),
        args.path,
        subtype=args.subtype,
        name_field=args.name_field,
        id_field=args.id_field,
        source=args.source,
    )
    _emit(args, {"areas": [vars(load) for load in loads]}, f"{len(loads)} regions loaded")
    return 0


def cmd_areas_list(args: argparse.Namespace) -> int:
    """List regions and hazards."""
    from domain.roles import Viewer
    from store.engine import session_scope
    from store.queries.areas import list_areas

    with session_scope(_engine()) as session:
        frame = list_areas(session=session, viewer=Viewer.system(), kind=args.kind)
    _emit(args, {"areas": frame.to_dict(orient="records")}, frame.to_string(index=False))
    return 0


def _area_request(args: argparse.Namespace, area_name: str):  # type: ignore[no-untyped-def]
    """Return (settings, window, viewer, area_id) for a region command; bad input: ValueError."""
    from domain.roles import Role, Viewer
    from exports.service import build_filter
    from settings import get_settings
    from store.engine import session_scope
    from store.queries.areas import find_area

    settings = get_settings()
    window = build_filter(since=args.since, until=args.until).window
    if window is None:
        raise ValueError("give --since and/or --until for the window")
    viewer = Viewer(args.user, Role(args.role), args.agency or settings.host_agency)
    with session_scope(_engine()) as session:
        area_id = find_area(session=session, viewer=viewer, name=area_name)
    if area_id is None:
        raise ValueError(f"no single area called {area_name!r} (see: manage.py areas list)")
    return settings, window, viewer, area_id


def cmd_region_summary(args: argparse.Namespace) -> int:
    """Print the regional picture of an area for a window against the window before."""
    from reports.regional import regional_picture
    from store.engine import session_scope

    _, window, viewer, area_id = _area_request(args, args.area)
    with session_scope(_engine()) as session:
        summary = regional_picture(session=session, viewer=viewer, area_id=area_id, window=window)
    payload = {
        "area": args.area,
        "window": [window.start_at.isoformat(), window.end_at.isoformat()],
        "totals": summary.totals,
        "categories": summary.categories.to_dict(orient="records"),
        "sites": summary.sites.to_dict(orient="records"),
        "busiest_cells": summary.busiest.to_dict(orient="records"),
    }
    text = "\n\n".join(
        [
            f"{args.area}: {summary.totals}",
            summary.categories.to_string(index=False),
            summary.sites.to_string(index=False),
            summary.busiest.to_string(index=False),
        ]
    )
    _emit(args, payload, text)
    return 0


def cmd_briefing(args: argparse.Namespace) -> int:
    """Write the briefing of an area and window as PDF (or HTML when -o ends in .html)."""
    from pathlib import Path

    from reports.briefing import build_briefing, write_pdf
    from security.audit import record
    from store.engine import session_scope

    settings, window, viewer, area_id = _area_request(args, args.region)
    with session_scope(_engine()) as session:
        briefing = build_briefing(
            session=session, viewer=viewer, area_id=area_id, window=window, tz=settings.timezone
        )
        record(
            session=session,
            viewer=viewer,
            action="briefing",
            object=str(args.output),
            details={"area": args.region, "marking": briefing.marking, **briefing.totals},
        )
    out = Path(args.output)
    if out.suffix.lower() in (".html", ".htm"):
        out.write_text(briefing.html, encoding="utf-8")
    else:
        write_pdf(briefing.html, out)
    _emit(
        args,
        {"path": str(out), "title": briefing.title, "marking": briefing.marking, **briefing.totals},
        f"wrote {out}: {briefing.title}, marking {briefing.marking}",
    )
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
        importer=_importer(args.as_user),
        channel="cli",
    )
    _emit(args, summary.to_dict(), text)
    return 0 if summary.rows_read > 0 else 1


def _importer(username: str | None) -> Viewer:
    """The viewer an import runs as: the named, enabled user, else the system (the operator)."""
    from domain.roles import Viewer
    from security.users import AccountError, get_user, viewer_of
    from store.engine import session_scope

    if not username:
        return Viewer.system()
    with session_scope(_engine()) as session:
        user = get_user(session=session, username=username)
        if user is None or user.disabled:
            raise AccountError(f"no enabled user {username!r}")
        return viewer_of(user)


def cmd_apikeys_create(args: argparse.Namespace) -> int:
    """Create an API key for an agency and print it once."""
    from domain.roles import Viewer
    from security.apikeys import create_key
    from security.audit import record
    from store.engine import session_scope

    with session_scope(_engine()) as session:
        key, stored = create_key(session=session, agency=args.agency, label=args.label)
        prefix = stored.prefix
        record(
            session=session,
            viewer=Viewer.system(),
            action="key.add",
            object=prefix,
            details={"agency": args.agency, "label": args.label},
        )
    _emit(
        args,
        {"agency": args.agency, "key": key, "prefix": prefix},
        f"API key for {args.agency} (shown once, store it safely):\n{key}",
    )
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    """Create a user; the password comes from stdin or is a printed one-time password."""
    from domain.roles import Viewer
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
    from domain.roles import Viewer
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
    from domain.roles import Viewer
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


def cmd_replay(args: argparse.Namespace) -> int:
    """Feed a historic file as if it were arriving live (drills, demonstrations, load tests)."""
    from data_loaders.replay import replay_file
    from settings import get_settings
    from store.migrate import upgrade

    engine = _engine()
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
    _emit(args, report.to_dict(), text.rstrip())
    return 0 if report.events else 1


def cmd_apikeys_revoke(args: argparse.Namespace) -> int:
    """Revoke an API key by its prefix."""
    from domain.roles import Viewer
    from security.apikeys import revoke_key
    from security.audit import record
    from store.engine import session_scope

    with session_scope(_engine()) as session:
        n = revoke_key(session=session, prefix=args.prefix)
        record(
            session=session,
            viewer=Viewer.system(),
            action="key.revoke",
            object=args.prefix,
            outcome="ok" if n else "error",
            details={"revoked": n},
        )
    _emit(args, {"revoked": n}, f"revoked {n} key(s)")
    return 0 if n else 1


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

    from domain.roles import Viewer
    from security import audit
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
    from domain.roles import Viewer
    from security.retention import purge
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


def cmd_exports_cleanup(args: argparse.Namespace) -> int:
    """Delete dashboard export jobs (files and rows) older than the retention period."""
    from jobs.exports import cleanup_expired_jobs
    from settings import get_settings

    settings = get_settings()
    deleted = cleanup_expired_jobs(engine=_engine(), settings=settings)
    _emit(
        args,
        {"deleted": deleted, "retention_hours": settings.export_retention_hours},
        f"{deleted} export job(s) older than {settings.export_retention_hours:g} h deleted "
        f"from {settings.export_dir}",
    )
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

    from domain.export_names import EXPORT_LAYERS, FORMATS

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
    exp.add_argument(
        "--area", help="region:NAME, hazard:NAME or wkt:POLYGON((lon lat, ...)) (inside only)"
    )
    exp.add_argument("--res", type=int, default=8, help="H3 resolution of the hexes layer")
    exp.add_argument("--user", default="cli", help="who exports (recorded in the metadata)")
    exp.add_argument("--role", default="analyst", help="the exporter's role (what they may see)")
    exp.add_argument("--agency", default=None, help="the exporter's agency (default: host agency)")
    exp.add_argument("--json", action="store_true", help="print one JSON object")
    exp.set_defaults(func=cmd_export)

    hz = sub.add_parser("hazards", help="hazard footprints")
    hz_sub = hz.add_subparsers(dest="hazards_command", required=True, metavar="ACTION")
    hz_imp = hz_sub.add_parser("import", help="import a HURDAT2 best-track file")
    hz_imp.add_argument("path")
    hz_imp.add_argument("--storm", action="append", help="storm id or name (repeatable)")
    hz_imp.add_argument("--wind", default="r34", choices=["r34", "r50", "r64"])
    hz_imp.add_argument("--json", action="store_true", help="print one JSON object")
    hz_imp.set_defaults(func=cmd_hazards_import)

    rg = sub.add_parser("regions", help="region polygons")
    rg_sub = rg.add_subparsers(dest="regions_command", required=True, metavar="ACTION")
    rg_imp = rg_sub.add_parser("import", help="import polygons from GeoJSON/GPKG/Shapefile/KML")
    rg_imp.add_argument("path")
    rg_imp.add_argument("--subtype", required=True, help="e.g. county, police_district")
    rg_imp.add_argument("--name-field", required=True)
    rg_imp.add_argument("--id-field", default=None)
    rg_imp.add_argument("--source", default="LOCAL")
    rg_imp.add_argument("--json", action="store_true", help="print one JSON object")
    rg_imp.set_defaults(func=cmd_regions_import)

    ar = sub.add_parser("areas", help="regions and hazards")
    ar_sub = ar.add_subparsers(dest="areas_command", required=True, metavar="ACTION")
    ar_list = ar_sub.add_parser("list", help="list regions and hazards")
    ar_list.add_argument("--kind", choices=["region", "hazard"])
    ar_list.add_argument("--json", action="store_true", help="print one JSON object")
    ar_list.set_defaults(func=cmd_areas_list)

    rs = sub.add_parser("region-summary", help="the regional picture of an area")
    rs.add_argument("--area", required=True, help="area name (see: areas list)")
    rs.add_argument("--since", help="ISO date/time (UTC unless an offset is given)")
    rs.add_argument("--until", help="ISO date/time, exclusive")
    rs.add_argument("--user", default="cli")
    rs.add_argument("--role", default="command")
    rs.add_argument("--agency", default=None)
    rs.add_argument("--json", action="store_true", help="print one JSON object")
    rs.set_defaults(func=cmd_region_summary)

    br = sub.add_parser("briefing", help="a briefing (PDF or HTML) of a region or hazard")
    br.add_argument("--region", required=True, help="area name (see: areas list)")
    br.add_argument("--since", help="ISO date/time (UTC unless an offset is given)")
    br.add_argument("--until", help="ISO date/time, exclusive")
    br.add_argument("-o", "--output", required=True, help="briefing.pdf or briefing.html")
    br.add_argument("--user", default="cli")
    br.add_argument("--role", default="command")
    br.add_argument("--agency", default=None)
    br.add_argument("--json", action="store_true", help="print one JSON object")
    br.set_defaults(func=cmd_briefing)

    det = sub.add_parser(
        "detect", help="flag significant clusters near sites (back-test with --since)"
    )
    det.add_argument("--since", type=_parse_iso, help="back-test: windows from this time (UTC)")
    det.add_argument("--until", type=_parse_iso, help="end of the last window (default: newest)")
    det.add_argument("--step-days", type=float, help="back-test step (default: one window)")
    det.add_argument("--dry-run", action="store_true", help="report, but store no flags")
    det.add_argument("--json", action="store_true", help="print one JSON object")
    det.set_defaults(func=cmd_detect)

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

    keys = sub.add_parser("apikeys", help="partner API keys (stored hashed)")
    keys_sub = keys.add_subparsers(dest="apikeys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="create a key for AGENCY and print it once")
    create.add_argument("agency")
    create.add_argument("--label", default="", help="what the key is for")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(func=cmd_apikeys_create)
    revoke = keys_sub.add_parser("revoke", help="revoke the key(s) with this prefix")
    revoke.add_argument(
        "prefix",
        help="the key's prefix (wf_PREFIX_...); one that begins with '-' goes after '--'",
    )
    revoke.add_argument("--json", action="store_true", help="print one JSON object")
    revoke.set_defaults(func=cmd_apikeys_revoke)

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

    jobs = sub.add_parser("exports", help="the dashboard's export job files")
    jobs_sub = jobs.add_subparsers(dest="exports_command", required=True, metavar="ACTION")
    clean = jobs_sub.add_parser(
        "cleanup", help="delete job files older than WATCHFLOOR_EXPORT_RETENTION_HOURS"
    )
    clean.add_argument("--json", action="store_true", help="print one JSON object")
    clean.set_defaults(func=cmd_exports_cleanup)
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
    from ops.logs import configure_logging

    configure_logging(level, get_settings().log_format)
    func: Callable[[argparse.Namespace], int] = args.func
    from jobs.detection import enable_detection_after_ingest

    enable_detection_after_ingest(get_settings())
    from data_loaders.errors import IngestError
    from reports.errors import BriefingError
    from security.users import AccountError
    from store.errors import StoreError

    try:
        return func(args)
    except (IngestError, StoreError, BriefingError, AccountError, ValueError) as exc:
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

"""What leaves the center: ``export``, ``region-summary``, ``briefing``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cli._common import configured_engine, emit

if TYPE_CHECKING:
    pass


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

    with session_scope(configured_engine()) as session:
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
    emit(args, {"paths": [str(p) for p in result.paths], **result.metadata}, text)
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
    with session_scope(configured_engine()) as session:
        area_id = find_area(session=session, viewer=viewer, name=area_name)
    if area_id is None:
        raise ValueError(f"no single area called {area_name!r} (see: manage.py areas list)")
    return settings, window, viewer, area_id


def cmd_region_summary(args: argparse.Namespace) -> int:
    """Print the regional picture of an area for a window against the window before."""
    from reports.regional import regional_picture
    from store.engine import session_scope

    _, window, viewer, area_id = _area_request(args, args.area)
    with session_scope(configured_engine()) as session:
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
    emit(args, payload, text)
    return 0


def cmd_briefing(args: argparse.Namespace) -> int:
    """Write the briefing of an area and window as PDF (or HTML when -o ends in .html)."""
    from pathlib import Path

    from reports.briefing import build_briefing, write_pdf
    from security.audit import record
    from store.engine import session_scope

    settings, window, viewer, area_id = _area_request(args, args.region)
    with session_scope(configured_engine()) as session:
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
    emit(
        args,
        {"path": str(out), "title": briefing.title, "marking": briefing.marking, **briefing.totals},
        f"wrote {out}: {briefing.title}, marking {briefing.marking}",
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the export, region-summary, briefing commands to ``sub``."""
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

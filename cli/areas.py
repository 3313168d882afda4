"""Regions and hazards: ``hazards import``, ``regions import``, ``areas list``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cli._common import configured_engine, emit

if TYPE_CHECKING:
    pass


def cmd_hazards_import(args: argparse.Namespace) -> int:
    """Import hurricane best tracks (HURDAT2) as hazard footprints."""
    from data_loaders.hazards import import_hurdat2

    loads = import_hurdat2(
        configured_engine(), args.path, storms=args.storm or None, wind=args.wind
    )
    emit(
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
        configured_engine(),
        args.path,
        subtype=args.subtype,
        name_field=args.name_field,
        id_field=args.id_field,
        source=args.source,
    )
    emit(args, {"areas": [vars(load) for load in loads]}, f"{len(loads)} regions loaded")
    return 0


def cmd_areas_list(args: argparse.Namespace) -> int:
    """List regions and hazards."""
    from domain.roles import Viewer
    from store.engine import session_scope
    from store.queries.areas import list_areas

    with session_scope(configured_engine()) as session:
        frame = list_areas(session=session, viewer=Viewer.system(), kind=args.kind)
    emit(args, {"areas": frame.to_dict(orient="records")}, frame.to_string(index=False))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the hazards, regions, areas commands to ``sub``."""
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

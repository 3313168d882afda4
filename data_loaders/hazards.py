"""Load areas: hurricane best tracks as hazard footprints, and region polygons from GIS files."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine

from analytics.hazards import parse_hurdat2, track_footprint
from data_loaders.errors import IngestError
from store.engine import session_scope
from store.writes import upsert_area

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AreaLoad:
    """One area written: its id, name and whether it was new."""

    area_id: int
    name: str
    created: bool


def _multipolygon(geom: BaseGeometry) -> MultiPolygon:
    geom = shapely.make_valid(geom)
    if isinstance(geom, MultiPolygon):
        return geom
    polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
    if not polys:
        raise IngestError(f"not a polygon: {geom.geom_type}")
    return MultiPolygon(polys)


def import_hurdat2(
    engine: Engine,
    path: str | Path,
    *,
    storms: list[str] | None = None,
    wind: str = "r34",
    fallback_km: dict[str, float] | None = None,
    source: str = "NHC",
) -> list[AreaLoad]:
    """Store each storm of a HURDAT2 file as a hazard footprint (swept wind radii).

    Parameters
    ----------
    engine
        Database.
    path
        HURDAT2 text file.
    storms
        Storm ids (``AL031991``) or names to keep; all when ``None``.
    wind
        Which radii sweep the footprint: ``r34`` (tropical-storm force), ``r50`` or ``r64``.
    fallback_km
        Radius by status for fixes without radii (see ``analytics.hazards``).
    source
        Source agency recorded for the areas.
    """
    try:
        fixes = parse_hurdat2(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IngestError(f"{Path(path).name}: not a readable HURDAT2 file: {exc}") from exc
    if storms:
        wanted = {s.upper() for s in storms}
        fixes = fixes[fixes["storm_id"].isin(wanted) | fixes["name"].str.upper().isin(wanted)]
        if fixes.empty:
            raise IngestError(f"no storm {sorted(wanted)} in {Path(path).name}")
    loads = []
    with session_scope(engine) as session:
        for storm_id, track in fixes.groupby("storm_id", sort=True):
            footprint = track_footprint(track, wind, fallback_km)
            name = f"{track['name'].iloc[0].title()} {track['time'].iloc[0].year}"
            values = {
                "kind": "hazard",
                "subtype": "hurricane_track",
                "name": name,
                "source_agency": source,
                "external_id": f"{storm_id}:{wind}",
                "handling": "TLP:CLEAR",
                "valid_from": track["time"].min().to_pydatetime(),
                "valid_to": track["time"].max().to_pydatetime(),
                "attributes": json.dumps(
                    {
                        "storm_id": storm_id,
                        "wind": wind,
                        "fixes": len(track),
                        "max_wind_kt": float(track["max_wind_kt"].max()),
                        "landfalls": int((track["record"] == "L").sum()),
                    }
                ),
                "geometry": f"SRID=4326;{footprint.wkt}",
            }
            area_id, created = upsert_area(session, values)
            loads.append(AreaLoad(area_id, name, created))
    logger.info("hazards from %s: %s", Path(path).name, [load.name for load in loads])
    return loads


def import_regions(
    engine: Engine,
    path: str | Path,
    *,
    subtype: str,
    name_field: str,
    source: str,
    id_field: str | None = None,
) -> list[AreaLoad]:
    """Store every polygon feature of a GIS file (GeoJSON, GPKG, Shapefile, KML) as a region."""
    try:
        gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio raises several DataSource errors
        raise IngestError(f"{Path(path).name}: GDAL cannot read it: {exc}") from exc
    if name_field not in gdf.columns:
        raise IngestError(f"{Path(path).name} has no field {name_field!r}: {list(gdf.columns)}")
    gdf = gpd.GeoDataFrame(gdf).to_crs(4326) if gdf.crs else gdf.set_crs(4326)
    loads = []
    with session_scope(engine) as session:
        for _, row in gdf.iterrows():
            if row.geometry is None or row.geometry.is_empty:
                continue
            key = str(row[id_field]) if id_field else str(row[name_field])
            values = {
                "kind": "region",
                "subtype": subtype,
                "name": str(row[name_field]),
                "source_agency": source,
                "external_id": f"{subtype}:{key}",
                "handling": "TLP:CLEAR",
                "geometry": f"SRID=4326;{_multipolygon(row.geometry).wkt}",
            }
            area_id, created = upsert_area(session, values)
            loads.append(AreaLoad(area_id, values["name"], created))
    return loads

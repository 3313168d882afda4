"""Read a partner file into a table of source strings plus, for spatial formats, coordinates.

CSV and TSV go through pandas' C parser (quoted newlines, any delimiter, UTF-8 with or without BOM,
Latin-1 as a fallback); spatial formats (GeoJSON, GeoPackage, zipped Shapefile, KML) go through
GDAL by way of pyogrio and are reprojected to EPSG:4326.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import shapely

from data_loaders.errors import IngestError

SPATIAL_SUFFIXES = {".geojson", ".json", ".gpkg", ".zip", ".shp", ".kml", ".kmz", ".fgb"}
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawTable:
    """Source rows as strings (missing values are ``""``) and, from spatial formats, points."""

    frame: pd.DataFrame
    lon: npt.NDArray[np.float64] | None = None
    lat: npt.NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return len(self.frame)


def read_table(path: str | Path) -> RawTable:
    """Read ``path`` by its suffix; raise :class:`IngestError` with a clear message if unreadable.

    Parameters
    ----------
    path
        A CSV/TSV file or any vector format GDAL reads.

    Returns
    -------
    RawTable
        All attribute values as strings; WGS84 points where the format has geometry.
    """
    p = Path(path)
    if not p.is_file():
        raise IngestError(f"no file at {p}")
    if p.stat().st_size == 0:
        raise IngestError(f"{p.name} is empty")
    suffix = p.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return _read_delimited(p)
    if suffix in SPATIAL_SUFFIXES:
        return _read_spatial(p)
    raise IngestError(
        f"{p.name}: unknown format {suffix!r}; use CSV/TSV, GeoJSON, GeoPackage, "
        "zipped Shapefile or KML/KMZ"
    )


def _decode(raw: bytes, name: str) -> str:
    if b"\x00" in raw[:_SNIFF_BYTES]:
        raise IngestError(f"{name} looks binary, not a delimited text file")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IngestError(f"{name}: cannot decode the text")  # pragma: no cover - latin-1 decodes all


def _read_delimited(path: Path) -> RawTable:
    text = _decode(path.read_bytes(), path.name)
    sample = text[:_SNIFF_BYTES]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            engine="c",
        )
    except pd.errors.EmptyDataError as exc:
        raise IngestError(f"{path.name} has no header row") from exc
    except pd.errors.ParserError as exc:
        raise IngestError(f"{path.name} is not valid delimited text: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return RawTable(frame=frame)


def _read_spatial(path: Path) -> RawTable:
    try:
        gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio raises several DataSourceError/DataLayerError kinds
        raise IngestError(f"{path.name}: GDAL cannot read it: {exc}") from exc
    if gdf.crs is None:
        raise IngestError(f"{path.name} has no coordinate reference system (.prj missing?)")
    if gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    geoms = gdf.geometry.to_numpy()
    # Non-point features stand for their representative point (always inside the shape).
    pts = shapely.point_on_surface(geoms)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    lon = np.where(empty, np.nan, shapely.get_x(pts))
    lat = np.where(empty, np.nan, shapely.get_y(pts))
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    frame = attrs.astype("string").fillna("").astype(str)
    return RawTable(frame=frame.reset_index(drop=True), lon=lon, lat=lat)

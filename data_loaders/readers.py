"""Read a partner file into a table of source strings plus, for spatial formats, coordinates.

CSV and TSV go through pandas' C parser (quoted newlines, any delimiter, UTF-8 with or without BOM,
Latin-1 as a fallback); spatial formats (GeoJSON, GeoPackage, zipped Shapefile, KML) go through
GDAL by way of pyogrio and are reprojected to EPSG:4326.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import shapely

from data_loaders.errors import IngestError, named_only

SPATIAL_SUFFIXES = {".geojson", ".json", ".gpkg", ".zip", ".shp", ".kml", ".kmz", ".fgb"}
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
_SNIFF_BYTES = 64 * 1024
# Rows per chunk: bounds memory whatever the file size (two chunks are in flight at most).
CHUNK_ROWS = 50_000
_SKIPPED = re.compile(r"Skipping line (\d+): (.*)")


@dataclass(frozen=True)
class RawTable:
    """Source rows as strings (missing values are ``""``) and, from spatial formats, points.

    ``malformed`` holds, per row, why the reader could not split the line (``None`` where it
    could); such rows carry no values and are quarantined.
    """

    frame: pd.DataFrame
    lon: npt.NDArray[np.float64] | None = None
    lat: npt.NDArray[np.float64] | None = None
    malformed: npt.NDArray[np.object_] | None = None

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class FileInfo:
    """What one pass over a file tells before it is parsed."""

    sha256: str
    size: int
    encoding: str | None  # text files: how to decode them


def inspect_file(path: str | Path) -> FileInfo:
    """Hash the file and, for text, check it is text and find its encoding, in one pass.

    Raises
    ------
    IngestError
        When the file is missing, empty, of an unknown format or binary where text is expected.
    """
    p = Path(path)
    if not p.is_file():
        raise IngestError(f"no file at {p}")
    size = p.stat().st_size
    if size == 0:
        raise IngestError(f"{p.name} is empty")
    suffix = p.suffix.lower()
    if suffix not in TEXT_SUFFIXES | SPATIAL_SUFFIXES:
        raise IngestError(
            f"{p.name}: unknown format {suffix!r}; use CSV/TSV, GeoJSON, GeoPackage, "
            "zipped Shapefile or KML/KMZ"
        )
    text = suffix in TEXT_SUFFIXES
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    with p.open("rb") as fh:
        first = True
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            if text and first and b"\x00" in block[:_SNIFF_BYTES]:
                raise IngestError(f"{p.name} looks binary, not a delimited text file")
            first = False
            if text and utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
    encoding = None
    if text:
        # Not UTF-8: Windows-1252 (a superset of Latin-1's printable range) is what such files are.
        encoding = "utf-8-sig" if utf8 else "cp1252"
    return FileInfo(sha256=digest.hexdigest(), size=size, encoding=encoding)


def read_table(path: str | Path, *, crs: str | None = None) -> RawTable:
    """Read a whole file (small files, tests); big files go through :func:`iter_tables`.

    Parameters
    ----------
    path
        A CSV/TSV file or any vector format GDAL reads.
    crs
        The coordinate reference system of a spatial file that does not state its own.

    Returns
    -------
    RawTable
        All attribute values as strings; WGS84 points where the format has geometry.
    """
    chunks = list(iter_tables(path, crs=crs))
    if len(chunks) == 1:
        return chunks[0]
    frame = pd.concat([c.frame for c in chunks], ignore_index=True)
    lon = lat = malformed = None
    if chunks[0].lon is not None:
        lon = np.concatenate([c.lon for c in chunks if c.lon is not None])
        lat = np.concatenate([c.lat for c in chunks if c.lat is not None])
    if any(c.malformed is not None for c in chunks):
        malformed = np.concatenate([_malformed_of(c) for c in chunks])
    return RawTable(frame=frame, lon=lon, lat=lat, malformed=malformed)


def _malformed_of(table: RawTable) -> npt.NDArray[np.object_]:
    if table.malformed is not None:
        return table.malformed
    return np.full(len(table), None, dtype=object)


def iter_tables(
    path: str | Path,
    *,
    chunk_rows: int = CHUNK_ROWS,
    info: FileInfo | None = None,
    crs: str | None = None,
) -> Iterator[RawTable]:
    """Read ``path`` by its suffix in chunks of at most ``chunk_rows`` rows.

    Raises
    ------
    IngestError
        With a clear message when the file cannot be read at all.
    """
    p = Path(path)
    info = info or inspect_file(p)
    if p.suffix.lower() in TEXT_SUFFIXES:
        yield from _read_delimited(p, info, chunk_rows)
    else:
        yield from _read_spatial_pages(p, crs, chunk_rows)


# Formats GDAL pages through cheaply (random access by feature index); others are read whole,
# as GDAL itself loads a GeoJSON or KML file whole anyway.
_PAGED_SUFFIXES = {".gpkg", ".fgb", ".shp", ".zip"}


def _read_spatial_pages(path: Path, crs: str | None, chunk_rows: int) -> Iterator[RawTable]:
    source = _spatial_source(path)
    total = None
    if path.suffix.lower() in _PAGED_SUFFIXES:
        try:
            total = int(pyogrio.read_info(source)["features"])
        except Exception:  # unreadable: the read below says why
            total = None
    if total is None or total <= chunk_rows:
        table = _read_spatial(path, crs)
        for start in range(0, max(len(table), 1), chunk_rows):
            part = slice(start, start + chunk_rows)
            yield RawTable(
                frame=table.frame.iloc[part].reset_index(drop=True),
                lon=None if table.lon is None else table.lon[part],
                lat=None if table.lat is None else table.lat[part],
            )
        return
    for start in range(0, total, chunk_rows):
        yield _read_spatial(path, crs, skip=start, limit=chunk_rows)


def _sniff_delimiter(path: Path, encoding: str) -> str:
    with path.open("rb") as fh:
        sample = fh.read(_SNIFF_BYTES).decode(encoding, errors="replace")
    # Sniff whole lines only: a cut last line misleads the sniffer.
    sample = sample.rsplit("\n", 1)[0] if "\n" in sample else sample
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        if path.suffix.lower() in {".tsv", ".tab"} or sample.count("\t") > sample.count(","):
            return "\t"
        return ","


def _read_delimited(path: Path, info: FileInfo, chunk_rows: int) -> Iterator[RawTable]:
    encoding = info.encoding or "utf-8-sig"
    delimiter = _sniff_delimiter(path, encoding)
    with path.open("rb") as fh:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                reader = pd.read_csv(
                    fh,
                    sep=delimiter,
                    dtype=str,
                    keep_default_na=False,
                    skip_blank_lines=True,
                    engine="c",
                    encoding=encoding,
                    encoding_errors="replace",
                    on_bad_lines="warn",
                    chunksize=chunk_rows,
                )
                columns: list[str] | None = None
                for chunk in reader:
                    columns = [str(c).strip() for c in chunk.columns]
                    chunk.columns = columns
                    table = _with_malformed(chunk, caught)
                    caught.clear()
                    yield table
                if columns is None:  # pragma: no cover - pandas yields one empty chunk
                    yield RawTable(frame=pd.DataFrame())
        except pd.errors.EmptyDataError as exc:
            raise IngestError(f"{path.name} has no header row") from exc
        except pd.errors.ParserError as exc:
            raise IngestError(f"{path.name} is not valid delimited text: {exc}") from exc


def _with_malformed(chunk: pd.DataFrame, caught: list[warnings.WarningMessage]) -> RawTable:
    """Add one empty row per line the parser skipped, carrying why (so nothing is lost)."""
    details = [
        f"line {m.group(1)}: {m.group(2).strip()}"
        for w in caught
        for line in str(w.message).splitlines()
        if (m := _SKIPPED.match(line.strip()))
    ]
    frame = chunk.reset_index(drop=True)
    if not details:
        return RawTable(frame=frame)
    extra = pd.DataFrame([[""] * len(frame.columns)] * len(details), columns=frame.columns)
    malformed = np.array([None] * len(frame) + details, dtype=object)
    return RawTable(frame=pd.concat([frame, extra], ignore_index=True), malformed=malformed)


def _spatial_source(path: Path) -> str | Path:
    if path.suffix.lower() != ".kmz":
        return path
    try:  # a KMZ is a zipped KML (doc.kml by convention)
        with zipfile.ZipFile(path) as zf:
            inner = next(n for n in zf.namelist() if n.lower().endswith(".kml"))
    except (zipfile.BadZipFile, StopIteration) as exc:
        raise IngestError(f"{path.name} is not a KMZ (a zip holding a .kml file)") from exc
    return f"/vsizip/{path}/{inner}"


def _read_spatial(
    path: Path, crs: str | None, *, skip: int = 0, limit: int | None = None
) -> RawTable:
    source = _spatial_source(path)
    try:
        gdf = pyogrio.read_dataframe(source, skip_features=skip, max_features=limit)
    except Exception as exc:  # pyogrio raises several DataSourceError/DataLayerError kinds
        raise IngestError(
            f"{path.name}: GDAL cannot read it: {named_only(str(exc), path)}"
        ) from exc
    if not hasattr(gdf, "crs"):  # GDAL read a table without geometry, e.g. a CSV in a zip
        raise IngestError(f"{path.name} holds no geometries; import a CSV file as .csv, not zipped")
    if gdf.crs is None:
        if crs is None:
            raise IngestError(
                f"{path.name} has no coordinate reference system (.prj missing?); "
                "give it with --crs, e.g. --crs EPSG:26986"
            )
        gdf = gdf.set_crs(crs)
    if gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    geoms = gdf.geometry.to_numpy()
    # Non-point features stand for their representative point (always inside the shape).
    empty = shapely.is_missing(geoms)
    empty[~empty] = shapely.is_empty(geoms[~empty])
    lon = np.full(len(geoms), np.nan)
    lat = np.full(len(geoms), np.nan)
    if (~empty).any():
        pts = shapely.point_on_surface(geoms[~empty])
        lon[~empty] = shapely.get_x(pts)
        lat[~empty] = shapely.get_y(pts)
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    frame = attrs.astype("string").fillna("").astype(str)
    return RawTable(frame=frame.reset_index(drop=True), lon=lon, lat=lat)

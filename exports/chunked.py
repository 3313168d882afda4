"""Write export layers to disk chunk by chunk: memory holds one chunk, whatever the row count.

The files are the ones :func:`exports.formats.write_layers` writes for the same rows (names, zip
layout, sidecars, metadata inside): GeoJSON and CSV through the stream writers of
:mod:`exports.stream` (which read back to the same rows as GDAL's), GeoPackage and Shapefile by
appending each chunk through GDAL (pyogrio ``append=True``). KML and KMZ, which have no append
in GDAL, through one GDAL write fed by an Arrow stream that pulls the chunks as GDAL asks for
them (``pyogrio.write_arrow`` of a ``pyarrow.RecordBatchReader``).
"""

from __future__ import annotations

import json
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from domain.export_names import ExportFormat
from exports.csvsafe import LINE_END, safe_frame
from exports.formats import (
    DBF_MAX_CHARS,
    MULTI_LAYER,
    SHAPEFILE_NAMES,
    SUFFIX,
    _text_times,  # one time convention for every writer
    _write_single,
    kml_frame,
    sidecar_path,
    write_kmz,
)
from exports.stream import csv_chunks, geojson_chunks

# A layer's rows, produced lazily one GeoDataFrame (EPSG:4326) per chunk; at least one chunk.
ChunkSource = Callable[[], Iterable[gpd.GeoDataFrame]]


def write_layers_chunked(
    layers: dict[str, ChunkSource],
    fmt: ExportFormat,
    path: Path,
    metadata: dict[str, Any],
) -> list[Path]:
    """Write one or more layers, each read chunk by chunk, to ``path`` in ``fmt``.

    Parameters
    ----------
    layers
        Layer name -> a callable returning that layer's chunks (called once, when the layer's
        turn comes, so a database read starts only then).
    fmt
        Output format.
    path
        Output file. Several layers in a single-layer format go into a zip of one file per layer
        (each with its sidecar), as :func:`exports.formats.write_layers` does.
    metadata
        Export metadata; it must be complete before the first row (GeoJSON carries it first).

    Returns
    -------
    list of pathlib.Path
        The files written (output and sidecar).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    if len(layers) > 1 and fmt not in MULTI_LAYER:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, source in layers.items():
                member = path.parent / f"{name}{SUFFIX[fmt]}"
                files = write_layers_chunked(
                    {name: source}, fmt, member, {**metadata, "layer": name}
                )
                for part in files:
                    zf.write(part, part.name)
                    part.unlink()
    elif fmt == "gpkg":
        for name, source in layers.items():
            _append_gdal(source(), path, name=name, driver="GPKG", metadata=metadata)
    else:
        ((name, source),) = layers.items()
        _write_single_chunked(name, source(), fmt, path, metadata)
    sidecar = sidecar_path(path)
    sidecar.write_text(json.dumps(metadata, indent=2, default=str))
    return [path, sidecar]


def _write_single_chunked(
    name: str,
    frames: Iterable[gpd.GeoDataFrame],
    fmt: ExportFormat,
    path: Path,
    metadata: dict[str, Any],
) -> None:
    if fmt in ("geojson", "csv"):
        pieces = geojson_chunks(frames, metadata, name=name) if fmt == "geojson" else None
        with path.open("wb") as out:
            for piece in pieces if pieces is not None else csv_chunks(frames):
                out.write(piece)
    elif fmt == "shp":
        _write_shapefile_chunked(name, frames, path, metadata)
    else:  # KML, KMZ: GDAL's KML driver cannot append; one write, fed chunk by chunk
        _write_kml_streamed(name, frames, fmt, path, metadata)


def _kml_table(frame: gpd.GeoDataFrame) -> pa.Table:
    """Return one chunk as the Arrow table GDAL's KML writer takes (geometry as WKB)."""
    data = pd.DataFrame(kml_frame(_text_times(frame)), copy=False)
    data["geometry"] = shapely.to_wkb(frame.geometry.to_numpy())
    return pa.Table.from_pandas(data, preserve_index=False)


def _write_kml_streamed(
    name: str,
    frames: Iterable[gpd.GeoDataFrame],
    fmt: ExportFormat,
    path: Path,
    metadata: dict[str, Any],
) -> None:
    """Write a KML (or KMZ) whose memory holds one chunk: GDAL pulls the chunks as it writes.

    The layer's schema is the first non-empty chunk's, with all-missing columns as text (GDAL
    has no null field type; pyogrio does the same); later chunks are cast to it. A layer with
    no rows at all is written as :func:`exports.formats.write_layers` writes it.
    """
    chunks = iter(frames)
    first: gpd.GeoDataFrame | None = None
    last: gpd.GeoDataFrame | None = None
    for frame in chunks:
        last = frame
        if not frame.empty:
            first = frame
            break
    if first is None:
        assert last is not None, "a chunk source yields at least one chunk"
        _write_single(name, gpd.GeoDataFrame(last, crs="EPSG:4326"), fmt, path, metadata)
        return
    head = _kml_table(first)
    schema = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in head.schema]
    )
    kinds = first.geometry.geom_type.dropna().unique()
    geometry_type = str(kinds[0]) if len(kinds) == 1 else "Unknown"

    def batches() -> Iterator[pa.RecordBatch]:
        yield from head.cast(schema).to_batches()
        for frame in chunks:
            if not frame.empty:
                yield from _kml_table(frame).cast(schema).to_batches()

    kml_path = path if fmt == "kml" else path.with_name(f"{path.stem}.doc.kml")
    kml_path.unlink(missing_ok=True)
    pyogrio.write_arrow(
        pa.RecordBatchReader.from_batches(schema, batches()),
        kml_path,
        layer=name,
        driver="KML",
        geometry_name="geometry",
        geometry_type=geometry_type,
        crs="EPSG:4326",
    )
    if fmt == "kmz":
        write_kmz(kml_path, path, metadata)
        kml_path.unlink()


def _append_gdal(
    frames: Iterable[gpd.GeoDataFrame],
    path: Path,
    *,
    name: str,
    driver: str,
    metadata: dict[str, Any] | None = None,
    **options: Any,  # Any: pyogrio passes these on to GDAL as-is
) -> int:
    """Write ``frames`` into one layer of ``path``, the first creating it; return the rows."""
    rows = 0
    created = False
    for frame in frames:
        if created and frame.empty:
            continue
        extra: dict[str, Any] = {}
        if not created and metadata is not None:
            extra["layer_metadata"] = {"watchfloor": json.dumps({**metadata, "layer": name})}
        pyogrio.write_dataframe(
            _text_times(frame),
            path,
            layer=name,
            driver=driver,
            append=created or (driver == "GPKG" and path.exists()),
            **extra,
            **options,
        )
        created = True
        rows += len(frame)
    return rows


def _write_shapefile_chunked(
    name: str, frames: Iterable[gpd.GeoDataFrame], path: Path, metadata: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        shp = Path(tmp) / f"{name}.shp"
        overflow = Path(tmp) / f"{name}.long_fields.csv"
        long_fields: dict[str, str] = {}

        def renamed() -> Iterator[gpd.GeoDataFrame]:
            fid = 0
            for frame in frames:
                long_fields.update(_dbf_overflow_chunk(frame, overflow, fid))
                fid += len(frame)
                yield frame.rename(
                    columns={
                        c: SHAPEFILE_NAMES.get(c, c[:10]) for c in frame.columns if c != "geometry"
                    }
                )

        # Long text is cut by the .dbf; it is kept whole in the sidecar CSV, so GDAL's warning
        # about the cut is expected here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*truncated to 254 characters")
            _append_gdal(
                renamed(),
                shp,
                name=name,
                driver="ESRI Shapefile",
                layer_options={"ENCODING": "UTF-8"},
            )
        layer_meta = {**metadata, "dbf_long_fields": long_fields} if long_fields else metadata
        (Path(tmp) / f"{name}.metadata.json").write_text(
            json.dumps(layer_meta, indent=2, default=str)
        )
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(tmp).iterdir()):
                zf.write(part, part.name)


def _dbf_overflow_chunk(frame: gpd.GeoDataFrame, path: Path, first_fid: int) -> dict[str, str]:
    """Append this chunk's rows with text longer than a dBASE field to ``path``; return the note.

    Like :func:`exports.formats._dbf_overflow`, the full text is kept beside the Shapefile, keyed
    by ``fid`` (0-based feature order across all chunks). Which columns will overflow is known
    only at the end, so the CSV holds every text column, and only the rows that overflow.
    """
    texts = {
        c: frame[c].astype("string")
        for c in frame.columns
        if c != "geometry" and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]))
    }
    long = [c for c, v in texts.items() if (v.str.len().fillna(0) > DBF_MAX_CHARS).any()]
    if not long:
        return {}
    columns = sorted(texts)
    chunk = pd.DataFrame({"fid": range(first_fid, first_fid + len(frame))})
    for c in columns:
        chunk[c] = texts[c].to_numpy()
    mask = pd.concat([texts[c].str.len().fillna(0) > DBF_MAX_CHARS for c in long], axis=1).any(
        axis=1
    )
    chunk = chunk[mask.to_numpy()]
    safe_frame(chunk).to_csv(
        path, index=False, mode="a", header=not path.exists(), lineterminator=LINE_END
    )
    note = f"cut to {DBF_MAX_CHARS} characters in the .dbf; full text in {path.name}"
    return dict.fromkeys(long, note)

"""Serialise export frames chunk by chunk as GeoJSON or CSV text, for streamed HTTP answers.

The output reads back (GDAL/pyogrio) to the same rows, columns and values as the file writers of
``exports.formats`` give for the same frames: times as ISO 8601 UTC text, GeoJSON coordinates
rounded to 7 decimals (RFC 7946 as GDAL writes it), attributes at full precision, CSV geometry
as a first ``WKT`` column.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

import geopandas as gpd
import shapely

from exports.csvsafe import LINE_END, safe_row
from exports.formats import _text_times  # one time convention for files and streams

# GDAL's GeoJSON writer in RFC 7946 mode keeps 7 decimals (about 1 cm).
COORDINATE_DECIMALS = 7


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _records(frame: gpd.GeoDataFrame) -> list[list[Any]]:
    """Return the attribute rows as plain Python values (None for missing), times as text."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    data = _text_times(frame)[columns].astype(object)
    # Whole-column conversion: object columns hold Python ints, floats and strings already.
    rows: list[list[Any]] = data.where(data.notna(), None).to_numpy().tolist()
    return rows


def feature_texts(frame: gpd.GeoDataFrame, ids: Iterable[Any] | None = None) -> list[str]:
    """Return each row of ``frame`` as GeoJSON Feature text (with ``id`` when ``ids`` is given)."""
    if frame.empty:
        return []
    columns = [c for c in frame.columns if c != frame.geometry.name]
    geoms = shapely.to_geojson(
        shapely.set_precision(frame.geometry.to_numpy(), 10**-COORDINATE_DECIMALS)
    )
    fids = [None] * len(frame) if ids is None else list(ids)
    out = []
    for values, geom, fid in zip(_records(frame), geoms, fids, strict=True):
        props = json.dumps(dict(zip(columns, values, strict=True)), default=str)
        head = "" if fid is None else f'"id": {json.dumps(_plain(fid))}, '
        out.append(f'{{"type": "Feature", {head}"properties": {props}, "geometry": {geom}}}')
    return out


def geojson_chunks(
    frames: Iterable[gpd.GeoDataFrame], metadata: dict[str, Any], *, name: str
) -> Iterator[bytes]:
    """Yield a GeoJSON FeatureCollection (with a ``watchfloor`` metadata member) in pieces.

    Parameters
    ----------
    frames
        The layer's rows in EPSG:4326, one GeoDataFrame per chunk (consumed lazily).
    metadata
        The export metadata (``exports.service.export_metadata``).
    name
        Layer name (the collection's ``name`` member, as GDAL writes it).
    """
    head = {"type": "FeatureCollection", "name": name, "watchfloor": metadata}
    yield (json.dumps(head, default=str)[:-1] + ', "features": [\n').encode()
    first = True
    for frame in frames:
        if frame.empty:
            continue
        text = ",\n".join(feature_texts(frame))
        yield (text if first else ",\n" + text).encode()
        first = False
    yield b"\n]}\n"


def csv_chunks(frames: Iterable[gpd.GeoDataFrame]) -> Iterator[bytes]:
    """Yield CSV text: a header, then ``WKT`` and the attributes per row, chunk by chunk.

    The header is written with the first chunk; an answer without rows is a header only when the
    first (empty) chunk still names the columns. Text cells that a spreadsheet would run as a
    formula get a leading ``'`` (:func:`exports.csvsafe.safe_cell`).
    """
    header_done = False
    for frame in frames:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator=LINE_END)
        columns = [c for c in frame.columns if c != frame.geometry.name]
        if not header_done:
            writer.writerow(["WKT", *safe_row(columns)])
            header_done = True
        wkts = shapely.to_wkt(frame.geometry.to_numpy(), rounding_precision=-1)
        for values, wkt in zip(_records(frame), wkts, strict=True):
            # Partner text could be a spreadsheet formula: neutralised (exports.csvsafe).
            writer.writerow([wkt, *("" if v is None else v for v in safe_row(values))])
        yield out.getvalue().encode()

"""Write GeoDataFrames to GeoJSON, CSV, GeoPackage, zipped Shapefile and KML/KMZ through GDAL.

Each file carries its metadata (filters, data time, who exported it, the most restrictive handling
caveat of its rows) inside where the format allows it, and in a ``.metadata.json`` sidecar always:
GeoJSON as a ``watchfloor`` member of the FeatureCollection, GeoPackage in its metadata tables, CSV,
Shapefile and KML in the sidecar (inside the zip for Shapefile and KMZ).

Notes
-----
In KML, ``description`` is written as ``narrative`` and a site's ``name`` as ``site_name``; the
placemark label (``<name>``) is the site name or the external id. Column names survive each
format's limits in a documented way: Shapefile (dBASE) names are cut to 10 characters through
:data:`SHAPEFILE_NAMES`, and Shapefile and KML have no date-time type, so times are written as
ISO 8601 text in UTC in every format, one convention for all.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from domain.export_names import FORMATS, ExportFormat
from exports.csvsafe import LINE_END, safe_frame

SUFFIX: dict[str, str] = {
    "geojson": ".geojson",
    "csv": ".csv",
    "gpkg": ".gpkg",
    "shp": ".zip",
    "kml": ".kml",
    "kmz": ".kmz",
}
# dBASE field names hold at most 10 characters.
SHAPEFILE_NAMES: dict[str, str] = {
    "external_id": "ext_id",
    "source_agency": "src_agency",
    "source_category": "src_categ",
    "occurred_at": "occurred",
    "reported_at": "reported",
    "location_text": "location",
    "description": "descriptn",
    "protection_radius_m": "prot_rad_m",
    "severity_sum": "sev_sum",
    "suspicious": "suspicious",
    "h3_cell": "h3_cell",
}
MULTI_LAYER: frozenset[str] = frozenset({"gpkg"})


def sidecar_path(path: Path) -> Path:
    """Return the metadata sidecar next to ``path`` (``name.metadata.json``)."""
    return path.with_name(path.name + ".metadata.json")


def _text_times(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype(object)
            out.loc[frame[col].isna(), col] = None
    return out


def write_layers(
    layers: dict[str, gpd.GeoDataFrame],
    fmt: ExportFormat,
    path: Path,
    metadata: dict[str, Any],
) -> list[Path]:
    """Write one or more layers to ``path`` in ``fmt``; return every file written.

    Parameters
    ----------
    layers
        Layer name -> GeoDataFrame in EPSG:4326.
    fmt
        Output format.
    path
        Output file. Several layers in a single-layer format go into a zip of one file per layer.
    metadata
        Export metadata (filters, data time, exporter, handling); written inside and as a sidecar.

    Returns
    -------
    list of pathlib.Path
        The files written (output and sidecar).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(layers) > 1 and fmt not in MULTI_LAYER:
        return _write_zip_of_layers(layers, fmt, path, metadata)
    if fmt == "gpkg":
        path.unlink(missing_ok=True)
        for name, frame in layers.items():
            pyogrio.write_dataframe(
                _text_times(frame),
                path,
                layer=name,
                driver="GPKG",
                append=path.exists(),
                layer_metadata={"watchfloor": json.dumps({**metadata, "layer": name})},
            )
        written = [path]
    else:
        ((name, frame),) = layers.items()
        written = _write_single(name, frame, fmt, path, metadata)
    sidecar = sidecar_path(path)
    sidecar.write_text(json.dumps(metadata, indent=2, default=str))
    return [*written, sidecar]


def _write_single(
    name: str, frame: gpd.GeoDataFrame, fmt: ExportFormat, path: Path, metadata: dict[str, Any]
) -> list[Path]:
    frame = _text_times(frame)
    path.unlink(missing_ok=True)
    if fmt == "geojson":
        pyogrio.write_dataframe(
            frame,
            path,
            driver="GeoJSON",
            layer=name,
            layer_options={
                "RFC7946": "YES",
                # Attributes keep full double precision so a re-import is byte-for-byte the same.
                "SIGNIFICANT_FIGURES": "17",
                "FOREIGN_MEMBERS_COLLECTION": json.dumps({"watchfloor": metadata}, default=str),
            },
        )
    elif fmt == "csv":
        # Partner text could be a spreadsheet formula: neutralised (exports.csvsafe).
        pyogrio.write_dataframe(
            safe_frame(frame), path, driver="CSV", layer=name, layer_options={"GEOMETRY": "AS_WKT"}
        )
    elif fmt in ("kml", "kmz"):
        kml_path = path if fmt == "kml" else Path(tempfile.mkdtemp()) / "doc.kml"
        # The Arrow path matches fields by name (see kml_frame).
        pyogrio.write_dataframe(
            kml_frame(frame), kml_path, driver="KML", layer=name, use_arrow=True
        )
        if fmt == "kmz":
            write_kmz(kml_path, path, metadata)
            shutil.rmtree(kml_path.parent)
    elif fmt == "shp":
        renamed = frame.rename(
            columns={c: SHAPEFILE_NAMES.get(c, c[:10]) for c in frame.columns if c != "geometry"}
        )
        with tempfile.TemporaryDirectory() as tmp:
            shp = Path(tmp) / f"{name}.shp"
            # Long text is cut by the .dbf; it is kept whole in a sidecar, so GDAL's warning
            # about the cut is expected here.
            long_fields = _dbf_overflow(frame, Path(tmp) / f"{name}.long_fields.csv")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*truncated to 254 characters")
                pyogrio.write_dataframe(
                    renamed, shp, driver="ESRI Shapefile", layer_options={"ENCODING": "UTF-8"}
                )
            layer_meta = {**metadata, "dbf_long_fields": long_fields} if long_fields else metadata
            (Path(tmp) / f"{name}.metadata.json").write_text(
                json.dumps(layer_meta, indent=2, default=str)
            )
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(Path(tmp).iterdir()):
                    zf.write(part, part.name)
    return [path]


def kml_frame(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return ``frame`` (times already text) with the columns GDAL's KML layer expects.

    GDAL's KML layer puts its own Name and Description fields first, which shifts every value
    pyogrio writes by field index; the Arrow path matches fields by name instead. "Name" becomes
    each placemark's <name> (the label in Google Earth); our own ``name`` and ``description``
    are renamed so they do not collide with those two.
    """
    label = frame["name"] if "name" in frame.columns else frame[frame.columns[0]]
    frame = frame.rename(columns={"description": "narrative", "name": "site_name"})
    frame.insert(0, "Name", label.astype(str).to_numpy())
    return frame


def write_kmz(kml_path: Path, path: Path, metadata: dict[str, Any]) -> None:
    """Zip ``kml_path`` as ``doc.kml`` with the metadata into the KMZ ``path``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(kml_path, "doc.kml")
        zf.writestr("metadata.json", json.dumps(metadata, indent=2, default=str))


DBF_MAX_CHARS = 254  # a dBASE text field holds at most 254 characters


def _dbf_overflow(frame: gpd.GeoDataFrame, path: Path) -> dict[str, str]:
    """Write text columns longer than a dBASE field to ``path`` (CSV by row); return the note.

    A Shapefile cuts such values (a flag's ``h3_cells`` list, a long narrative); the full text
    goes beside it, keyed by ``fid`` (the Shapefile's 0-based feature order), so nothing is lost.
    """
    texts = {
        c: frame[c].astype("string")
        for c in frame.columns
        if c != "geometry" and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]))
    }
    long = [c for c, v in texts.items() if (v.str.len().fillna(0) > DBF_MAX_CHARS).any()]
    if not long:
        return {}
    long_text = pd.DataFrame({"fid": range(len(frame)), **{c: texts[c] for c in long}})
    safe_frame(long_text).to_csv(path, index=False, lineterminator=LINE_END)
    note = f"cut to {DBF_MAX_CHARS} characters in the .dbf; full text in {path.name}"
    return dict.fromkeys(long, note)


def _write_zip_of_layers(
    layers: dict[str, gpd.GeoDataFrame], fmt: ExportFormat, path: Path, metadata: dict[str, Any]
) -> list[Path]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
    ):
        for name, frame in layers.items():
            member = Path(tmp) / f"{name}{SUFFIX[fmt]}"
            write_layers({name: frame}, fmt, member, {**metadata, "layer": name})
            zf.write(member, member.name)
            zf.write(sidecar_path(member), sidecar_path(member).name)
    sidecar = sidecar_path(path)
    sidecar.write_text(json.dumps(metadata, indent=2, default=str))
    return [path, sidecar]

"""The few SQL expressions that differ between SpatiaLite and PostGIS, and H3 in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, literal, text
from sqlalchemy.sql.elements import ColumnElement

from analytics.cells import parent_constants


def ensure_spatial_extension(conn: Connection) -> None:
    """Make sure the database has its spatial extension (PostGIS); SpatiaLite loads on connect."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))


def cell_parent_sql(cell: ColumnElement[Any], res: int) -> ColumnElement[int]:
    """Return SQL computing the H3 parent at ``res`` of a stored ``cell`` column.

    Notes
    -----
    Pure 64-bit integer arithmetic, identical on SQLite and PostgreSQL:
    ``(cell & keep) | add`` with the constants from :func:`analytics.cells.parent_constants`.
    """
    keep, add = parent_constants(res)
    return cell.op("&")(literal(keep)).op("|")(literal(add))  # type: ignore[no-any-return]


def point_wkt(lon: float, lat: float) -> str:
    """Return extended WKT of a WGS84 point, accepted by both backends."""
    return f"SRID=4326;POINT({lon!r} {lat!r})"


def point_sql(dialect: str, lon: str, lat: str) -> str:
    """Return SQL text building a WGS84 point from two numeric SQL expressions."""
    if dialect == "postgresql":
        return f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)"
    return f"MakePoint({lon}, {lat}, 4326)"

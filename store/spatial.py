"""The few SQL expressions that differ between SpatiaLite and PostGIS, and H3 in SQL."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    SQLColumnExpression,
    cast,
    func,
    literal,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from analytics.cells import parent_constants


def ensure_spatial_extension(conn: Connection) -> None:
    """Make sure the database has its spatial extension (PostGIS); SpatiaLite loads on connect."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))


def cell_parent_sql(cell: SQLColumnExpression[Any], res: int) -> ColumnElement[int]:
    """Return SQL computing the H3 parent at ``res`` of a stored ``cell`` column.

    Notes
    -----
    Pure 64-bit integer arithmetic, identical on SQLite and PostgreSQL:
    ``(cell & keep) | add`` with the constants from :func:`analytics.cells.parent_constants`.
    """
    keep, add = parent_constants(res)
    return cell.op("&")(literal(keep)).op("|")(literal(add))


def point_sql(dialect: str, lon: str, lat: str) -> str:
    """Return SQL text building a WGS84 point from two numeric SQL expressions."""
    if dialect == "postgresql":
        return f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)"
    return f"MakePoint({lon}, {lat}, 4326)"


def epoch_us_sql(column: SQLColumnExpression[Any], dialect: str) -> ColumnElement[int]:
    """Return SQL turning a stored UTC timestamp into exact integer microseconds since 1970.

    Notes
    -----
    PostgreSQL: ``extract(epoch ...)`` is ``numeric``, exact to the microsecond.
    SQLite stores naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLAlchemy's format): whole
    seconds from ``strftime('%s')`` plus the six fraction digits, both exact integers (a
    ``julianday`` float would lose microseconds and move events across window edges).
    """
    if dialect == "postgresql":
        return cast(func.extract("epoch", column) * 1_000_000, BigInteger)
    seconds = cast(func.strftime("%s", column), Integer)
    fraction = func.coalesce(cast(func.substr(column, 21, 6), Integer), 0)
    return cast(seconds * 1_000_000 + fraction, BigInteger)


def bulk_rows(conn: Connection, sql: str, names: list[str]) -> list[tuple[Any, ...]] | Any:
    """Run a plain SELECT for a bulk read: CSV text from PostgreSQL ``COPY``, rows from SQLite.

    Returns
    -------
    list or io.BytesIO
        SQLite: the DB-API rows. PostgreSQL: a buffer of CSV (header ``names``), several times
        faster to parse with ``pandas.read_csv`` than a million Python row tuples.
    """
    dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor()  # type: ignore[union-attr]
    try:
        if conn.dialect.name == "postgresql":
            buf = io.BytesIO()
            buf.write((",".join(names) + "\n").encode())
            with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                for block in copy:
                    buf.write(block)
            buf.seek(0)
            return buf
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()

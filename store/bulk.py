"""Bulk upsert of canonical rows through a staging table: COPY on PostGIS, executemany on SQLite.

The rows of a chunk go into a temporary staging table in one bulk statement; one set-based
``INSERT ... SELECT ... ON CONFLICT (source_agency, external_id) DO UPDATE ... WHERE the content
changed`` then moves them in. The counts (new, changed, unchanged) come from one join before it,
and the previous content of changed events is kept as revisions. Nothing here commits.

Notes
-----
This is the one module besides ``store/engine.py`` and ``store/spatial.py`` that looks at the
dialect: the bulk path into a staging table is dialect-specific by nature (PostgreSQL ``COPY``).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pandas as pd
from sqlalchemy import Table, bindparam, text
from sqlalchemy.orm import Session

from store.base import utcnow
from store.spatial import point_sql
from store.types import UTCDateTime

logger = logging.getLogger(__name__)

_STAGE = "wf_stage"
# SQLAlchemy's storage format for DATETIME on SQLite: staged text must match it exactly.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def staged_upsert(
    session: Session,
    table: Table,
    frame: pd.DataFrame,
    *,
    source_agency: str,
    batch_id: int,
    before_update: Callable[[list[int]], None] | None = None,
) -> tuple[int, int, int]:
    """Upsert ``frame`` (canonical rows with ``external_id`` and ``content_hash``) into ``table``.

    Parameters
    ----------
    session
        The open session of the batch; nothing is committed here.
    table
        ``events`` or ``sites``.
    frame
        Canonical columns only; ``lon``/``lat`` in EPSG:4326 degrees become the point geometry.
    source_agency, batch_id
        Stamped on every row.
    before_update
        Called with the ids of the rows about to change, before they change (revisions).

    Returns
    -------
    tuple
        ``(inserted, updated, unchanged)``.
    """
    if frame.empty:
        return 0, 0, 0
    conn = session.connection()
    dialect = conn.dialect.name
    columns = list(frame.columns)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_STAGE}")
    ddl = ", ".join(f"{c} {table.c[c].type.compile(dialect=conn.dialect)}" for c in columns)
    conn.exec_driver_sql(f"CREATE TEMP TABLE {_STAGE} ({ddl})")
    if dialect == "postgresql":
        _copy_postgres(session, columns, frame)
        conn.exec_driver_sql(f"ANALYZE {_STAGE}")
    else:
        _insert_sqlite(session, columns, frame)

    join = (
        f"FROM {_STAGE} s LEFT JOIN {table.name} t "
        "ON t.source_agency = :src AND t.external_id = s.external_id"
    )
    new, changed = conn.execute(
        text(
            "SELECT COALESCE(SUM(CASE WHEN t.id IS NULL THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN t.id IS NOT NULL AND t.content_hash <> s.content_hash "
            f"THEN 1 ELSE 0 END), 0) {join}"
        ),
        {"src": source_agency},
    ).one()
    if changed and before_update is not None:
        changed_ids = conn.execute(
            text(f"SELECT t.id {join} WHERE t.content_hash <> s.content_hash"),
            {"src": source_agency},
        ).scalars()
        before_update(list(changed_ids))
    updates = [c for c in columns if c != "external_id"]
    set_clause = ", ".join(
        f"{c} = excluded.{c}" for c in [*updates, "geometry", "batch_id", "updated_at"]
    )
    stmt = text(
        f"INSERT INTO {table.name} ({', '.join(columns)}, geometry, source_agency, batch_id, "
        f"created_at, updated_at) SELECT {', '.join('s.' + c for c in columns)}, "
        f"{point_sql(dialect, 's.lon', 's.lat')}, :src, :batch, :now, :now "
        f"FROM {_STAGE} s WHERE true ON CONFLICT (source_agency, external_id) DO UPDATE SET "
        f"{set_clause} WHERE {table.name}.content_hash <> excluded.content_hash"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    conn.execute(stmt, {"src": source_agency, "batch": batch_id, "now": utcnow()})
    conn.exec_driver_sql(f"DROP TABLE {_STAGE}")
    new, changed = int(new), int(changed)
    return new, changed, len(frame) - new - changed


def _plain(frame: pd.DataFrame, *, time_format: str | None) -> pd.DataFrame:
    """Object columns of Python values; times as text in the backend's format, NaN as None."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(col):
            stamp = pd.to_datetime(col, utc=True)
            out[name] = stamp.dt.strftime(time_format) if time_format else stamp
    return out.astype(object).where(out.notna(), None)


def _insert_sqlite(session: Session, columns: list[str], frame: pd.DataFrame) -> None:
    plain = _plain(frame, time_format=_SQLITE_TIME)
    rows = list(plain.itertuples(index=False, name=None))
    marks = ", ".join("?" * len(columns))
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    raw.cursor().executemany(f"INSERT INTO {_STAGE} ({', '.join(columns)}) VALUES ({marks})", rows)


def _copy_escape(col: pd.Series) -> pd.Series:
    """Escape text for COPY's text format (backslash, tab, newlines); PostgreSQL refuses NUL."""
    s = col.astype(str)
    for old, new in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\x00", "")):
        s = s.str.replace(old, new, regex=False)
    return s.where(col.notna(), None)


def _copy_postgres(session: Session, columns: list[str], frame: pd.DataFrame) -> None:
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(col):
            stamp = pd.to_datetime(col, utc=True)
            out[name] = stamp.dt.strftime("%Y-%m-%d %H:%M:%S.%f+00").where(stamp.notna(), None)
        elif col.dtype == object:
            out[name] = _copy_escape(col)
    buf = io.StringIO()
    # NUL never occurs in escaped text, so it is a safe "no quoting" character.
    out.to_csv(
        buf,
        sep="\t",
        header=False,
        index=False,
        na_rep="\\N",
        quoting=csv.QUOTE_NONE,
        quotechar="\x00",
        lineterminator="\n",
    )
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    with (
        raw.cursor() as cur,
        cur.copy(f"COPY {_STAGE} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        copy.write(buf.getvalue())


@contextmanager
def deferred_spatial_index(session: Session, table: str, *, enabled: bool) -> Iterator[None]:
    """On SpatiaLite, drop the R*Tree of ``table`` during a bulk load and rebuild it after.

    Building the index once after the load is about four times cheaper than keeping it live.
    The drop and the rebuild happen inside the batch's transaction, so a crash leaves the old
    index. On PostGIS (or when ``enabled`` is false) nothing changes.
    """
    conn = session.connection()
    if not enabled or conn.dialect.name != "sqlite":
        yield
        return
    started = datetime.now()
    conn.exec_driver_sql(f"SELECT DisableSpatialIndex('{table}', 'geometry')")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS idx_{table}_geometry")
    yield
    conn.exec_driver_sql(f"SELECT CreateSpatialIndex('{table}', 'geometry')")
    logger.info("spatial index of %s rebuilt (load + rebuild %s)", table, datetime.now() - started)

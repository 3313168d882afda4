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

import io
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, Table, bindparam, text
from sqlalchemy.orm import Session

from store.base import utcnow
from store.public_ids import new_public_ids
from store.rtree_pack import fill_point_rtree
from store.spatial import point_sql
from store.types import UTCDateTime

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

_STAGE = "wf_stage"
# Staged times on SQLite must match SQLAlchemy's DATETIME storage, "%Y-%m-%d %H:%M:%S.%f".
_SQLITE_BULK_CACHE_KIB = 128 * 1024
_SQLITE_DEFAULT_CACHE = -2000  # SQLite's default: about 2 MiB


def staged_upsert(
    session: Session,
    table: Table,
    frame: pd.DataFrame,
    *,
    source_agency: str,
    batch_id: int,
    before_update: Callable[[list[int]], None] | None = None,
    all_new: bool = False,
    hidden: str | None = None,
    set_sql: Mapping[str, str] | None = None,
) -> tuple[int, int, int, list[str]]:
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
    all_new
        The caller knows no row exists yet (the table was empty when the batch began and ids
        are unique in the file): rows go straight into ``table``, without the staging table.
    hidden
        SQL over ``table`` (by its name) selecting stored rows this write may not change
        (:func:`rules.write_rights.row_guard`): the staged rows that would touch one are
        taken out, untouched, and their external ids returned. The update's ``WHERE`` repeats
        the condition, so a row stored meanwhile by another transaction is not changed either.
    set_sql
        SQL replacing the new value of a column on update (e.g. keep the stricter caveat).

    Returns
    -------
    tuple
        ``(inserted, updated, unchanged, withheld)``: ``withheld`` the external ids taken out.
    """
    if frame.empty:
        return 0, 0, 0, []
    if "public_id" in table.c and "public_id" not in frame.columns:
        # Every row gets a fresh random id (one urandom read for the chunk); an update keeps the
        # stored one (see ``updates`` below), so a record's public id never changes.
        frame = frame.assign(public_id=pd.arrays.ArrowExtensionArray(new_public_ids(len(frame))))
    conn = session.connection()
    dialect = conn.dialect.name
    columns = list(frame.columns)
    if all_new:
        _insert_direct(session, table, frame, source_agency=source_agency, batch_id=batch_id)
        return len(frame), 0, 0, []
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_STAGE}")
    ddl = ", ".join(f"{c} {table.c[c].type.compile(dialect=conn.dialect)}" for c in columns)
    conn.exec_driver_sql(f"CREATE TEMP TABLE {_STAGE} ({ddl})")
    if dialect == "postgresql":
        _copy_postgres(session, _STAGE, frame)
        conn.exec_driver_sql(f"ANALYZE {_STAGE}")
    else:
        _insert_sqlite(session, columns, frame)

    withheld: list[str] = []
    # text() reads ":name" as a bind parameter: the rule's literals ('TLP:RED') keep their colons.
    hidden = None if hidden is None else hidden.replace(":", "\\:")
    replaced = {c: sql.replace(":", "\\:") for c, sql in (set_sql or {}).items()}
    if hidden is not None:
        match = (
            f"FROM {_STAGE} s JOIN {table.name} ON {table.name}.source_agency = :src "
            f"AND {table.name}.external_id = s.external_id WHERE {hidden}"
        )
        withheld = [
            str(x)
            for x in conn.execute(
                text(f"SELECT s.external_id {match}"), {"src": source_agency}
            ).scalars()
        ]
        if withheld:
            conn.execute(
                text(f"DELETE FROM {_STAGE} WHERE external_id IN (SELECT s.external_id {match})"),
                {"src": source_agency},
            )
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
    # The review date runs from when a record first entered, and the public id is the record's
    # for good: an update leaves both alone.
    updates = [c for c in columns if c not in ("external_id", "review_at", "public_id")]
    set_clause = ", ".join(
        f"{c} = {replaced.get(c, f'excluded.{c}')}"
        for c in [*updates, "geometry", "batch_id", "updated_at"]
    )
    allowed = f" AND NOT ({hidden})" if hidden is not None else ""
    stmt = text(
        f"INSERT INTO {table.name} ({', '.join(columns)}, geometry, source_agency, batch_id, "
        f"created_at, updated_at) SELECT {', '.join('s.' + c for c in columns)}, "
        f"{point_sql(dialect, 's.lon', 's.lat')}, :src, :batch, :now, :now "
        f"FROM {_STAGE} s WHERE true ON CONFLICT (source_agency, external_id) DO UPDATE SET "
        f"{set_clause} WHERE {table.name}.content_hash <> excluded.content_hash{allowed}"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    conn.execute(stmt, {"src": source_agency, "batch": batch_id, "now": utcnow()})
    conn.exec_driver_sql(f"DROP TABLE {_STAGE}")
    new, changed = int(new), int(changed)
    return new, changed, len(frame) - new - changed - len(withheld), withheld


def _time_strings(col: pd.Series, suffix: str = "") -> npt.NDArray[np.str_]:
    """UTC times as fixed-width ``YYYY-MM-DD HH:MM:SS.ffffff`` text (+ ``suffix``); NaT kept.

    numpy formats them in C; the ``T`` becomes a space in place (no per-value Python string).
    """
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        naive = col.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(col):
        naive = col  # naive times are UTC already
    else:  # pd.to_datetime on a typed column walks it value by value (its cache check)
        naive = pd.to_datetime(col, utc=True).dt.tz_localize(None)
    values = naive.to_numpy().astype("datetime64[us]")
    text_ = np.datetime_as_string(values, unit="us").astype("<U26")
    if len(text_):
        text_.view(np.uint32).reshape(len(text_), 26)[:, 10] = ord(" ")
    return np.char.add(text_, suffix) if suffix else text_


def _time_text(col: pd.Series, suffix: str = "") -> pd.Series:
    """UTC times as ``YYYY-MM-DD HH:MM:SS.ffffff`` text (+ ``suffix``), ``None`` where missing."""
    text_ = pd.Series(_time_strings(col, suffix), index=col.index, dtype=object)
    return text_.where(col.notna().to_numpy(), None)


def _is_time(col: pd.Series) -> bool:
    return isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(col)


def _values(col: pd.Series) -> list[Any]:
    """One column as a list of plain Python values: times as SQLite text, NaN/NaT as None."""
    missing = col.isna().to_numpy()
    if _is_time(col):
        values: npt.NDArray[Any] = _time_strings(col).astype(object)
    else:
        values = col.to_numpy()
        if values.dtype.kind in "iufb" and not missing.any():
            return values.tolist()  # type: ignore[no-any-return]
        values = values.astype(object)
    if missing.any():
        values[missing] = None
    return values.tolist()  # type: ignore[no-any-return]


def _rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The rows of ``frame`` as tuples of plain Python values, built column by column."""
    return list(zip(*(_values(frame[name]) for name in frame.columns), strict=True))


def _sqlite_literal(col: pd.Series) -> str | None:
    """The SQL literal of a column holding one value on every row, else ``None`` (bind it).

    Binding costs per value, and a ``None`` (or any type but int, float and str) costs a
    lookup of the DB-API adapter protocol each time: about 1 us a value, nearly half of
    SQLite's whole insert on a typical chunk, whose NULL, agency, batch and time columns are
    the same on every row. Such a column goes into the statement once instead.
    """
    missing = col.isna().to_numpy()
    if missing.all():
        return "NULL"
    if missing.any() or not bool((col == col.iloc[0]).all()):
        return None
    if _is_time(col):
        return f"'{_time_strings(col.iloc[:1])[0]}'"
    value = col.iloc[0]
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, str) and "\x00" not in value:
        # SQLite's own quoting rule (what its quote() does): a quote is doubled, nothing else.
        return "'" + value.replace("'", "''") + "'"
    return None  # floats, bytes, text with NUL: bound as usual


def _sqlite_insert(
    session: Session, target: str, frame: pd.DataFrame, extra: dict[str, str] | None = None
) -> None:
    """``executemany`` ``frame`` into ``target``; one-valued columns become literals.

    ``extra`` maps further columns to SQL expressions over the others' names written as
    ``{lon}`` (e.g. the point geometry built from ``lon`` and ``lat``).
    """
    columns = list(frame.columns)
    exprs: dict[str, str] = {}
    bound: list[str] = []
    for name in columns:
        literal = _sqlite_literal(frame[name])
        if literal is None:
            bound.append(name)
            exprs[name] = f"?{len(bound)}"
        else:
            exprs[name] = literal
    names = [*columns, *(extra or {})]
    values = [exprs[c] for c in columns]
    values += [expr.format(**exprs) for expr in (extra or {}).values()]
    sql = f"INSERT INTO {target} ({', '.join(names)}) VALUES ({', '.join(values)})"
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    if bound:
        cursor.executemany(sql, _rows(frame.loc[:, bound]))
    else:  # every column one-valued: the same row, len(frame) times
        cursor.executemany(sql, [()] * len(frame))


def _insert_sqlite(session: Session, columns: list[str], frame: pd.DataFrame) -> None:
    _sqlite_insert(session, _STAGE, frame.loc[:, columns])


def _insert_direct(
    session: Session, table: Table, frame: pd.DataFrame, *, source_agency: str, batch_id: int
) -> None:
    """Rows known to be new: one bulk statement straight into ``table``."""
    postgres = session.connection().dialect.name == "postgresql"
    # One timestamp for the whole chunk, formatted once rather than per row.
    stamp = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00" if postgres else "")
    full = frame.assign(
        source_agency=source_agency, batch_id=batch_id, created_at=stamp, updated_at=stamp
    )
    if postgres:
        full["geometry"] = point_ewkb_hex(
            full["lon"].to_numpy(dtype=float), full["lat"].to_numpy(dtype=float)
        )
        _copy_postgres(session, table.name, full)
        return
    _sqlite_insert(session, table.name, full, {"geometry": "MakePoint({lon}, {lat}, 4326)"})


# Hex EWKB of a little-endian 2D point with an SRID: byte order, type | 0x20000000, SRID.
_EWKB_POINT_HEAD = np.frombuffer(b"\x01\x01\x00\x00\x20\xe6\x10\x00\x00", dtype=np.uint8)
_HEX_PAIRS = np.array([f"{i:02X}" for i in range(256)], dtype="<U2")


def point_ewkb_hex(lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> pa.Array:
    """WGS84 points as hex EWKB text (``SRID=4326``), built as whole arrays (no per-row Python).

    PostGIS reads hex EWKB in ``COPY`` without parsing any number text.
    """
    n = len(lon)
    raw = np.empty((n, 25), dtype=np.uint8)
    raw[:, :9] = _EWKB_POINT_HEAD
    raw[:, 9:17] = np.ascontiguousarray(lon, dtype="<f8").view(np.uint8).reshape(n, 8)
    raw[:, 17:25] = np.ascontiguousarray(lat, dtype="<f8").view(np.uint8).reshape(n, 8)
    text_ = np.ascontiguousarray(_HEX_PAIRS[raw]).view("<U50").reshape(n)
    return pa.array(text_, type=pa.string())


def _arrow_column(col: pd.Series | pa.Array) -> pa.Array:
    """One column for PostgreSQL's CSV ``COPY``: times as ``+00`` text, text without NUL."""
    if isinstance(col, pa.Array):
        return col
    if isinstance(col.dtype, pd.ArrowDtype):  # Arrow-backed already (the public ids): as is
        return pa.array(col)
    missing = col.isna().to_numpy()
    if missing.all():
        return pa.nulls(len(col), pa.string())
    if _is_time(col):
        if not missing.any() and bool((col == col.iloc[0]).all()):  # one stamp, formatted once
            return pa.array(np.repeat(_time_strings(col.iloc[:1], "+00"), len(col)))
        return pa.array(_time_strings(col, "+00"), type=pa.string(), mask=missing)
    if col.dtype != object:
        return pa.array(col.to_numpy(), mask=missing if missing.any() else None)
    try:
        text_ = pa.array(col.to_numpy(), type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # not all text: as the old writer, str()
        text_ = pa.array(col.astype(str).to_numpy(), type=pa.string(), mask=missing)
    # PostgreSQL refuses NUL characters in text: they go.
    return pc.replace_substring(text_, "\x00", "")


def _copy_postgres(session: Session, target: str, frame: pd.DataFrame) -> None:
    """COPY ``frame`` into ``target`` as CSV written by Arrow's C++ writer.

    Arrow quotes every text value and writes a missing one as an unquoted empty field, which
    PostgreSQL reads as NULL (a quoted ``""`` stays an empty string).
    """
    columns = list(frame.columns)
    arrays = [_arrow_column(frame[name]) for name in columns]
    buf = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    pa_csv.write_csv(pa.Table.from_arrays(arrays, names=columns), buf, write_options=options)
    # Only PostgreSQL comes here, through psycopg (3): SQLAlchemy types the driver's connection
    # as the bare DB-API protocol, without psycopg's context-managed cursor and COPY.
    raw = cast("psycopg.Connection[Any] | None", session.connection().connection.dbapi_connection)
    assert raw is not None
    with (
        raw.cursor() as cur,
        cur.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy,
    ):
        copy.write(buf.getbuffer())


# A trigger that fires for every row inserted (SQLite has no statement triggers).
_INSERT_TRIGGER = re.compile(r"\b(?:BEFORE|AFTER)\s+INSERT\s+ON\b", re.IGNORECASE)
# A trigger body whose effect does not depend on the row (it can run once for the whole load).
_ROW_FREE_BODY = re.compile(r"\bBEGIN\b(?P<body>.*)\bEND\s*;?\s*$", re.IGNORECASE | re.DOTALL)


@contextmanager
def deferred_indexes(session: Session, table: Table, *, enabled: bool) -> Iterator[None]:
    """During a bulk load, drop the secondary indexes of ``table`` and build them once after.

    Building an index once after the load is several times cheaper than keeping it live (about
    four times for SpatiaLite's R*Tree). The unique key stays (the upsert needs it). Everything
    happens inside the batch's transaction, so a crash leaves the old indexes and triggers; on
    PostgreSQL readers of the table wait for the load to commit.

    On SQLite the per-row ``INSERT`` triggers are paused too (the data-version bump, SpatiaLite's
    geometry check and last-insert stamp): rows come in as ``MakePoint(lon, lat, 4326)``, which
    the geometry check always passes, and each trigger whose body does not read ``NEW`` runs once
    at the end instead of once a row. The R*Tree is then built packed in one pass from the
    ``lon``/``lat`` columns (:mod:`store.rtree_pack`), about half the CPU of SpatiaLite's fill.
    """
    if not enabled:
        yield
        return
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    started = datetime.now()
    btree = [ix for ix in table.indexes if not (sqlite and (ix.name or "").startswith("idx_"))]
    paused: list[tuple[str, str]] = []
    rtree: tuple[str, list[str]] | None = None
    if sqlite:
        # A larger page cache keeps the remaining unique index in memory during the load.
        conn.exec_driver_sql(f"PRAGMA cache_size = -{_SQLITE_BULK_CACHE_KIB}")
        rtree = _drop_spatial_index(conn, table.name)
        paused = _pause_insert_triggers(conn, table.name)
    for ix in btree:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {ix.name}")
    yield
    for ix in btree:
        ix.create(conn)
    if sqlite:
        _resume_insert_triggers(conn, paused)
        if rtree is not None:
            _build_spatial_index(conn, table.name, *rtree)
        else:
            conn.exec_driver_sql(f"SELECT CreateSpatialIndex('{table.name}', 'geometry')")
        conn.exec_driver_sql(f"PRAGMA cache_size = {_SQLITE_DEFAULT_CACHE}")
    logger.info(
        "indexes of %s rebuilt after the bulk load (%s)", table.name, datetime.now() - started
    )


def _sqlite_triggers(conn: Connection, table: str) -> list[tuple[str, str]]:
    rows = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    ).all()
    return [(str(name), str(sql)) for name, sql in rows]


def _pause_insert_triggers(conn: Connection, table: str) -> list[tuple[str, str]]:
    """Drop the per-row INSERT triggers of ``table``; return their names and SQL."""
    paused = [(n, sql) for n, sql in _sqlite_triggers(conn, table) if _INSERT_TRIGGER.search(sql)]
    for name, _ in paused:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    return paused


def _resume_insert_triggers(conn: Connection, paused: list[tuple[str, str]]) -> None:
    """Recreate the paused triggers; run once each body that does not depend on the row."""
    for _, sql in paused:
        conn.exec_driver_sql(sql)
        body = _ROW_FREE_BODY.search(sql)
        if body is None or re.search(r"\bNEW\s*\.", body.group("body"), re.IGNORECASE):
            continue
        for statement in body.group("body").split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)


def _drop_spatial_index(conn: Connection, table: str) -> tuple[str, list[str]] | None:
    """Disable SpatiaLite's R*Tree on ``table.geometry``; return its DDL and its triggers' SQL."""
    idx = f"idx_{table}_geometry"
    found = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (idx,)
    ).scalar()
    triggers = [sql for n, sql in _sqlite_triggers(conn, table) if n.startswith("gi")]
    conn.exec_driver_sql(f"SELECT DisableSpatialIndex('{table}', 'geometry')")
    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{idx}"')
    if found is None or not triggers:  # no index before: let SpatiaLite build its own
        return None
    return str(found), triggers


def _build_spatial_index(conn: Connection, table: str, ddl: str, triggers: list[str]) -> None:
    """Recreate the R*Tree and its triggers as they were, packed from the point columns."""
    idx = f"idx_{table}_geometry"
    conn.exec_driver_sql(ddl)
    # Points: the bounding box is the point. Packed in one pass, not inserted row by row.
    raw = conn.connection.dbapi_connection
    assert raw is not None
    fill_point_rtree(raw.cursor(), idx, f"SELECT id, lon, lat FROM {table}")
    conn.exec_driver_sql(
        "UPDATE geometry_columns SET spatial_index_enabled = 1 "
        "WHERE lower(f_table_name) = lower(?) AND lower(f_geometry_column) = 'geometry'",
        (table,),
    )
    existing = {n for n, _ in _sqlite_triggers(conn, table)}
    for sql in triggers:
        name = re.search(r'TRIGGER\s+"?([^"\s]+)"?', sql)
        if name is None or name.group(1) not in existing:
            conn.exec_driver_sql(sql)

"""The engine factory (SpatiaLite or PostGIS, chosen by the URL) and the session scope.

Notes
-----
Python builds made with pyenv often lack ``sqlite3`` extension loading
(``Connection.enable_load_extension``); ``pysqlite3`` (the ``pysqlite3-binary`` wheel) has it
and loads Debian's ``mod_spatialite``. The standard module is used whenever it can load extensions.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from store.errors import SpatialExtensionMissing, StoreError

logger = logging.getLogger(__name__)

SPATIALITE_HINT = (
    "SpatiaLite could not be loaded from {path!r}. Install it with "
    "'sudo apt-get install libsqlite3-mod-spatialite' (Debian/Ubuntu) or point "
    "WATCHFLOOR_SPATIALITE_PATH at mod_spatialite."
)


def sqlite_module() -> ModuleType:
    """Return a DB-API sqlite module that can load extensions."""
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        from pysqlite3 import dbapi2
    except ImportError as exc:  # pragma: no cover - depends on the interpreter build
        raise StoreError(
            "This Python's sqlite3 cannot load extensions; install pysqlite3-binary "
            "(it is in requirements.txt)"
        ) from exc
    return dbapi2  # type: ignore[no-any-return]


def _on_sqlite_connect(spatialite_path: str) -> Any:
    def connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # see make_engine: SQLAlchemy issues BEGIN
        try:
            dbapi_conn.enable_load_extension(True)
            dbapi_conn.load_extension(spatialite_path)
            dbapi_conn.enable_load_extension(False)
        except Exception as exc:
            raise SpatialExtensionMissing(SPATIALITE_HINT.format(path=spatialite_path)) from exc
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA busy_timeout = 30000")
        # Temporary tables (the ingest staging table) and index-build sorts stay in memory.
        cur.execute("PRAGMA temp_store = MEMORY")
        if cur.execute("SELECT CheckSpatialMetaData()").fetchone()[0] == 0:
            # A new file: create SpatiaLite's metadata tables with the WGS84 family of SRIDs.
            cur.execute("SELECT InitSpatialMetaData(1, 'WGS84')")
        cur.close()

    return connect


READONLY_OPTION = "watchfloor_readonly"


def _begin_sqlite(conn: Any) -> None:
    # Nearly every transaction writes (an audit entry at least). A deferred BEGIN reads first and
    # upgrades to a writer later; in WAL mode that upgrade fails at once with "database is
    # locked" (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not wait for) when another writer
    # committed in between, e.g. a partner API POST while the dashboard reads. BEGIN IMMEDIATE
    # takes the write lock first, waiting up to busy_timeout. Read-only scopes stay deferred so
    # they never queue behind a long import.
    readonly = conn.get_execution_options().get(READONLY_OPTION, False)
    conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


# A pooled connection back from use less than this long ago is handed out without a ping.
PING_AFTER_IDLE_S = 10.0
_RETURNED = "watchfloor_returned_at"


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled PostgreSQL connection before use only when it has been idle a while.

    Notes
    -----
    ``pool_pre_ping`` pings on every checkout: one extra round trip per session, several per
    request (8 % of py-spy's samples of the workers under the load bench, most of it
    waiting). A connection that was in use a moment ago is very likely alive; one that sat
    idle (a database restart, a proxy's idle timeout) is tested first, and a dead one is
    replaced before the request sees it (SQLAlchemy's documented checkout-event recipe:
    ``DisconnectionError`` makes the pool try a fresh connection). A server that goes away
    within the window fails the statements in flight once; SQLAlchemy then invalidates the
    pool, and the next request reconnects.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_conn: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_conn)
            dbapi_conn.rollback()  # the ping opened a transaction: hand the connection out clean
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection idle since {returned} is gone") from exc


def make_engine(url: str, *, spatialite_path: str = "mod_spatialite", **kwargs: Any) -> Engine:
    """Create an engine for a SpatiaLite file or a PostGIS database.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///path`` (SpatiaLite) or ``postgresql+psycopg://...`` (PostGIS).
    spatialite_path
        Name or path of the SpatiaLite module, for SQLite URLs.
    **kwargs
        Passed to :func:`sqlalchemy.create_engine`.

    Returns
    -------
    sqlalchemy.Engine
        The engine; SQLite connections have SpatiaLite loaded and foreign keys on.
    """
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        db = sa_url.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(sa_url, module=sqlite_module(), **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect(spatialite_path))
        # The driver's own transaction handling defers BEGIN past DDL and SELECTs; SQLAlchemy's
        # documented recipe lets it issue BEGIN itself so every batch is one atomic transaction.
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    if sa_url.get_backend_name() == "postgresql":
        # A gunicorn worker's threads (8 in the load bench) and its background jobs each hold a
        # connection: with SQLAlchemy's default of 5 kept, the rest were opened and closed per
        # request (a new server process each, about two a second under the load bench).
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 12)
            kwargs.setdefault("max_overflow", 20)
        engine = create_engine(sa_url, **kwargs)
        if not kwargs.get("pool_pre_ping"):
            _ping_when_idle(engine)
        return engine
    raise StoreError(f"unsupported database URL {sa_url.render_as_string(hide_password=True)!r}")


_ENGINES: dict[tuple[str, str], Engine] = {}


def get_engine(url: str, spatialite_path: str = "mod_spatialite") -> Engine:
    """Return the process-wide engine for ``url`` (one pool per URL)."""
    key = (url, spatialite_path)
    if key not in _ENGINES:
        _ENGINES[key] = make_engine(url, spatialite_path=spatialite_path)
    return _ENGINES[key]


def dispose_engines() -> None:
    """Close every pooled connection of the process-wide engines and forget them."""
    while _ENGINES:
        _, engine = _ENGINES.popitem()
        engine.dispose()


@lru_cache(maxsize=8)
def _sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@lru_cache(maxsize=8)
def _readonly_engine(engine: Engine) -> Engine:
    return engine.execution_options(**{READONLY_OPTION: True})


@contextmanager
def session_scope(engine: Engine, *, readonly: bool = False) -> Iterator[Session]:
    """Open a session that commits on success and rolls back on any error.

    The edge (a callback, a CLI command, an ingest job) owns the session; nothing below commits.

    Parameters
    ----------
    engine
        The engine.
    readonly
        The scope only reads: on SQLite its transaction is a deferred ``BEGIN`` (no write lock,
        never waits for a writer in WAL mode); every other scope starts with ``BEGIN IMMEDIATE``.
        PostgreSQL ignores it.
    """
    session = _sessionmaker(_readonly_engine(engine) if readonly else engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def backend_name(engine: Engine) -> str:
    """Return ``"spatialite"`` or ``"postgis"``."""
    return "spatialite" if engine.dialect.name == "sqlite" else "postgis"

"""Pooled PostgreSQL connections are tested before use only after sitting idle (store.engine)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, exc, text

from store import engine as store_engine
from store.engine import make_engine


@pytest.fixture
def pg(postgis_url: str) -> Iterator[Engine]:
    eng = make_engine(postgis_url, pool_size=1, max_overflow=0)
    yield eng
    eng.dispose()


def _kill_pooled(eng: Engine, admin: Engine) -> int:
    """Terminate the backend of the one pooled connection; return its pid."""
    with eng.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()
    for _ in range(50):  # the server ends the backend asynchronously
        with admin.connect() as conn:
            alive = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one()
        if not alive:
            break
        time.sleep(0.05)
    return int(pid)


def _age_pool(eng: Engine) -> None:
    """Make the pooled connection look idle for longer than the ping window."""
    for record in list(eng.pool._pool.queue):  # type: ignore[attr-defined]
        record.info[store_engine._RETURNED] -= store_engine.PING_AFTER_IDLE_S + 1


def test_an_idle_dead_connection_is_replaced_before_use(pg: Engine, postgis_url: str) -> None:
    admin = make_engine(postgis_url)
    try:
        dead = _kill_pooled(pg, admin)
        _age_pool(pg)
        with pg.connect() as conn:  # no error: the ping found it dead, the pool reconnected
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert pid != dead
    finally:
        admin.dispose()


def test_a_recently_used_connection_is_not_pinged(pg: Engine, postgis_url: str) -> None:
    """Within the window the connection is used as is: a server gone meanwhile fails once,
    SQLAlchemy invalidates the pool, and the next checkout reconnects."""
    admin = make_engine(postgis_url)
    try:
        dead = _kill_pooled(pg, admin)
        with pytest.raises(exc.OperationalError) as raised, pg.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert raised.value.connection_invalidated
        with pg.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert pid != dead
    finally:
        admin.dispose()


def test_a_pinged_connection_is_handed_out_outside_a_transaction(pg: Engine) -> None:
    with pg.connect() as conn:
        conn.execute(text("SELECT 1"))
    _age_pool(pg)
    with pg.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        # psycopg: IDLE (0) means no transaction was left open by the ping.
        assert raw.info.transaction_status == 0

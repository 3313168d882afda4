"""Concurrent writers of events on PostgreSQL do not wait for each other's data-version bump."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, insert, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from store.columnar import data_version
from store.engine import make_engine, session_scope
from store.models import Event
from store.models.version import EVENT_VERSION_SLOTS

# SQLite has one writer at a time by design (BEGIN IMMEDIATE, docs/live.md).
pytestmark = pytest.mark.parametrize("db_url", ["postgis"], indirect=True)


def _insert(conn: Connection, n: int, lock_timeout: str = "5s") -> None:
    # A writer that waits for a lock fails the test instead of hanging it.
    conn.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
    now = datetime.now(UTC)
    conn.execute(
        insert(Event),
        [
            {
                "kind": "incident",
                "category": "VANDALISM",
                "occurred_at": now,
                "source_agency": "BPD",
                "external_id": f"v{n}-{i}",
                "handling": "TLP:GREEN",
                "severity": 1,
                "lon": -71.06,
                "lat": 42.36,
                "geometry": "SRID=4326;POINT(-71.06 42.36)",
                "cell": 0,
                "content_hash": "h",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(3)
        ],
    )


def _version(engine: Engine) -> int:
    with session_scope(engine) as s:
        return data_version(session=s)


def test_a_batch_commits_while_another_is_open_and_each_commit_changes_the_version(
    engine: Engine,
) -> None:
    first = engine.connect()
    try:
        first.begin()
        _insert(first, 1)  # its statement trigger has bumped a version slot, not yet committed
        start = _version(engine)
        with engine.connect() as second:
            second.begin()
            # Before the slots, this waited for the first batch's commit (the one version row).
            _insert(second, 2, lock_timeout="2s")
            second.commit()
        after_second = _version(engine)
        assert after_second != start  # the poller sees the batch committed second
        first.commit()
        assert _version(engine) not in (start, after_second)  # and the one committed last
    finally:
        first.close()


def test_a_writer_waits_when_every_slot_is_held_and_never_skips_its_bump(db_url: str) -> None:
    engine = make_engine(db_url, poolclass=NullPool)  # more open transactions than a pool has
    held = [engine.connect() for _ in EVENT_VERSION_SLOTS]
    try:
        for k, conn in enumerate(held):
            conn.begin()
            _insert(conn, 10 + k)
        with engine.connect() as extra:
            extra.begin()
            with pytest.raises(OperationalError, match="lock timeout"):
                _insert(extra, 99, lock_timeout="300ms")
            extra.rollback()
        before = _version(engine)
        held.pop().commit()
        assert _version(engine) != before
    finally:
        for conn in held:
            conn.close()
        engine.dispose()


def test_a_rolled_back_batch_leaves_the_version(engine: Engine) -> None:
    before = _version(engine)
    with engine.connect() as conn:
        conn.begin()
        _insert(conn, 1)
        conn.rollback()
    assert _version(engine) == before


def test_a_transaction_keeps_to_one_slot_over_its_statements(engine: Engine) -> None:
    free_sql = text(
        "SELECT count(*) FROM (SELECT name FROM data_versions WHERE name = 'events' "
        "OR name LIKE 'events.%' FOR UPDATE SKIP LOCKED) AS free"
    )
    with engine.connect() as writer, engine.connect() as other:
        writer.begin()
        for n in range(4):
            _insert(writer, n)
        other.begin()
        assert other.execute(free_sql).scalar_one() == len(EVENT_VERSION_SLOTS) - 1
        other.rollback()
        writer.commit()

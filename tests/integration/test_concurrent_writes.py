"""Partner API POSTs in parallel with dashboard reads that audit: no "database is locked"."""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import Engine, func, select

from domain.roles import Role, Viewer
from security.apikeys import create_key
from security.audit import record
from settings import Settings
from store.engine import session_scope
from store.models import AuditEntry, Event

POSTERS = 4
POSTS_EACH = 3
READS = 12


def _events(poster: int, post: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"C-{poster}-{post}-{i}",
            "occurred_at": "2023-03-04T19:30:00Z",
            "lat": 42.35 + i / 1000,
            "lon": -71.06 + poster / 1000,
            "category": "SURVL",
        }
        for i in range(5)
    ]


def test_concurrent_posts_and_audited_reads_all_succeed(engine: Engine, settings: Settings) -> None:
    from app import create_app

    server = create_app(settings).server
    with session_scope(engine) as s:
        key, _ = create_key(session=s, agency="MSP", label="test")
    statuses: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(POSTERS + 1)
    viewer = Viewer("reader", Role.WATCH_OFFICER, "MA-CFC")

    def post(poster: int) -> None:
        client = server.test_client()
        start.wait()
        for n in range(POSTS_EACH):
            resp = client.post(
                "/api/v1/events",
                data=json.dumps(_events(poster, n)),
                headers={"Authorization": f"Bearer {key}"},
                content_type="application/json",
            )
            statuses.append(resp.status_code)

    def read_then_audit() -> None:
        # The dashboard's shape: read events, then append an audit entry in the same transaction.
        start.wait()
        try:
            for _ in range(READS):
                with session_scope(engine) as s:
                    s.execute(select(func.count()).select_from(Event)).scalar_one()
                    record(session=s, viewer=viewer, action="map.filter")
        except BaseException as exc:  # collected and asserted below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(p,)) for p in range(POSTERS)]
    threads.append(threading.Thread(target=read_then_audit))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert statuses == [201] * (POSTERS * POSTS_EACH)
    with session_scope(engine, readonly=True) as s:
        assert s.execute(select(func.count()).select_from(Event)).scalar_one() == (
            POSTERS * POSTS_EACH * 5
        )
        audited = select(func.count()).where(AuditEntry.username == "reader")
        assert s.execute(audited).scalar_one() == READS


def test_readonly_scope_does_not_take_the_write_lock(engine: Engine) -> None:
    # While a writer holds the lock, a read-only scope still reads (deferred BEGIN in WAL mode).
    with session_scope(engine) as writer:
        record(session=writer, viewer=Viewer.system(), action="test.hold")
        with session_scope(engine, readonly=True) as reader:
            assert reader.execute(select(func.count()).select_from(Event)).scalar_one() == 0

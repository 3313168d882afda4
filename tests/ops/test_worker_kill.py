"""Killing a gunicorn worker mid-load loses no accepted event; the other workers go on serving."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from ops.launch import worker_pids
from store.engine import session_scope
from store.models import Event
from tests.ops.conftest import AGENCY, Profile

pytestmark = pytest.mark.integration
THREADS, BATCHES, PER_BATCH = 4, 15, 5


def _batch(thread: int, batch: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "id": f"kill-{thread}-{batch}-{i}",
            "occurred_at": (now - timedelta(minutes=i)).isoformat(),
            "lat": 42.30 + 0.01 * thread,
            "lon": -71.10 + 0.001 * batch,
            "category": "SURVL",
        }
        for i in range(PER_BATCH)
    ]


def _last_api_worker(profile: Profile) -> int:
    pid = 0
    for line in profile.log_path.read_text().splitlines():
        if line.startswith("{") and '"path": "/api/v1/events"' in line:
            pid = int(json.loads(line)["process"])
    return pid


def test_a_killed_worker_loses_nothing_and_the_others_serve(profile: Profile) -> None:
    headers = {"Authorization": f"Bearer {profile.api_key}", "Content-Type": "application/json"}
    accepted: list[str] = []
    failures: list[str] = []
    accepted_after_kill = threading.Event()
    killed = threading.Event()
    lock = threading.Lock()

    def post_all(thread: int) -> None:
        # A new connection per request, as partners' clients do: the kernel spreads them over
        # the workers, so the killed one is busy.
        with requests.Session() as http:
            http.headers["Connection"] = "close"
            for batch in range(BATCHES):
                body = _batch(thread, batch)
                # A request cut off by the kill is retried: the API is idempotent per id.
                for _attempt in range(20):
                    try:
                        resp = http.post(
                            f"{profile.base_url}/api/v1/events",
                            data=json.dumps(body),
                            headers=headers,
                            timeout=30,
                        )
                    except requests.RequestException as exc:
                        failures.append(type(exc).__name__)
                        http.close()  # the connection may be the dead worker's
                        continue
                    if resp.status_code == 201:
                        with lock:
                            accepted.extend(e["id"] for e in body)
                        if killed.is_set():
                            accepted_after_kill.set()
                        break
                    failures.append(str(resp.status_code))

    workers = [threading.Thread(target=post_all, args=(t,)) for t in range(THREADS)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 120
    while len(accepted) < THREADS * BATCHES * PER_BATCH // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = worker_pids(profile.proc.pid)  # type: ignore[attr-defined]
    assert len(before) == 3
    victim = _last_api_worker(profile)  # the worker that just served the API (JSON log)
    assert victim in before
    os.kill(victim, signal.SIGKILL)  # mid-load, no warning, no cleanup
    killed.set()
    for w in workers:
        w.join(timeout=300)
    assert accepted_after_kill.is_set(), "nothing was accepted after the kill"
    assert len(accepted) == THREADS * BATCHES * PER_BATCH, failures
    assert len(set(accepted)) == len(accepted)
    with session_scope(profile.engine) as session:
        stored = session.execute(
            select(Event.external_id, func.count())
            .where(Event.source_agency == AGENCY)
            .group_by(Event.external_id)
        ).all()
    assert {e for e, _ in stored} == set(accepted)  # nothing lost
    assert all(n == 1 for _, n in stored)  # nothing doubled
    # The master replaced the killed worker, and every worker answers.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = worker_pids(profile.proc.pid)  # type: ignore[attr-defined]
        if len(now) == 3 and victim not in now:
            break
        time.sleep(0.1)
    assert len(now) == 3 and victim not in now
    for _ in range(6):
        assert requests.get(f"{profile.base_url}/readyz", timeout=10).status_code == 200

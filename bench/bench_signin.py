"""Cost of sign-in: argon2id hashing, the sign-in round trip and the per-request session check."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._report import Report
from bench._schemas import postgis_schema
from security.passwords import hash_password, verify_password
from settings import Settings
from store.engine import make_engine
from store.migrate import upgrade

REPEATS = 30


def _median_ms(fn: Callable[[], object], n: int = REPEATS) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _requests(report: Report, url: str, backend: str) -> None:
    from app import create_app
    from testkit.security_kit import make_users, sign_in

    settings = Settings(database_url=url, env="test")
    engine = make_engine(url)
    upgrade(engine)
    make_users(engine, settings, ("officer",))
    app = create_app(settings)
    client = app.server.test_client()
    start = time.perf_counter()
    sign_in(client, "officer")
    report.record(f"signin.{backend}.round_trip", (time.perf_counter() - start) * 1000, "ms")

    def get(c) -> None:  # type: ignore[no-untyped-def]
        c.get("/_dash-dependencies").close()

    report.record(f"signin.{backend}.signed_in_request", _median_ms(lambda: get(client)), "ms")
    anon = app.server.test_client()
    report.record(f"signin.{backend}.anonymous_401", _median_ms(lambda: get(anon)), "ms")
    engine.dispose()


def run(report: Report) -> None:
    """Record hashing and request figures on SpatiaLite and, when configured, PostGIS."""
    digest = hash_password("a long passphrase")
    report.record("signin.argon2id_hash", _median_ms(lambda: hash_password("x" * 16), 10), "ms")
    report.record(
        "signin.argon2id_verify",
        _median_ms(lambda: verify_password(digest, "a long passphrase"), 10),
        "ms",
    )
    with tempfile.TemporaryDirectory() as tmp:
        _requests(report, f"sqlite:///{Path(tmp) / 'bench.sqlite'}", "spatialite")
    base = os.environ.get("WATCHFLOOR_BENCH_POSTGIS_URL")
    if base:
        with postgis_schema(base, "bench_signin") as url:
            _requests(report, url, "postgis")

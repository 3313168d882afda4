"""OGC API - Features answers on a large store: the collections document (per-caller extents) and
pages of items, as GDAL and QGIS ask for them.

``WATCHFLOOR_BENCH_OGC_ROWS`` synthetic events (default 1,000,000) in SpatiaLite, and in PostGIS
when ``WATCHFLOOR_BENCH_POSTGIS_URL`` is set; an analyst (Basic) and a partner key read through the
Flask test client (no network). Each figure is the median of 5 requests (3 for the uncached
extents, computed directly), wall time.
"""

from __future__ import annotations

import base64
import os
import statistics
import time
from typing import Any

from api.collections import collection_extents
from bench import _hexload
from bench._report import Report
from domain.roles import Role, Viewer
from security.apikeys import create_key
from security.users import add_user, get_user
from settings import Settings
from store.engine import make_engine, session_scope

PASSWORD = "bench passphrase 2026"
REPEATS = 5


def _median_ms(client: Any, url: str, headers: dict[str, str]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        resp = client.get(url, headers=headers)
        resp.get_data()
        times.append((time.perf_counter() - start) * 1000)
        assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True)[:200])
    return statistics.median(times)


def _run_backend(report: Report, tag: str, url: str) -> None:
    from app import create_app

    engine = make_engine(url)
    with session_scope(engine) as s:
        if get_user(session=s, username="bench-analyst") is None:
            add_user(
                session=s,
                actor=Viewer.system(),
                username="bench-analyst",
                role="analyst",
                agency="MA-CFC",
                password=PASSWORD,
            )
        key, _ = create_key(session=s, agency="CAMBRIDGE-PD")
    client = create_app(Settings(database_url=url, env="test")).server.test_client()
    auth = base64.b64encode(f"bench-analyst:{PASSWORD}".encode()).decode()
    callers = {"analyst": {"Authorization": f"Basic {auth}"}}
    callers["partner key"] = {"Authorization": f"Bearer {key}"}
    viewers = {
        "analyst": Viewer("bench-analyst", Role.ANALYST, "MA-CFC"),
        "partner key": Viewer("key", Role.PARTNER, "CAMBRIDGE-PD"),
    }
    for who, headers in callers.items():
        with session_scope(engine) as s:
            times = []
            for _ in range(3):
                start = time.perf_counter()
                collection_extents(session=s, viewer=viewers[who], res=8, cache=None)
                times.append((time.perf_counter() - start) * 1000)
        report.record(f"ogc {tag} {who} extents uncached", statistics.median(times), "ms")
        client.get("/ogc/collections", headers=headers).get_data()  # fills the cache
        report.record(
            f"ogc {tag} {who} /collections (extents cached)",
            _median_ms(client, "/ogc/collections", headers),
            "ms",
        )
        first = client.get("/ogc/collections/incidents/items?limit=1", headers=headers)
        matched = first.get_json()["numberMatched"]
        base = "/ogc/collections/incidents/items?limit=1000"
        report.record(
            f"ogc {tag} {who} incidents first page of 1000",
            _median_ms(client, base, headers),
            "ms",
            matched=matched,
        )
        deep = max(0, matched - 1000)
        report.record(
            f"ogc {tag} {who} incidents page of 1000 at offset {deep}",
            _median_ms(client, f"{base}&offset={deep}", headers),
            "ms",
        )
        # The same deep page as a GIS client reaches it: through the next link's cursor.
        nxt = client.get(f"{base}&offset={deep - 1000}", headers=headers).get_json()["links"]
        href = next(link["href"] for link in nxt if link["rel"] == "next")
        report.record(
            f"ogc {tag} {who} incidents page of 1000 after a cursor near the end",
            _median_ms(client, href.replace("http://localhost", ""), headers),
            "ms",
        )
    engine.dispose()


def run(report: Report) -> None:
    """Record the collections document and item pages on each backend."""
    n = int(os.environ.get("WATCHFLOOR_BENCH_OGC_ROWS", "1000000"))
    label = f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"
    report.record("ogc machine load (1 min)", os.getloadavg()[0], "")
    url, _ = _hexload.spatialite(n)
    _run_backend(report, f"spatialite {label}", url)
    pg_base = os.environ.get("WATCHFLOOR_BENCH_POSTGIS_URL")
    if pg_base:
        with _hexload.postgis(pg_base, n) as (pg_url, _load_s):
            _run_backend(report, f"postgis {label}", pg_url)
    report.record("ogc machine load after (1 min)", os.getloadavg()[0], "")

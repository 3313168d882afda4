"""Streamed exports over HTTP (``GET /api/v1/export``): rows per second and memory growth.

``WATCHFLOOR_BENCH_EXPORT_ROWS`` events (default 200,000) in a SpatiaLite file; an analyst streams
the suspicious and incident layers as GeoJSON and CSV through the Flask test client (no network),
reading the answer piece by piece as a client would. Memory growth is the peak RSS increase of this
process over the whole read (Linux ``ru_maxrss``), so it is an upper bound.
"""

from __future__ import annotations

import base64
import os
import resource
import time

from bench import _hexload
from bench._report import Report
from domain.roles import Viewer
from security.users import add_user
from settings import Settings
from store.engine import make_engine, session_scope

PASSWORD = "bench passphrase 2026"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(report: Report) -> None:
    """Record streamed GeoJSON and CSV export throughput and peak memory growth on SpatiaLite."""
    from app import create_app

    n = int(os.environ.get("WATCHFLOOR_BENCH_EXPORT_ROWS", "200000"))
    url, _ = _hexload.spatialite(n)
    settings = Settings(database_url=url, env="test")
    engine = make_engine(url)
    with session_scope(engine) as s:
        from security.users import get_user

        if get_user(session=s, username="bench-analyst") is None:
            add_user(
                session=s,
                actor=Viewer.system(),
                username="bench-analyst",
                role="analyst",
                agency="MA-CFC",
                password=PASSWORD,
            )
    client = create_app(settings).server.test_client()
    auth = base64.b64encode(f"bench-analyst:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}"}
    for fmt in ("geojson", "csv"):
        for layer in ("incidents", "suspicious"):
            before = _rss_mib()
            start = time.perf_counter()
            resp = client.get(
                "/api/v1/export",
                query_string={"layer": layer, "format": fmt},
                headers=headers,
                buffered=False,
            )
            size = 0
            for piece in resp.response:
                size += len(piece)
            resp.close()
            seconds = time.perf_counter() - start
            import json

            rows = json.loads(resp.headers["X-Watchfloor-Metadata"])["rows"][layer]
            name = f"export_api.spatialite.{n}.{fmt}.{layer}"
            report.record(f"{name}.rows_per_s", rows / seconds, "rows/s", rows=rows)
            report.record(f"{name}.mib", size / 2**20, "MiB")
            report.record(f"{name}.rss_growth", _rss_mib() - before, "MiB")
    engine.dispose()

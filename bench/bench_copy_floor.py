"""The PostgreSQL server's own floor for loading 1,000,000 events: ``COPY`` and index builds alone.

``bench_ingest`` measures Watchfloor's import end to end. This bench asks what the database
server needs by itself for the same rows, with no importer at all: the rows are generated inside
PostgreSQL, written out once with ``COPY ... TO``, and read back with ``COPY ... FROM`` (psycopg
streams the file; the client does nothing else) into

1. a table with the columns of ``events`` and only its primary key (the bare floor),
2. the real ``events`` table of the migrated schema with its secondary indexes dropped, as the
   bulk import does (primary key, the ``(source_agency, external_id)`` unique key, the
   ``batch_id`` foreign key checked on every row, the check constraints, the statement
   triggers),

and then times building each secondary index of ``events`` (as the bulk import does after the
load). Every stage runs in a schema of its own, dropped afterwards. ``WATCHFLOOR_BENCH_ROWS``
sets another size; PostGIS is ``WATCHFLOOR_BENCH_POSTGIS_URL`` (``make bench`` sets it).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = int(os.environ.get("WATCHFLOOR_BENCH_ROWS", "1000000"))
COLUMNS = (
    "kind, category, source_category, occurred_at, reported_at, description, location_text, "
    "source_agency, external_id, handling, severity, lon, lat, geometry, cell, content_hash, "
    "batch_id, review_at, created_at, updated_at"
)
# Rows like an import's: Boston-area points, a year of times, distinct ids and hashes.
SOURCE_SQL = f"""
CREATE TABLE floor_source AS
SELECT CASE WHEN g % 3 = 0 THEN 'suspicious' ELSE 'incident' END AS kind,
       'CATEGORY ' || (g % 40) AS category,
       'Source category ' || (g % 40) AS source_category,
       timestamptz '2024-01-01' + (g % 31536000) * interval '1 second' AS occurred_at,
       NULL::timestamptz AS reported_at, NULL::text AS description,
       (g % 5000) || ' MAIN ST' AS location_text, 'BENCH' AS source_agency,
       'B' || g AS external_id, 'TLP:AMBER' AS handling, (1 + g % 5)::smallint AS severity,
       -71.2 + (g % 1000) * 0.0003 AS lon, 42.2 + (g / 1000) * 0.0003 AS lat,
       ST_SetSRID(ST_MakePoint(-71.2 + (g % 1000) * 0.0003, 42.2 + (g / 1000) * 0.0003), 4326)
           AS geometry,
       617700000000000000 + g AS cell, md5(g::text) || md5((g + 1)::text) AS content_hash,
       CAST(:batch AS bigint) AS batch_id, NULL::timestamptz AS review_at,
       now() AS created_at, now() AS updated_at
FROM generate_series(1, {ROWS}) AS g
"""


def _copy_in(engine: Any, table: str, path: Path) -> float:
    """``COPY table FROM`` the file (streamed by psycopg); return the wall seconds."""
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        started = time.perf_counter()
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table} ({COLUMNS}) FROM STDIN WITH (FORMAT csv)") as copy,
            path.open("rb") as handle,
        ):
            while block := handle.read(1 << 20):
                copy.write(block)
        return time.perf_counter() - started


def run(report: Any) -> None:
    """Generate the rows in PostgreSQL and time COPY and the index builds on their own."""
    from bench._schemas import postgis_schema
    from store.engine import make_engine
    from store.migrate import upgrade

    base = os.environ.get("WATCHFLOOR_BENCH_POSTGIS_URL", "")
    if not base:
        sys.stdout.write("  (skipped: WATCHFLOOR_BENCH_POSTGIS_URL is empty)\n")
        return
    with postgis_schema(base, "floor") as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            _measure(report, engine)
        finally:
            engine.dispose()


def _measure(report: Any, engine: Any) -> None:
    from sqlalchemy import text

    from store.models import Event, IngestBatch

    label = f"PostgreSQL alone, {ROWS:,} rows"
    with engine.begin() as conn:
        batch = conn.execute(
            IngestBatch.__table__.insert()
            .values(source_agency="BENCH", kind="suspicious", origin="floor.csv")
            .returning(IngestBatch.id)
        ).scalar_one()
        conn.execute(text(SOURCE_SQL), {"batch": batch})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        with engine.begin() as conn, path.open("wb") as out:
            cur = conn.connection.driver_connection.cursor()
            with cur.copy(f"COPY floor_source ({COLUMNS}) TO STDOUT WITH (FORMAT csv)") as cp:
                for block in cp:
                    out.write(block)
        report.record("load average at start", os.getloadavg()[0], "")
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE floor_bare (id bigserial PRIMARY KEY, "
                "LIKE floor_source INCLUDING DEFAULTS)"
            )
        bare = _copy_in(engine, "floor_bare", path)
        report.record(f"{label}: COPY, primary key only", bare, "s")
        # The B-tree indexes and the GiST index the bulk import drops and builds again.
        secondary = [ix for ix in Event.__table__.indexes if not ix.unique]
        with engine.begin() as conn:
            for ix in secondary:
                conn.exec_driver_sql(f"DROP INDEX {ix.name}")
        loaded = _copy_in(engine, "events", path)
        report.record(f"{label}: COPY into events, keys and checks", loaded, "s")
        total = 0.0
        with engine.begin() as conn:
            for ix in secondary:
                started = time.perf_counter()
                ix.create(conn)
                total += time.perf_counter() - started
        report.record(f"{label}: the {len(secondary)} secondary indexes", total, "s")
        report.record(
            f"{label}: floor (COPY into events + indexes)", ROWS / (loaded + total), "rows/s"
        )
        report.record("load average at end", os.getloadavg()[0], "")

"""Load synthetic events fast into a SpatiaLite file or a PostGIS schema, for the hex bench.

The general ingest path (validation, idempotent upsert) is not what is measured here; rows go
straight in with ``executemany`` (SQLite) or ``COPY`` (PostgreSQL).
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from analytics.cells import points_to_cells
from bench._schemas import postgis_schema
from store.engine import make_engine
from store.migrate import upgrade
from testkit import synthetic

AGENCIES = np.array(["BPD", "MSP", "CAMBRIDGE-PD", "WORCESTER-PD", "MA-CFC"])
CAVEATS = np.array(["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "LES", "TLP:AMBER+STRICT", "TLP:RED"])
CAVEAT_P = np.array([0.15, 0.35, 0.25, 0.15, 0.05, 0.05])
COLUMNS = (
    "kind, category, occurred_at, source_agency, external_id, handling, severity, lon, lat, "
    "geometry, cell, content_hash, created_at, updated_at"
)
DATA_DIR = Path(__file__).resolve().parents[1] / "var" / "bench" / "data"


def frame(n: int, seed: int = 42) -> pd.DataFrame:
    """Return ``n`` synthetic events with agencies, caveats, external ids and res-11 cells."""
    ev = synthetic.events(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    ev["source_agency"] = rng.choice(AGENCIES, n)
    ev["handling"] = rng.choice(CAVEATS, n, p=CAVEAT_P)
    ev["external_id"] = np.char.add("s", np.arange(n).astype(str))
    ev["cell"] = points_to_cells(ev["lat"].to_numpy(), ev["lon"].to_numpy(), 11)
    return ev


def _text_rows(ev: pd.DataFrame) -> pd.DataFrame:
    # SQLAlchemy's SQLite text format for UTC datetimes: always six fraction digits.
    stamp = ev["occurred_at"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    now = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M:%S.%f")
    return pd.DataFrame(
        {
            "kind": ev["kind"],
            "category": ev["category"],
            "occurred_at": stamp,
            "source_agency": ev["source_agency"],
            "external_id": ev["external_id"],
            "handling": ev["handling"],
            "severity": ev["severity"],
            "lon": ev["lon"],
            "lat": ev["lat"],
            "cell": ev["cell"],
        }
    ).assign(content_hash="h", created_at=now, updated_at=now)


def spatialite(n: int, seed: int = 42) -> tuple[str, float]:
    """Return the URL of a SpatiaLite file holding ``n`` events (built once, then reused)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"hexes_{n}_{seed}.sqlite"
    if path.exists():
        kept = make_engine(f"sqlite:///{path}")
        upgrade(kept)  # a file built by an older version gets the newer migrations
        kept.dispose()
        return f"sqlite:///{path}", float("nan")
    tmp = path.with_suffix(".part")
    tmp.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{tmp}")
    upgrade(engine)
    rows = _text_rows(frame(n, seed))
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA journal_mode=MEMORY")
        # Bulk load without indexes, then build them once: several times faster than per row.
        cur.execute("SELECT DisableSpatialIndex('events', 'geometry')")
        cur.execute("DROP TABLE idx_events_geometry")
        index_sql = [
            sql
            for (sql,) in cur.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
                "AND sql IS NOT NULL"
            ).fetchall()
        ]
        for sql in index_sql:
            cur.execute("DROP INDEX " + sql.split(" ON ")[0].split()[-1])
        sql = (
            f"INSERT INTO events ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,MakePoint(?,?,4326),?,?,?,?)"
        )
        for chunk in range(0, len(rows), 100_000):
            part = rows.iloc[chunk : chunk + 100_000]
            cur.executemany(
                sql,
                ((*r[:9], r[7], r[8], *r[9:]) for r in part.itertuples(index=False, name=None)),
            )
        raw.commit()
        for sql in index_sql:
            cur.execute(sql)
        cur.execute("SELECT CreateSpatialIndex('events', 'geometry')")
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    shutil.move(tmp, path)
    return f"sqlite:///{path}", time.perf_counter() - started


@contextmanager
def postgis(base_url: str, n: int, seed: int = 42) -> Iterator[tuple[str, float]]:
    """Yield the URL of a fresh PostGIS schema with ``n`` events (COPY), dropped afterwards."""
    with postgis_schema(base_url, "bench_hexes") as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield url, _copy(engine, _text_rows(frame(n, seed)))
        finally:
            engine.dispose()


def _copy(engine: Engine, rows: pd.DataFrame) -> float:
    started = time.perf_counter()
    rows = rows.assign(
        occurred_at=rows["occurred_at"] + "+00",
        created_at=rows["created_at"] + "+00",
        updated_at=rows["updated_at"] + "+00",
        geometry="SRID=4326;POINT(" + rows["lon"].map(repr) + " " + rows["lat"].map(repr) + ")",
    )[[c.strip() for c in COLUMNS.split(",")]]
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(f"COPY events ({COLUMNS}) FROM STDIN") as copy:
            for chunk in range(0, len(rows), 200_000):
                buf = io.StringIO()
                rows.iloc[chunk : chunk + 200_000].to_csv(buf, sep="\t", header=False, index=False)
                copy.write(buf.getvalue())
        raw.commit()
        with raw.cursor() as cur:
            cur.execute("ANALYZE events")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


SITE_SECTORS = np.array(
    ["Energy", "Transportation Systems", "Healthcare and Public Health", "Emergency Services"]
)


def add_sites(engine: Engine, n: int = 960, seed: int = 7) -> None:
    """Store ``n`` synthetic sites (the demo kit has 960) through the importer's writer: every
    map answer with the site layer draws them."""
    from store.engine import session_scope
    from store.writes import finish_batch, start_batch, upsert_sites

    rng = np.random.default_rng(seed)
    sites = pd.DataFrame(
        {
            "external_id": np.char.add("site", np.arange(n).astype(str)),
            "name": np.char.add("Site ", np.arange(n).astype(str)),
            "sector": rng.choice(SITE_SECTORS, n),
            "subtype": None,
            "tier": rng.integers(1, 4, n),
            "address": "1 Main Street",
            "handling": rng.choice(["TLP:CLEAR", "TLP:AMBER"], n, p=[0.9, 0.1]),
            "lon": rng.uniform(-73.3, -70.0, n),
            "lat": rng.uniform(41.3, 42.85, n),
        }
    )
    sites["cell"] = points_to_cells(sites["lat"].to_numpy(), sites["lon"].to_numpy(), 11)
    sites["content_hash"] = sites["external_id"]
    with session_scope(engine) as s:
        batch = start_batch(
            s,
            source_agency="MA-CFC",
            kind="site",
            origin="bench",
            content_sha256=None,
            profile=None,
        )
        counts = upsert_sites(s, sites, source_agency="MA-CFC", batch_id=batch.id)
        finish_batch(s, batch, rows_read=n, counts=counts, quarantined=0)

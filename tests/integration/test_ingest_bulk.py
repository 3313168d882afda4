"""The bulk-load path (indexes rebuilt after, SQLite row triggers paused) keeps the store whole.

A first chunk as full as ``chunk_rows`` marks a bulk load: afterwards every index and trigger is
back, the data version moved once, the R*Tree holds every point and keeps following new rows.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from data_loaders.ingest import ingest_path
from store.columnar import data_version
from store.engine import session_scope
from testkit.synthetic import events as synthetic_events

N = 900


def _write(path: Path, n: int, prefix: str) -> None:
    frame = synthetic_events(n, seed=5)
    frame.insert(0, "event_id", [f"{prefix}{i}" for i in range(n)])
    frame["occurred_at"] = frame["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.to_csv(path, index=False)


def _schema(engine: Engine) -> set[tuple[str, str]]:
    """The indexes and triggers on ``events`` (names), per backend."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text(
                    "SELECT type, name FROM sqlite_master WHERE tbl_name = 'events' "
                    "AND type IN ('index', 'trigger')"
                )
            ).all()
        else:
            rows = conn.execute(
                text(
                    "SELECT 'index', indexname FROM pg_indexes WHERE tablename = 'events' "
                    "AND schemaname = current_schema() UNION ALL SELECT 'trigger', tgname "
                    "FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal"
                )
            ).all()
    return {(str(kind), str(name)) for kind, name in rows}


def _token(engine: Engine) -> str:
    with session_scope(engine) as session:
        return str(data_version(session=session))  # all the events version's slots, combined


def test_a_bulk_load_restores_indexes_and_triggers_and_bumps_the_version(
    engine: Engine, tmp_path: Path
) -> None:
    before, token = _schema(engine), _token(engine)
    path = tmp_path / "bulk.csv"
    _write(path, N, "K")
    summary = ingest_path(
        engine,
        path,
        None,
        kind="suspicious",
        source="BULK",
        area=None,
        store_res=11,
        chunk_rows=300,  # a full first chunk: the bulk path
    )
    assert (summary.rows_read, summary.inserted, summary.quarantined) == (N, N, 0)
    assert _schema(engine) == before
    assert _token(engine) != token  # the paused version trigger ran once at the end

    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM idx_events_geometry")).scalar() == N
        # The packed R*Tree passes SQLite's own structural check.
        assert conn.execute(text("SELECT rtreecheck('idx_events_geometry')")).scalar() == "ok"
        enabled = conn.execute(
            text(
                "SELECT spatial_index_enabled FROM geometry_columns "
                "WHERE f_table_name = 'events' AND f_geometry_column = 'geometry'"
            )
        ).scalar()
        assert enabled == 1
        # The R*Tree answers a box query exactly like a scan of the point columns.
        box = {"x0": -71.2, "x1": -70.9, "y0": 42.2, "y1": 42.5}
        by_index = conn.execute(
            text(
                "SELECT count(*) FROM idx_events_geometry WHERE xmax >= :x0 AND xmin <= :x1 "
                "AND ymax >= :y0 AND ymin <= :y1"
            ),
            box,
        ).scalar()
        by_scan = conn.execute(
            text(
                "SELECT count(*) FROM events WHERE lon BETWEEN :x0 AND :x1 "
                "AND lat BETWEEN :y0 AND :y1"
            ),
            box,
        ).scalar()
        assert by_index == by_scan and by_scan

    # A small load afterwards goes through the live triggers: the R*Tree follows it.
    small = tmp_path / "small.csv"
    _write(small, 20, "L")
    token = _token(engine)
    again = ingest_path(
        engine, small, None, kind="suspicious", source="BULK", area=None, store_res=11
    )
    assert again.inserted == 20
    assert _token(engine) != token
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM idx_events_geometry")).scalar() == N + 20


def test_values_shared_by_every_row_are_stored_exactly(engine: Engine, tmp_path: Path) -> None:
    # On SQLite a column with one value in a chunk goes into the INSERT as a literal: a quote
    # in it must come back as written, and the columns that vary are still bound per row.
    path = tmp_path / "same.csv"
    frame = synthetic_events(600, seed=7)
    frame.insert(0, "event_id", [f"Q{i}" for i in range(600)])
    frame["occurred_at"] = frame["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame["category"] = "Don't know; '); DROP TABLE events; --"
    frame.to_csv(path, index=False)
    summary = ingest_path(
        engine,
        path,
        None,
        kind="suspicious",
        source="O'Neil PD",
        area=None,
        store_res=11,
        chunk_rows=300,
    )
    assert (summary.inserted, summary.quarantined) == (600, 0)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT source_agency, category, count(*), count(DISTINCT external_id), "
                "count(DISTINCT lon), count(description), min(batch_id) = max(batch_id) "
                "FROM events WHERE external_id LIKE 'Q%' GROUP BY source_agency, category"
            )
        ).all()
    distinct_lon = frame["lon"].nunique()
    assert [tuple(r) for r in rows] == [
        ("O'Neil PD", "Don't know; '); DROP TABLE events; --", 600, 600, distinct_lon, 0, True)
    ]

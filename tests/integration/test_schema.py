"""Migrations build the same schema as the models, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

import store.models  # noqa: F401
from store.base import Base
from store.migrate import include_object, schema_version, upgrade


def test_upgrade_head_has_no_autogenerate_diff(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        assert compare_metadata(ctx, Base.metadata) == []


def test_upgrade_is_idempotent_and_versioned(engine: Engine) -> None:
    assert schema_version(engine) == "i4_data_versions"
    assert upgrade(engine) == "i4_data_versions"
    tables = set(inspect(engine).get_table_names())
    assert {"events", "sites", "ingest_batches", "quarantined_rows", "event_revisions"} <= tables


def test_geometry_columns_are_registered_with_spatial_index(engine: Engine) -> None:
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("events")}
    assert "ix_events_cell" in indexes and "ix_events_occurred_at" in indexes
    from sqlalchemy import text

    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text(
                    "SELECT spatial_index_enabled FROM geometry_columns WHERE f_table_name='events'"
                )
            ).all()
            assert rows == [(1,)]
        else:
            rows = conn.execute(
                text("SELECT srid, type FROM geometry_columns WHERE f_table_name='events'")
            ).all()
            assert rows == [(4326, "POINT")]

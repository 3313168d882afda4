"""data versions

Revision ID: i4_data_versions
Revises: i6_security
Create Date: 2026-11-22

A ``data_versions`` table with one random token per watched table, replaced by triggers on every
write to ``events``; the in-process columnar cache of the hex engine is keyed by it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i4_data_versions"
down_revision = "i6_security"
branch_labels = None
depends_on = None

_SQLITE_OPS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    op.create_table(
        "data_versions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_versions")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("INSERT INTO data_versions (name, token) VALUES ('events', random())")
        # SQLite has only row triggers: one cheap UPDATE of a one-row table per written row.
        for what in _SQLITE_OPS:
            op.execute(
                f"CREATE TRIGGER events_version_{what.lower()} AFTER {what} ON events "
                "BEGIN UPDATE data_versions SET token = random() WHERE name = 'events'; END"
            )
    else:
        op.execute(
            "INSERT INTO data_versions (name, token) "
            "VALUES ('events', floor(random() * 9.0e18 - 4.5e18)::bigint)"
        )
        op.execute(
            "CREATE FUNCTION watchfloor_bump_events_version() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "UPDATE data_versions SET token = floor(random() * 9.0e18 - 4.5e18)::bigint "
            "WHERE name = 'events'; RETURN NULL; END $$"
        )
        # One bump per statement, not per row: a COPY of a million rows costs one UPDATE.
        op.execute(
            "CREATE TRIGGER events_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            "ON events FOR EACH STATEMENT EXECUTE FUNCTION watchfloor_bump_events_version()"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for what in _SQLITE_OPS:
            op.execute(f"DROP TRIGGER IF EXISTS events_version_{what.lower()}")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_version ON events")
        op.execute("DROP FUNCTION IF EXISTS watchfloor_bump_events_version()")
    op.drop_table("data_versions")

"""public ids of events and flags

Revision ID: i13_public_ids
Revises: i11_sites_version
Create Date: 2026-12-08

A ``public_id`` on ``events`` and ``flags``: 32 hex characters of randomness, unique, the only id
that leaves the server (APIs, exports, the dashboard), so the sequential integer keys no longer
tell a partner how many rows it may not see were stored between two of its own (issue #18,
finding 6). Existing rows get theirs here; new rows get theirs from the application (the model
default, and the bulk ingest path in ``store/bulk.py``); a row inserted by hand without one gets
one from the database (PostgreSQL: a column default; SQLite: a trigger, as its ``ALTER TABLE``
cannot add a column with an expression default).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i13_public_ids"
down_revision = "i12_sessions"
branch_labels = None
depends_on = None

_TABLES = ("events", "flags")
# PostgreSQL >= 13: gen_random_uuid() is core and cryptographically strong (122 random bits).
_PG_DEFAULT = "replace(gen_random_uuid()::text, '-', '')"
# SQLite >= 3.40: randomblob() is ChaCha20 seeded from the operating system.
_SQLITE_RANDOM = "lower(hex(randomblob(16)))"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in _TABLES:
        if sqlite:
            op.add_column(
                table,
                sa.Column("public_id", sa.String(32), nullable=False, server_default=""),
            )
            op.execute(f"UPDATE {table} SET public_id = {_SQLITE_RANDOM}")
            op.execute(
                f"CREATE TRIGGER {table}_public_id AFTER INSERT ON {table} "
                f"WHEN NEW.public_id = '' BEGIN UPDATE {table} SET public_id = {_SQLITE_RANDOM} "
                "WHERE id = NEW.id; END"
            )
        else:
            # A volatile default: PostgreSQL rewrites the table and gives every row its own.
            op.add_column(
                table,
                sa.Column(
                    "public_id", sa.String(32), nullable=False, server_default=sa.text(_PG_DEFAULT)
                ),
            )
        op.create_index(f"ix_{table}_public_id", table, ["public_id"], unique=True)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in _TABLES:
        if sqlite:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_public_id")
        op.drop_index(f"ix_{table}_public_id", table_name=table)
        op.drop_column(table, "public_id")

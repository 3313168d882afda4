"""user prefs and the flags data version

Revision ID: i8_user_prefs
Revises: i6b_batch_importer
Create Date: 2026-12-02

A ``flags`` row in ``data_versions``, replaced by triggers on every write to ``flags`` (the live
desk reads ``events`` and ``flags`` tokens in one indexed read to learn that something changed),
and a ``user_prefs`` table (theme, wall mode, sound, what the user last acknowledged).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i8_user_prefs"
down_revision = "i6b_batch_importer"
branch_labels = None
depends_on = None

_SQLITE_OPS = ("INSERT", "UPDATE", "DELETE")
_PG_RANDOM = "floor(random() * 9.0e18 - 4.5e18)::bigint"
# PostgreSQL: one bump per statement, and none for a statement that touched no row.
_PG_TRIGGERS = (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))


def upgrade() -> None:
    op.create_table(
        "user_prefs",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("theme", sa.String(length=16), nullable=False),
        sa.Column("wall_mode", sa.Boolean(), nullable=False),
        sa.Column("sound", sa.Boolean(), nullable=False),
        sa.Column("feed_seen_id", sa.BigInteger(), nullable=False),
        sa.Column("flags_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_user_prefs")),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("INSERT INTO data_versions (name, token) VALUES ('flags', random())")
        for what in _SQLITE_OPS:
            op.execute(
                f"CREATE TRIGGER flags_version_{what.lower()} AFTER {what} ON flags "
                "BEGIN UPDATE data_versions SET token = random() WHERE name = 'flags'; END"
            )
        return
    op.execute(f"INSERT INTO data_versions (name, token) VALUES ('flags', {_PG_RANDOM})")
    bump = f"UPDATE data_versions SET token = {_PG_RANDOM} WHERE name = 'flags';"
    op.execute(
        "CREATE FUNCTION watchfloor_bump_flags_version() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN IF EXISTS (SELECT 1 FROM touched) THEN {bump} END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION watchfloor_bump_flags_version_all() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN {bump} RETURN NULL; END $$"
    )
    for what, table in _PG_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER flags_version_{what} AFTER {what.upper()} ON flags "
            f"REFERENCING {table} TABLE AS touched FOR EACH STATEMENT "
            "EXECUTE FUNCTION watchfloor_bump_flags_version()"
        )
    op.execute(
        "CREATE TRIGGER flags_version_truncate AFTER TRUNCATE ON flags "
        "FOR EACH STATEMENT EXECUTE FUNCTION watchfloor_bump_flags_version_all()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for what in _SQLITE_OPS:
            op.execute(f"DROP TRIGGER IF EXISTS flags_version_{what.lower()}")
    else:
        for what in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS flags_version_{what} ON flags")
        op.execute("DROP FUNCTION IF EXISTS watchfloor_bump_flags_version()")
        op.execute("DROP FUNCTION IF EXISTS watchfloor_bump_flags_version_all()")
    op.execute("DELETE FROM data_versions WHERE name = 'flags'")
    op.drop_table("user_prefs")

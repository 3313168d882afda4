"""events rewrite token

Revision ID: i4b_events_rewrite_token
Revises: i4_data_versions
Create Date: 2026-11-22

A second ``data_versions`` row, ``events_rewrite``, replaced only when events are updated or
deleted (not when they are inserted). While it stays the same, the columnar cache knows that
only new rows arrived and reads just those (``store/columnar.py``) instead of every event.
PostgreSQL: statement triggers with transition tables, so an UPDATE or DELETE that touches no
row changes nothing; SQLite: the existing row triggers for UPDATE and DELETE bump both tokens.
"""

from __future__ import annotations

from alembic import op

revision = "i4b_events_rewrite_token"
down_revision = "i4_data_versions"
branch_labels = None
depends_on = None

_PG_RANDOM = "floor(random() * 9.0e18 - 4.5e18)::bigint"


def _sqlite_triggers(names: str) -> None:
    for what in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS events_version_{what.lower()}")
        op.execute(
            f"CREATE TRIGGER events_version_{what.lower()} AFTER {what} ON events "
            f"BEGIN UPDATE data_versions SET token = random() WHERE name IN ({names}); END"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("INSERT INTO data_versions (name, token) VALUES ('events_rewrite', random())")
        _sqlite_triggers("'events', 'events_rewrite'")
        return
    op.execute(f"INSERT INTO data_versions (name, token) VALUES ('events_rewrite', {_PG_RANDOM})")
    bump = f"UPDATE data_versions SET token = {_PG_RANDOM} WHERE name = 'events_rewrite';"
    op.execute(
        "CREATE FUNCTION watchfloor_bump_events_rewrite() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN IF EXISTS (SELECT 1 FROM touched) THEN {bump} END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION watchfloor_bump_events_rewrite_all() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN {bump} RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER events_rewrite_update AFTER UPDATE ON events "
        "REFERENCING NEW TABLE AS touched FOR EACH STATEMENT "
        "EXECUTE FUNCTION watchfloor_bump_events_rewrite()"
    )
    op.execute(
        "CREATE TRIGGER events_rewrite_delete AFTER DELETE ON events "
        "REFERENCING OLD TABLE AS touched FOR EACH STATEMENT "
        "EXECUTE FUNCTION watchfloor_bump_events_rewrite()"
    )
    op.execute(
        "CREATE TRIGGER events_rewrite_truncate AFTER TRUNCATE ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION watchfloor_bump_events_rewrite_all()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers("'events'")
    else:
        for name in ("update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS events_rewrite_{name} ON events")
        op.execute("DROP FUNCTION IF EXISTS watchfloor_bump_events_rewrite()")
        op.execute("DROP FUNCTION IF EXISTS watchfloor_bump_events_rewrite_all()")
    op.execute("DELETE FROM data_versions WHERE name = 'events_rewrite'")

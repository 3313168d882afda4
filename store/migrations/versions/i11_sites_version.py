"""sites data version

Revision ID: i11_sites_version
Revises: i10_events_version_slots
Create Date: 2026-12-07

A ``sites`` row in ``data_versions``, replaced by triggers on every write to ``sites``, as the
``flags`` row is for flags (``i8_user_prefs``). The map's site layer is the same for every
request of a visibility class while the sites do not change; with the token one indexed read
tells whether the sites read before are still right (``store.queries.sites``), instead of
reading every site again for each map answer (issue #8).
"""

from __future__ import annotations

from alembic import op

revision = "i11_sites_version"
down_revision = "i10_events_version_slots"
branch_labels = None
depends_on = None

_SQLITE_OPS = ("INSERT", "UPDATE", "DELETE")
_PG_RANDOM = "floor(random() * 9.0e18 - 4.5e18)::bigint"
# PostgreSQL: one bump per statement, and none for a statement that touched no row.
_PG_TRIGGERS = (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("INSERT INTO data_versions (name, token) VALUES ('sites', random())")
        for what in _SQLITE_OPS:
            op.execute(
                f"CREATE TRIGGER sites_version_{what.lower()} AFTER {what} ON sites "
                "BEGIN UPDATE data_versions SET token = random() WHERE name = 'sites'; END"
            )
        return
    op.execute(f"INSERT INTO data_versions (name, token) VALUES ('sites', {_PG_RANDOM})")
    bump = f"UPDATE data_versions SET token = {_PG_RANDOM} WHERE name = 'sites';"
    op.execute(
        "CREATE FUNCTION watchfloor_bump_sites_version() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN IF EXISTS (SELECT 1 FROM touched) THEN {bump} END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION watchfloor_bump_sites_version_all() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN {bump} RETURN NULL; END $$"
    )
    for what, table in _PG_TRIGGERS:
        op.execute(
            f"CREATE TRIGGER sites_version_{what} AFTER {what.upper()} ON sites "
            f"REFERENCING {table} TABLE AS touched FOR EACH STATEMENT "
            "EXECUTE FUNCTION watchfloor_bump_sites_version()"
        )
    op.execute(
        "CREATE TRIGGER sites_version_truncate AFTER TRUNCATE ON sites "
        "FOR EACH STATEMENT EXECUTE FUNCTION watchfloor_bump_sites_version_all()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for what in _SQLITE_OPS:
            op.execute(f"DROP TRIGGER IF EXISTS sites_version_{what.lower()}")
    else:
        for what in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS sites_version_{what} ON sites")
        op.execute("DROP FUNCTION IF EXISTS watchfloor_bump_sites_version()")
        op.execute("DROP FUNCTION IF EXISTS watchfloor_bump_sites_version_all()")
    op.execute("DELETE FROM data_versions WHERE name = 'sites'")

"""events version slots

Revision ID: i10_events_version_slots
Revises: i9_export_jobs
Create Date: 2026-12-02

PostgreSQL: the events data version is spread over 16 rows of ``data_versions`` (``events`` and
``events.1`` .. ``events.15``); the readers combine them (``store.models.version``). Each
insert, update or delete statement on ``events`` replaced the one ``events`` token, and the row
lock that took was held to the end of the transaction: concurrent API batches committed one
at a time (issue #8). Now a transaction's first statement replaces the token of a slot no other
open transaction holds (``FOR UPDATE SKIP LOCKED``) and its later statements the same slot;
only when every slot is held does a writer wait, for ``events``. A committed write has
changed one slot, so the combined version changes with every commit, in any commit order; a
rolled-back one changes nothing. SQLite keeps its one row: it has one writer at a time.
"""

from __future__ import annotations

from alembic import op

revision = "i10_events_version_slots"
down_revision = "i9_export_jobs"
branch_labels = None
depends_on = None

SLOTS = 16  # store.models.version.EVENT_VERSION_SLOTS names them
_PG_RANDOM = "floor(random() * 9.0e18 - 4.5e18)::bigint"
_SETTING = "watchfloor.events_version_slot"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for k in range(1, SLOTS):
        op.execute(f"INSERT INTO data_versions (name, token) VALUES ('events.{k}', {_PG_RANDOM})")
    # set_config(..., true) lasts to the end of the transaction: its later statements reuse the
    # slot they hold instead of taking (and holding) another.
    op.execute(
        "CREATE OR REPLACE FUNCTION watchfloor_bump_events_version() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ DECLARE slot text; BEGIN "
        f"slot := nullif(current_setting('{_SETTING}', true), ''); "
        "IF slot IS NULL THEN "
        "SELECT name INTO slot FROM data_versions WHERE name = 'events' OR name LIKE 'events.%' "
        "ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED; "
        "slot := coalesce(slot, 'events'); "
        f"PERFORM set_config('{_SETTING}', slot, true); "
        "END IF; "
        f"UPDATE data_versions SET token = {_PG_RANDOM} WHERE name = slot; "
        "RETURN NULL; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION watchfloor_bump_events_version() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"UPDATE data_versions SET token = {_PG_RANDOM} WHERE name = 'events'; "
        "RETURN NULL; END $$"
    )
    op.execute("DELETE FROM data_versions WHERE name LIKE 'events.%'")

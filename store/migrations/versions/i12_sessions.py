"""server-side sessions

Revision ID: i12_sessions
Revises: i11_sites_version
Create Date: 2026-12-08

A ``user_sessions`` row per sign-in (issue #18): the session cookie carries a random secret whose
SHA-256 is the row's id, so signing out (or an idle or lifetime expiry) ends that one session
for every copy of its cookie, and the absolute lifetime counts from ``created_at`` on the
server. Sessions opened before this revision carry no id and end at the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i12_sessions"
down_revision = "i11_sites_version"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))
    op.drop_table("user_sessions")

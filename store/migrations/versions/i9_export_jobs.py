"""export jobs of the dashboard

Revision ID: i9_export_jobs
Revises: i8_user_prefs
Create Date: 2026-12-02

One row per export started from the dashboard (issue #7): the job writes its file chunk by chunk
under the var directory and keeps its progress and heartbeat here, so any worker answers a poll.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i9_export_jobs"
down_revision = "i8_user_prefs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("layer", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("res", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("filename", sa.String(length=128), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    op.create_index(
        "ix_export_jobs_username_created_at", "export_jobs", ["username", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_export_jobs_username_created_at", table_name="export_jobs")
    op.drop_table("export_jobs")

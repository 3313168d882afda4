"""ingest batch importer agency

Revision ID: i6b_batch_importer
Revises: i4b_events_rewrite_token
Create Date: 2026-12-02

``ingest_batches.imported_by_agency``: the agency of the user who uploaded the file in the
dashboard. Quarantined rows keep a file's original content, so only that agency and the
batch's source agency may download them (store/queries/quarantine.py). Older batches have none:
only their source agency (and the command line) may read their quarantined rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "i6b_batch_importer"
down_revision = "i4b_events_rewrite_token"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "ingest_batches", sa.Column("imported_by_agency", sa.String(length=64), nullable=True)
    )


def downgrade() -> None:
    # Plain ALTER on both backends (SQLite >= 3.35): a batch rebuild of ingest_batches would
    # drop a table that events and quarantined rows reference.
    op.execute("ALTER TABLE ingest_batches DROP COLUMN imported_by_agency")

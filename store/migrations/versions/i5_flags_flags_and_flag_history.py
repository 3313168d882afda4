"""flags and flag history

Revision ID: i5_flags
Revises: i7_areas
Create Date: 2026-11-22

Flags (clusters near infrastructure) with their follow-up, and the history of every change.
"""

from __future__ import annotations


import sqlalchemy as sa
from alembic import op


revision = 'i5_flags'
down_revision = "i7_areas"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('flags',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('disposition', sa.String(length=16), nullable=True),
    sa.Column('assignee', sa.String(length=128), nullable=True),
    sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=False),
    sa.Column('q_value', sa.Float(), nullable=False),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=False),
    sa.Column('res', sa.SmallInteger(), nullable=False),
    sa.Column('cells', sa.Text(), nullable=False),
    sa.Column('event_ids', sa.Text(), nullable=False),
    sa.Column('site_ids', sa.Text(), nullable=False),
    sa.Column('nearest_site_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('nearest_distance_m', sa.Float(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('handling', sa.String(length=24), nullable=False),
    sa.Column('source_agency', sa.String(length=64), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_event_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detections', sa.Integer(), nullable=False),
    sa.Column('recurrences', sa.Integer(), nullable=False),
    sa.Column('related_flag_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("disposition IS NULL OR disposition IN ('actionable', 'benign', 'duplicate', 'referred')", name=op.f('ck_flags_disposition')),
    sa.CheckConstraint("status IN ('new', 'acknowledged', 'assigned', 'closed')", name=op.f('ck_flags_status')),
    sa.ForeignKeyConstraint(['nearest_site_id'], ['sites.id'], name=op.f('fk_flags_nearest_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_flags_fingerprint'))
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_handling'), ['handling'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_nearest_site_id'), ['nearest_site_id'], unique=False)
        batch_op.create_index('ix_flags_status_priority', ['status', 'priority'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_window_end'), ['window_end'], unique=False)

    op.create_table('flag_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('flag_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('details', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], name=op.f('fk_flag_history_flag_id_flags')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flag_history'))
    )
    with op.batch_alter_table('flag_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_history_flag_id'), ['flag_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('flag_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_history_flag_id'))

    op.drop_table('flag_history')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_window_end'))
        batch_op.drop_index('ix_flags_status_priority')
        batch_op.drop_index(batch_op.f('ix_flags_nearest_site_id'))
        batch_op.drop_index(batch_op.f('ix_flags_handling'))

    op.drop_table('flags')


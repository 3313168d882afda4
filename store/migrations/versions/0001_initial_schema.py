"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22

Events, sites, ingest batches, quarantined rows and event revisions, with point geometry
(EPSG:4326) and spatial indexes on SpatiaLite and PostGIS.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ingest_batches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_agency', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=512), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=True),
    sa.Column('profile', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('inserted', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('quarantined', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_batches'))
    )
    with op.batch_alter_table('ingest_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingest_batches_source_agency'), ['source_agency'], unique=False)

    op.create_geospatial_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=128), nullable=False),
    sa.Column('source_category', sa.String(length=256), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('location_text', sa.String(length=512), nullable=True),
    sa.Column('source_agency', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('handling', sa.String(length=24), nullable=False),
    sa.Column('severity', sa.SmallInteger(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('geometry', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('cell', sa.BigInteger(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('suspicious', 'incident')", name=op.f('ck_events_kind')),
    sa.CheckConstraint('severity BETWEEN 1 AND 5', name=op.f('ck_events_severity')),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.id'], name=op.f('fk_events_batch_id_ingest_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('source_agency', 'external_id', name=op.f('uq_events_source_agency'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_events_geometry', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_events_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_cell'), ['cell'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_handling'), ['handling'], unique=False)
        batch_op.create_index('ix_events_kind_occurred_at', ['kind', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('quarantined_rows',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.id'], name=op.f('fk_quarantined_rows_batch_id_ingest_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantined_rows'))
    )
    with op.batch_alter_table('quarantined_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantined_rows_batch_id'), ['batch_id'], unique=False)

    op.create_geospatial_table('sites',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('sector', sa.String(length=64), nullable=False),
    sa.Column('subtype', sa.String(length=128), nullable=True),
    sa.Column('tier', sa.SmallInteger(), nullable=False),
    sa.Column('protection_radius_m', sa.Float(), nullable=True),
    sa.Column('address', sa.String(length=512), nullable=True),
    sa.Column('attributes', sa.Text(), nullable=True),
    sa.Column('source_agency', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('handling', sa.String(length=24), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('geometry', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('cell', sa.BigInteger(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('tier BETWEEN 1 AND 3', name=op.f('ck_sites_tier')),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.id'], name=op.f('fk_sites_batch_id_ingest_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('source_agency', 'external_id', name=op.f('uq_sites_source_agency'))
    )
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_sites_geometry', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_sites_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sites_cell'), ['cell'], unique=False)
        batch_op.create_index(batch_op.f('ix_sites_sector'), ['sector'], unique=False)

    op.create_table('event_revisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.id'], name=op.f('fk_event_revisions_batch_id_ingest_batches')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_revisions_event_id_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_revisions'))
    )
    with op.batch_alter_table('event_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_revisions_event_id'), ['event_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('event_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_revisions_event_id'))

    op.drop_table('event_revisions')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sites_sector'))
        batch_op.drop_index(batch_op.f('ix_sites_cell'))
        batch_op.drop_index(batch_op.f('ix_sites_batch_id'))
        batch_op.drop_geospatial_index('idx_sites_geometry', postgresql_using='gist', column_name='geometry')

    op.drop_geospatial_table('sites')
    with op.batch_alter_table('quarantined_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantined_rows_batch_id'))

    op.drop_table('quarantined_rows')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_occurred_at'))
        batch_op.drop_index('ix_events_kind_occurred_at')
        batch_op.drop_index(batch_op.f('ix_events_handling'))
        batch_op.drop_index(batch_op.f('ix_events_cell'))
        batch_op.drop_index(batch_op.f('ix_events_batch_id'))
        batch_op.drop_geospatial_index('idx_events_geometry', postgresql_using='gist', column_name='geometry')

    op.drop_geospatial_table('events')
    with op.batch_alter_table('ingest_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingest_batches_source_agency'))

    op.drop_table('ingest_batches')

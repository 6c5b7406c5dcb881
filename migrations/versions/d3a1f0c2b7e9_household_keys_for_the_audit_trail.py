"""household keys for the audit trail's personal fields

Revision ID: d3a1f0c2b7e9
Revises: e4332c3ec2e7
Create Date: 2026-12-01 17:10:00.000000

Each household's key seals the personal fields of its audit events from now on
(casework.audit.keys); anonymisation destroys it. Events written before this migration keep
their payloads as they were: sealing them would mean rewriting append-only, hash-chained
rows and re-hashing the chain, which is exactly what the chain exists to reveal.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3a1f0c2b7e9'
down_revision = 'e4332c3ec2e7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('household_keys',
    sa.Column('household_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('wrapped_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('shredded_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('household_id', name=op.f('pk_household_keys'))
    )


def downgrade():
    op.drop_table('household_keys')

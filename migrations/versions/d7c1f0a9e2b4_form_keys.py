"""one-time form keys

Revision ID: d7c1f0a9e2b4
Revises: a05bb0e3cb60
Create Date: 2026-12-01 17:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd7c1f0a9e2b4'
down_revision = 'a05bb0e3cb60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('form_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_form_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_keys')),
    sa.UniqueConstraint('user_id', 'key', name=op.f('uq_form_keys_user_id_key'))
    )
    with op.batch_alter_table('form_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_keys_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('form_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_keys_created_at'))

    op.drop_table('form_keys')

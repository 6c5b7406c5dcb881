"""outbox: a stored Message-ID per message

Revision ID: a27e5c1d9f02
Revises: a8c4e2d9f713
Create Date: 2026-12-01 18:40:00.000000

Each message keeps the Message-ID it was first sent with, so a resend after a crash carries the
same one. Messages already queued get the one the old code made from their id (in the domain
of CASEWORK_MAIL_FROM, as the old code did).
"""
import os

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a27e5c1d9f02'
down_revision = 'a8c4e2d9f713'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=250), nullable=True))
    domain = (os.environ.get('CASEWORK_MAIL_FROM') or 'casework@localhost').rpartition('@')[2]
    op.get_bind().execute(
        sa.text("UPDATE outbox SET message_id = '<casework-outbox-' || CAST(id AS VARCHAR(20)) || :tail"),
        {'tail': f'@{domain}>'},
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('message_id', existing_type=sa.String(length=250), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_outbox_message_id'), ['message_id'])


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_outbox_message_id'), type_='unique')
        batch_op.drop_column('message_id')

"""login attempts: whether the password was checked

Revision ID: a8c4e2d9f713
Revises: b30fb34b8311
Create Date: 2026-12-01 18:40:00.000000

An attempt the throttle refused is stored without its password having been tried: the flag
tells the two apart, so that the limit can be seen to hold (exactly so many checked). Attempts
stored before this column existed are marked unchecked: which of them were is not known.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a8c4e2d9f713'
down_revision = 'b30fb34b8311'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('checked', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_column('checked')

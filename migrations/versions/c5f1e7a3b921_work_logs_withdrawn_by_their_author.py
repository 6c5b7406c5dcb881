"""work logs: withdrawn by their author before anyone decided them

Revision ID: c5f1e7a3b921
Revises: a27e5c1d9f02
Create Date: 2026-12-01 20:00:00.000000

A new log status, ``withdrawn``, with who withdrew the log, when and why. A withdrawn log is
kept (history is never deleted) and counts nowhere. ``work_logs`` is referenced only by
itself (a correction's ``reverses_id``), so batch mode may recreate it on SQLite; the
status CHECK is dropped and created again with the new list on both databases.

The value lists are written out here, not read from the app's enums: a migration must keep
its meaning when the code changes later.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5f1e7a3b921'
down_revision = 'a27e5c1d9f02'
branch_labels = None
depends_on = None

OLD_STATUSES = ('logged', 'verified', 'rejected')
NEW_STATUSES = OLD_STATUSES + ('withdrawn',)
WITHDRAWAL_RECORDED = (
    "(status = 'withdrawn') = (withdrawn_by_id IS NOT NULL AND withdrawn_at IS NOT NULL)"
)


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    with op.batch_alter_table('work_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('withdrawal_reason', sa.Text(), nullable=False, server_default='')
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_work_logs_withdrawn_by_id_users'), 'users', ['withdrawn_by_id'], ['id']
        )
        batch_op.drop_constraint(batch_op.f('ck_work_logs_status'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_work_logs_status'), _in('status', NEW_STATUSES)
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_work_logs_withdrawal_recorded'), WITHDRAWAL_RECORDED
        )
    # The rows are there: the column's default is the app's, as for every other column.
    with op.batch_alter_table('work_logs', schema=None) as batch_op:
        batch_op.alter_column('withdrawal_reason', existing_type=sa.Text(), server_default=None)


def downgrade():
    # The old list has no withdrawn: such a log was taken back before anyone decided it,
    # which the old statuses say as rejected, its reason kept.
    op.execute(
        "UPDATE work_logs SET status = 'rejected', rejection_reason = withdrawal_reason "
        "WHERE status = 'withdrawn'"
    )
    with op.batch_alter_table('work_logs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_work_logs_withdrawal_recorded'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_work_logs_status'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_work_logs_status'), _in('status', OLD_STATUSES)
        )
        batch_op.drop_constraint(
            batch_op.f('fk_work_logs_withdrawn_by_id_users'), type_='foreignkey'
        )
        batch_op.drop_column('withdrawal_reason')
        batch_op.drop_column('withdrawn_at')
        batch_op.drop_column('withdrawn_by_id')

"""closing an enrollment early, with its reason; reopening

Revision ID: e4332c3ec2e7
Revises: 9ec49c6175d9
Create Date: 2026-12-01 17:20:00.000000

A new enrollment status, ``closed_early``, and the reason an enrollment was closed early
(on the enrollment and on the step of its history). The statuses' CHECK constraints are
widened to the new list on both databases:

- PostgreSQL: dropped and created again.
- SQLite cannot alter a constraint, and batch mode would recreate ``enrollments``, which six
  tables reference (dropping it deletes their rows' parent, and the foreign keys refuse).
  Widening a CHECK changes nothing on disk, so the table's stored definition is edited in
  place, the way SQLite's documentation gives for removing a CHECK constraint
  (https://www.sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes").
  The new columns come with plain ``ALTER TABLE ADD COLUMN``, their CHECK with them.

The value lists are written out here, not read from the app's enums: a migration must keep
its meaning when the code changes later.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4332c3ec2e7'
down_revision = '9ec49c6175d9'
branch_labels = None
depends_on = None

OLD_STATUSES = ('applied', 'approved', 'active', 'completed', 'withdrawn', 'rejected')
NEW_STATUSES = OLD_STATUSES + ('closed_early',)
CLOSE_REASONS = ('moved_away', 'died', 'unable_to_work', 'commission_decision', 'other')

# (table, column, constraint name): the status columns whose CHECK lists the statuses.
STATUS_CHECKS = (
    ('enrollments', 'status', 'ck_enrollments_status'),
    ('enrollment_events', 'to_status', 'ck_enrollment_events_to_status'),
)
REASON_TABLES = ('enrollments', 'enrollment_events')


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sqlite_replace_checks(replacements):
    """Edit the CHECKs in the stored CREATE TABLE statements: ``replacements`` is
    (table, old text, new text). Only for a constraint that admits at least what it did."""
    conn = op.get_bind()
    version = conn.exec_driver_sql('PRAGMA schema_version').scalar()
    conn.exec_driver_sql('PRAGMA writable_schema = ON')
    for table, old, new in replacements:
        sql = conn.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {'name': table},
        ).scalar()
        if old not in sql:
            raise RuntimeError(f'{table}: the CHECK to replace is not as expected')
        conn.execute(
            sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :name"),
            {'sql': sql.replace(old, new), 'name': table},
        )
    conn.exec_driver_sql(f'PRAGMA schema_version = {int(version) + 1}')
    conn.exec_driver_sql('PRAGMA writable_schema = OFF')
    problems = conn.exec_driver_sql('PRAGMA integrity_check').scalars().all()
    if problems != ['ok']:
        raise RuntimeError(f'integrity check after editing the schema: {problems}')


def _replace_status_checks(old, new):
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_replace_checks(
            [(table, _in(column, old), _in(column, new)) for table, column, _ in STATUS_CHECKS]
        )
        return
    for table, column, name in STATUS_CHECKS:
        op.drop_constraint(op.f(name), table, type_='check')
        op.create_check_constraint(op.f(name), table, _in(column, new))


def upgrade():
    _replace_status_checks(OLD_STATUSES, NEW_STATUSES)
    for table in REASON_TABLES:
        name = f'ck_{table}_close_reason'
        if op.get_bind().dialect.name == 'sqlite':
            op.execute(
                f'ALTER TABLE {table} ADD COLUMN close_reason VARCHAR(20) '
                f'CONSTRAINT {name} CHECK ({_in("close_reason", CLOSE_REASONS)})'
            )
        else:
            op.add_column(table, sa.Column('close_reason', sa.String(length=20), nullable=True))
            op.create_check_constraint(op.f(name), table, _in('close_reason', CLOSE_REASONS))


def downgrade():
    # The old list has no closed_early: those enrollments end as withdrawn, and the history
    # keeps the reason in its text.
    op.execute(
        "UPDATE enrollment_events SET reason = close_reason || ': ' || reason "
        "WHERE close_reason IS NOT NULL"
    )
    op.execute(
        "UPDATE enrollment_events SET to_status = 'withdrawn' WHERE to_status = 'closed_early'"
    )
    op.execute(
        "UPDATE enrollment_events SET from_status = 'withdrawn' WHERE from_status = 'closed_early'"
    )
    op.execute("UPDATE enrollments SET status = 'withdrawn' WHERE status = 'closed_early'")
    for table in REASON_TABLES:
        if op.get_bind().dialect.name != 'sqlite':
            op.drop_constraint(op.f(f'ck_{table}_close_reason'), table, type_='check')
        # Plain DROP COLUMN (SQLite 3.35+; the column's own CHECK goes with it): batch mode
        # would recreate enrollments, which other tables reference.
        op.drop_column(table, 'close_reason')
    _replace_status_checks(NEW_STATUSES, OLD_STATUSES)

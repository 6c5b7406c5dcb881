"""statements stored once, voided and replaced; customer number corrections

Revision ID: b30fb34b8311
Revises: d3a1f0c2b7e9
Create Date: 2026-12-01 17:00:56.361394

A statement number is unique per account among the statements not voided. A database that
already holds the same statement twice keeps the first (or the one a payment request was made
on) and has the others voided here, with the reason, in the name of whoever entered them.
"""
from datetime import date

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b30fb34b8311'
down_revision = 'd3a1f0c2b7e9'
branch_labels = None
depends_on = None

STORED_TWICE = "Stored twice: voided when statement numbers became unique per account."


def upgrade():
    op.create_table('customer_number_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('old_number', sa.String(length=40), nullable=False),
    sa.Column('new_number', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('corrected_on', sa.Date(), nullable=False),
    sa.Column('corrected_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['utility_accounts.id'], name=op.f('fk_customer_number_corrections_account_id_utility_accounts')),
    sa.ForeignKeyConstraint(['corrected_by_id'], ['users.id'], name=op.f('fk_customer_number_corrections_corrected_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_number_corrections'))
    )
    with op.batch_alter_table('customer_number_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_number_corrections_account_id'), ['account_id'], unique=False)

    # Plain ALTER TABLE, not batch mode: recreating arrears on SQLite would drop the table that
    # payment requests point at (refused with foreign keys enforced).
    # (SQLite adds a column's foreign key only inline, in the ADD COLUMN itself.)
    for column, target, name in (
        ('replaces_id', 'arrears', 'fk_arrears_replaces_id_arrears'),
        ('voided_by_id', 'users', 'fk_arrears_voided_by_id_users'),
    ):
        if op.get_bind().dialect.name == 'sqlite':
            op.execute(f'ALTER TABLE arrears ADD COLUMN {column} INTEGER CONSTRAINT {name} REFERENCES {target} (id)')
        else:
            op.add_column('arrears', sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(op.f(name), 'arrears', target, [column], ['id'])
    op.add_column('arrears', sa.Column('voided_on', sa.Date(), nullable=True))
    op.add_column('arrears', sa.Column('void_reason', sa.Text(), server_default='', nullable=False))
    op.create_index(op.f('ix_arrears_replaces_id'), 'arrears', ['replaces_id'], unique=True)
    _void_statements_stored_twice()
    op.create_index('uq_arrears_one_statement_per_account', 'arrears', ['account_id', 'statement_ref'], unique=True, sqlite_where=sa.text('voided_on IS NULL'), postgresql_where=sa.text('voided_on IS NULL'))


def _void_statements_stored_twice():
    conn = op.get_bind()
    arrears = sa.table(
        "arrears", sa.column("id"), sa.column("account_id"), sa.column("statement_ref"),
        sa.column("recorded_by_id"), sa.column("voided_on"), sa.column("voided_by_id"),
        sa.column("void_reason"),
    )
    requests = sa.table("payment_requests", sa.column("arrear_id"))
    requested = {row[0] for row in conn.execute(sa.select(requests.c.arrear_id).distinct())}
    rows = conn.execute(
        sa.select(arrears.c.id, arrears.c.account_id, arrears.c.statement_ref, arrears.c.recorded_by_id)
        .order_by(arrears.c.id)
    ).all()
    groups = {}
    for id_, account_id, ref, recorded_by in rows:
        groups.setdefault((account_id, ref), []).append((id_, recorded_by))
    for group in groups.values():
        if len(group) < 2:
            continue
        kept = next((g for g in group if g[0] in requested), group[0])
        for id_, recorded_by in group:
            if id_ != kept[0] and id_ not in requested:  # one with requests stays: decide by hand
                conn.execute(
                    arrears.update().where(arrears.c.id == id_).values(
                        voided_on=date.today(), voided_by_id=recorded_by, void_reason=STORED_TWICE
                    )
                )


def downgrade():
    op.drop_index('uq_arrears_one_statement_per_account', table_name='arrears', sqlite_where=sa.text('voided_on IS NULL'), postgresql_where=sa.text('voided_on IS NULL'))
    op.drop_index(op.f('ix_arrears_replaces_id'), table_name='arrears')
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason as above; the
    # columns' foreign keys go with them.
    for column in ('void_reason', 'voided_by_id', 'voided_on', 'replaces_id'):
        op.drop_column('arrears', column)

    with op.batch_alter_table('customer_number_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_number_corrections_account_id'))

    op.drop_table('customer_number_corrections')

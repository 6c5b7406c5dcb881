"""match keys for the duplicate check

Revision ID: 21bddf2b030e
Revises: 4491e45f8ca3
Create Date: 2026-11-24 18:42:19.920360

Existing rows get their keys computed here with the same folding the app uses
(casework.households.models.match_key), so old and new registrations compare alike.
"""
from alembic import op
import sqlalchemy as sa


def _match_key(*parts):
    # A copy of match_key as it was when this migration was written: migrations must not
    # change meaning when the app's code changes later.
    return "\x1f".join(" ".join((part or "").split()).casefold() for part in parts)


# revision identifiers, used by Alembic.
revision = '21bddf2b030e'
down_revision = '4491e45f8ca3'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE, not batch mode: recreating households on SQLite would cascade to
    # members through their foreign key.
    op.add_column('households', sa.Column('address_key', sa.String(length=200), server_default='', nullable=False))
    op.create_index('ix_households_address_key', 'households', ['municipality_id', 'address_key'], unique=False)
    op.add_column('members', sa.Column('name_key', sa.String(length=170), server_default='', nullable=False))
    op.create_index('ix_members_name_key', 'members', ['name_key', 'birth_date'], unique=False)
    # ### end Alembic commands ###
    conn = op.get_bind()
    households = sa.table("households", sa.column("id"), sa.column("address"), sa.column("address_key"))
    for id_, address in conn.execute(sa.select(households.c.id, households.c.address)).all():
        conn.execute(
            households.update()
            .where(households.c.id == id_)
            .values(address_key=_match_key(address)[:200])
        )
    members = sa.table(
        "members", sa.column("id"), sa.column("first_name"), sa.column("last_name"), sa.column("name_key")
    )
    rows = conn.execute(sa.select(members.c.id, members.c.first_name, members.c.last_name)).all()
    for id_, first, last in rows:
        conn.execute(
            members.update().where(members.c.id == id_).values(name_key=_match_key(first, last)[:170])
        )


def downgrade():
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason as above.
    op.drop_index('ix_members_name_key', table_name='members')
    op.drop_column('members', 'name_key')
    op.drop_index('ix_households_address_key', table_name='households')
    op.drop_column('households', 'address_key')

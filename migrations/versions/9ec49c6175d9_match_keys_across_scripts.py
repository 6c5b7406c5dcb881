"""match keys across scripts

Revision ID: 9ec49c6175d9
Revises: a05bb0e3cb60
Create Date: 2026-12-01 17:10:00.000000

The duplicate check and the register's search now compare names and addresses with the
script folded (Cyrillic and Latin, Macedonian and Albanian spellings, diacritics): the keys
of the rows stored so far are computed again here, so that a family registered before this
migration is found across scripts too. The indexes on the keys stay as they are. Downgrading
puts back the keys of the previous folding (case and spacing only).
"""
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9ec49c6175d9'
down_revision = 'd7c1f0a9e2b4'
branch_labels = None
depends_on = None


# A copy of casework.households.models.match_key as it was when this migration was written:
# migrations must not change meaning when the app's code changes later.
_CYRILLIC = dict(
    zip(
        "абвгдѓежзѕијклљмнњопрстќуфхцчџшђћ",
        "a b v g d gj e zh z dz i j k l lj m n nj o p r s t kj u f h c ch dzh sh gj kj".split(),
        strict=True,
    )
)
_LATIN = {
    "ǵ": "gj",
    "ḱ": "kj",
    "ž": "zh",
    "š": "sh",
    "č": "ch",
    "ć": "kj",
    "đ": "gj",
    "ç": "ch",
    "q": "kj",
    "ş": "sh",
    "ı": "i",
}
_SPELLED = str.maketrans(_CYRILLIC | _LATIN)
_DIGRAPHS = (("xh", "dzh"), ("dh", "d"), ("th", "t"), ("ll", "l"), ("rr", "r"))


def _fold_script(text):
    spelled = unicodedata.normalize("NFKC", text).casefold().translate(_SPELLED)
    bare = "".join(c for c in unicodedata.normalize("NFD", spelled) if not unicodedata.combining(c))
    folded = bare.translate(_SPELLED)
    for digraph, sound in _DIGRAPHS:
        folded = folded.replace(digraph, sound)
    return folded


def _match_key(*parts):
    return "\x1f".join(_fold_script(" ".join((part or "").split())) for part in parts)


def _previous_match_key(*parts):
    # The folding of 21bddf2b030e, for the downgrade.
    return "\x1f".join(" ".join((part or "").split()).casefold() for part in parts)


_BATCH = 1_000
_households = sa.table("households", sa.column("id"), sa.column("address"), sa.column("address_key"))
_members = sa.table(
    "members", sa.column("id"), sa.column("first_name"), sa.column("last_name"), sa.column("name_key")
)


def _recompute(key):
    """Every household's and member's key again, a thousand rows per statement."""
    conn = op.get_bind()
    _update(
        conn,
        _households,
        "address_key",
        (
            (id_, key(address)[:200])
            for id_, address in conn.execute(sa.select(_households.c.id, _households.c.address))
        ),
    )
    _update(
        conn,
        _members,
        "name_key",
        (
            (id_, key(first, last)[:170])
            for id_, first, last in conn.execute(
                sa.select(_members.c.id, _members.c.first_name, _members.c.last_name)
            )
        ),
    )


def _update(conn, table, column, keys):
    statement = (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"))
        .values({column: sa.bindparam("new_key")})
    )
    # Read everything first: some drivers cannot update while a result is still open.
    rows = [{"row_id": id_, "new_key": new_key} for id_, new_key in keys]
    for start in range(0, len(rows), _BATCH):
        conn.execute(statement, rows[start : start + _BATCH])


def upgrade():
    _recompute(_match_key)


def downgrade():
    _recompute(_previous_match_key)

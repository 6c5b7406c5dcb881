from casework.extensions import db
from casework.households import queries
def test_dbg(make):
    u = make.user("coordinator")
    stmt = queries.household_list(u, queries.ListFilter())
    db.session.execute(stmt.limit(3)).all()

"""Reads of programmes, filtered to the municipalities a user works in."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import Role, User


def visible_programmes(user: User) -> Select[Programme]:
    stmt = select(Programme).options(joinedload(Programme.municipality), joinedload(Programme.ngo))
    if not policies.is_global_admin(user):
        stmt = stmt.where(Programme.municipality_id.in_(user.municipalities_as(*Role)))
    return stmt.order_by(Programme.starts_on.desc())

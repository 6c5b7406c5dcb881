"""Reads of programmes, filtered to the municipalities a user works in."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from casework.extensions import db
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import User


def visible_programmes(user: User) -> Select[Programme]:
    stmt = select(Programme).options(joinedload(Programme.municipality), joinedload(Programme.ngo))
    places = policies.programme_municipalities(user)
    if places is not None:
        stmt = stmt.where(Programme.municipality_id.in_(places))
    return stmt.order_by(Programme.starts_on.desc())


def get_visible_programme(user: User, programme_id: int) -> Programme | None:
    """The programme, or None when it does not exist or lies outside the user's scope."""
    programme = db.session.get(Programme, programme_id)
    return (
        programme
        if programme is not None and policies.can_view_programme(user, programme)
        else None
    )


def get_budget_programme(user: User, programme_id: int) -> Programme | None:
    """The programme, for whoever sees its figures (its report, its balance checks); None
    otherwise, so that a programme whose money the user may not see is answered as absent."""
    programme = db.session.get(Programme, programme_id)
    return (
        programme if programme is not None and policies.can_view_budget(user, programme) else None
    )


def get_programme(programme_id: int) -> Programme | None:
    """A programme by id, unscoped: for a choice a form already limited to the scope."""
    return db.session.get(Programme, programme_id)

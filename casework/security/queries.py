"""Reads of accounts, for admins."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from casework.extensions import db
from casework.security import policies
from casework.security.models import RoleAssignment, User


def all_users() -> Select[User]:
    return (
        select(User)
        .options(selectinload(User.roles).joinedload(RoleAssignment.municipality))
        .order_by(User.username)
    )


def manageable_users(actor: User) -> list[User]:
    """The accounts an admin manages, by username (another municipality's staff are left out)."""
    return [u for u in db.session.scalars(all_users()) if policies.can_manage_user(actor, u)]


def get_manageable_user(actor: User, user_id: int) -> User | None:
    """An account the admin manages; another municipality's staff are as if they did not exist."""
    user = db.session.get(User, user_id)
    if user is None or not policies.can_manage_user(actor, user):
        return None
    return user

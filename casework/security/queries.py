"""Reads of accounts, for admins."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from casework.security.models import RoleAssignment, User


def all_users() -> Select[User]:
    return (
        select(User)
        .options(selectinload(User.roles).joinedload(RoleAssignment.municipality))
        .order_by(User.username)
    )

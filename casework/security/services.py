"""Accounts: creating users, their roles, passwords and logging in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from casework.audit.services import record
from casework.config import LOCALES
from casework.errors import ValidationError
from casework.extensions import db
from casework.organizations.models import Municipality, Organization
from casework.security.models import Role, RoleAssignment, User

MIN_PASSWORD_LENGTH = 12
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")


@cache
def _dummy_hash() -> str:
    """Checked when the username is unknown, so that a wrong username costs the same time as a
    wrong password and timing tells nothing about which accounts exist."""
    return generate_password_hash("not-a-real-password-at-all", method="scrypt")


@dataclass(frozen=True)
class RoleGrant:
    role: Role
    municipality: Municipality | None
    organization: Organization | None = None


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def check_password_rules(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            _("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
            "password",
        )
    if username and username.lower() in password.lower():
        raise ValidationError(_("The password must not contain the username."), "password")
    if len(set(password)) < 5:
        raise ValidationError(_("The password is too easy to guess."), "password")


def create_user(
    actor: User | None,
    username: str,
    full_name: str,
    password: str,
    grants: list[RoleGrant],
    *,
    email: str | None = None,
    locale: str | None = None,
) -> User:
    """Create an account; ``actor`` is None only for the first admin made by ``casework init``."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            _("A username has 2–60 characters: small letters, digits, dot, dash or underscore."),
            "username",
        )
    if not full_name.strip():
        raise ValidationError(_("Enter the person's full name."), "full_name")
    if db.session.scalar(select(func.count()).where(User.username == username)):
        raise ValidationError(_("This username is taken."), "username")
    check_password_rules(password, username)
    if not grants:
        raise ValidationError(_("Give the user at least one role."), "role")
    for grant in grants:
        if grant.municipality is None and grant.role != Role.ADMIN:
            raise ValidationError(_("This role needs a municipality."), "municipality")
        if grant.role == Role.SUPERVISOR and grant.organization is None:
            raise ValidationError(_("A supervisor belongs to a public enterprise."), "organization")
    user = User(
        username=username,
        full_name=full_name.strip(),
        email=(email or "").strip() or None,
        password_hash=hash_password(password),
        locale=locale,
    )
    user.roles = [
        RoleAssignment(
            role=g.role.value,
            municipality_id=g.municipality.id if g.municipality else None,
            organization_id=g.organization.id if g.organization else None,
        )
        for g in grants
    ]
    db.session.add(user)
    db.session.flush()
    record(
        actor,
        "user.create",
        "user",
        user.id,
        changes={
            "username": username,
            "roles": [
                [g.role.value, g.municipality.code if g.municipality else None] for g in grants
            ],
        },
    )
    return user


def authenticate(username: str, password: str, *, now: datetime) -> User | None:
    """The user whose credentials these are, or None, with no hint which part was wrong."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    user.last_login_at = now
    record(user, "user.login", "user", user.id)
    return user


def set_password(actor: User, user: User, password: str) -> None:
    check_password_rules(password, user.username)
    user.password_hash = hash_password(password)
    record(actor, "user.password", "user", user.id)


def set_locale(user: User, locale: str) -> None:
    if locale not in LOCALES:
        raise ValidationError(_("Choose one of the offered languages."), "locale")
    user.locale = locale

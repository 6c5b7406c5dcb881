"""Accounts: creating users, their roles, passwords and logging in."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from casework.audit.services import record
from casework.config import DEFAULT_PASSWORD_HASH, LOCALES, Settings
from casework.errors import ValidationError
from casework.extensions import db
from casework.organizations.models import Municipality, Organization
from casework.security.models import LoginAttempt, Role, RoleAssignment, User, UserSession

MIN_PASSWORD_LENGTH = 12
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")


def _hash_method() -> str:
    """The configured method (``CASEWORK_PASSWORD_HASH``): scrypt at werkzeug's cost unless a
    test run asks for a cheap one; production refuses anything cheaper (config.py)."""
    if has_app_context():
        return str(current_app.config["CASEWORK"].password_hash)
    return DEFAULT_PASSWORD_HASH


@cache
def _dummy_hash(method: str) -> str:
    """Checked when the username is unknown, so that a wrong username costs the same time as a
    wrong password and timing tells nothing about which accounts exist."""
    return generate_password_hash("not-a-real-password-at-all", method=method)


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of public leaks, as shipped with zxcvbn."""
    return frozenset(FREQUENCY_LISTS["passwords"])


@dataclass(frozen=True)
class RoleGrant:
    role: Role
    municipality: Municipality | None
    organization: Organization | None = None


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=_hash_method())


def check_password_rules(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            _("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
            "password",
        )
    if username and username.lower() in password.lower():
        raise ValidationError(_("The password must not contain the username."), "password")
    if password.lower() in _common_passwords():
        raise ValidationError(
            _("This password is on the list of commonly used passwords: choose another."),
            "password",
        )
    if len(set(password)) < 5 or zxcvbn(password, user_inputs=[username])["score"] < 3:
        raise ValidationError(_("The password is too easy to guess."), "password")


def _check_new_account(username: str, full_name: str) -> None:
    """A new account's name: well formed, not taken, and a person's full name beside it."""
    if not USERNAME_RE.match(username):
        raise ValidationError(
            _("A username has 2–60 characters: small letters, digits, dot, dash or underscore."),
            "username",
        )
    if not full_name.strip():
        raise ValidationError(_("Enter the person's full name."), "full_name")
    if db.session.scalar(select(func.count()).where(User.username == username)):
        raise ValidationError(_("This username is taken."), "username")


def _check_grants(grants: list[RoleGrant]) -> None:
    """At least one role; each where it can be held (only an admin holds one everywhere, a
    supervisor belongs to a public enterprise)."""
    if not grants:
        raise ValidationError(_("Give the user at least one role."), "role")
    for grant in grants:
        if grant.municipality is None and grant.role != Role.ADMIN:
            raise ValidationError(_("This role needs a municipality."), "municipality")
        if grant.role == Role.SUPERVISOR and grant.organization is None:
            raise ValidationError(_("A supervisor belongs to a public enterprise."), "organization")


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
    _check_new_account(username, full_name)
    check_password_rules(password, username)
    _check_grants(grants)
    user = User(
        username=username,
        full_name=full_name.strip(),
        email=(email or "").strip() or None,
        password_hash=hash_password(password),
        locale=locale,
    )
    user.roles = [
        RoleAssignment(
            role=g.role,
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
        check_password_hash(_dummy_hash(_hash_method()), password)
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


# --- sessions ----------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta
    absolute: timedelta
    reauth: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionLimits:
        return cls(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_max_hours),
            reauth=timedelta(minutes=settings.reauth_minutes),
        )


def start_session(user: User, *, now: datetime, ip: str = "", user_agent: str = "") -> str:
    """A new server-side session for ``user``; returns the token for the cookie (shown once)."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            authenticated_at=now,
            ip=ip[:45],
            user_agent=user_agent[:200],
        )
    )
    return token


def live_session(token: str | None, *, now: datetime, limits: SessionLimits) -> UserSession | None:
    """The session behind a cookie's token, if it was not ended and has not timed out.

    A session found timed out is ended here, so that the row tells why it stopped.
    """
    if not token:
        return None
    found = db.session.scalar(
        select(UserSession).where(UserSession.token_hash == _token_hash(token))
    )
    if found is None or found.ended_at is not None:
        return None
    reason = None
    if now - found.last_seen_at > limits.idle:
        reason = "idle"
    elif now - found.created_at > limits.absolute:
        reason = "expired"
    if reason is not None:
        found.ended_at, found.ended_reason = now, reason
        return None
    return found


def touch_session(user_session: UserSession, *, now: datetime) -> bool:
    """Move the idle clock on; only once a minute, so that browsing does not write each time."""
    if now - user_session.last_seen_at < timedelta(minutes=1):
        return False
    user_session.last_seen_at = now
    return True


def is_fresh(user_session: UserSession, *, now: datetime, limits: SessionLimits) -> bool:
    """Whether the password was typed recently enough to approve money or export data."""
    return now - user_session.authenticated_at <= limits.reauth


def end_session(user_session: UserSession, *, now: datetime, reason: str = "logout") -> None:
    if user_session.ended_at is None:
        user_session.ended_at, user_session.ended_reason = now, reason


def end_sessions(user: User, *, now: datetime, reason: str, keep: UserSession | None = None) -> int:
    """End every live session of ``user`` except ``keep``: a copied cookie stops working."""
    query = (
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=reason)
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    result = db.session.execute(query, execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def confirm_password(
    user: User, user_session: UserSession, password: str, *, now: datetime
) -> bool:
    """Re-authentication before a sensitive action: the password again, in this session."""
    if not user.active or not check_password_hash(user.password_hash, password):
        return False
    user_session.authenticated_at = now
    record(user, "user.reauthenticate", "user", user.id)
    return True


def change_own_password(
    user: User, user_session: UserSession, current: str, new: str, *, now: datetime
) -> None:
    """Change the password; every other session of the user ends (a stolen cookie with it)."""
    if not check_password_hash(user.password_hash, current):
        raise ValidationError(_("The current password is wrong."), "current_password")
    if new == current:
        raise ValidationError(
            _("Choose a password different from the current one."), "new_password"
        )
    try:
        set_password(user, user, new)
    except ValidationError as error:
        raise ValidationError(error.message, "new_password") from None
    user_session.authenticated_at = now
    end_sessions(user, now=now, reason="password", keep=user_session)


def set_active(actor: User, user: User, active: bool, *, now: datetime) -> None:
    """Deactivate (or reactivate) an account; deactivation ends all of its sessions at once."""
    if actor.id == user.id and not active:
        raise ValidationError(_("You cannot deactivate your own account."), "active")
    if user.active == active:
        return
    user.active = active
    record(actor, "user.activate" if active else "user.deactivate", "user", user.id)
    if not active:
        end_sessions(user, now=now, reason="deactivated")


# --- login throttling --------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginLimits:
    window: timedelta
    per_account: int
    per_address: int

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        return cls(
            window=timedelta(minutes=settings.login_window_minutes),
            per_account=settings.login_max_failures_per_account,
            per_address=settings.login_max_failures_per_address,
        )


def login_blocked(username: str, ip: str, *, now: datetime, limits: LoginLimits) -> bool:
    """Too many recent failures for this account name or from this address.

    Counted in the database, so every worker and server sees the same count. An account name
    that does not exist is throttled exactly like one that does: nothing tells them apart.
    Failures before the account's last successful login do not count against it.
    """
    since = now - limits.window
    name = username.strip().lower()[:60]
    last_success = (
        select(func.max(LoginAttempt.at))
        .where(LoginAttempt.username == name, LoginAttempt.succeeded.is_(True))
        .scalar_subquery()
    )
    per_account = db.session.scalar(
        select(func.count()).where(
            LoginAttempt.username == name,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.at > since,
            LoginAttempt.at > func.coalesce(last_success, since),
        )
    )
    if (per_account or 0) >= limits.per_account:
        return True
    per_address = db.session.scalar(
        select(func.count()).where(
            LoginAttempt.ip == ip[:45], LoginAttempt.succeeded.is_(False), LoginAttempt.at > since
        )
    )
    return (per_address or 0) >= limits.per_address


def record_login_attempt(
    username: str, ip: str, *, succeeded: bool, now: datetime, checked: bool = True
) -> None:
    db.session.add(
        LoginAttempt(
            at=now,
            username=username.strip().lower()[:60],
            ip=ip[:45],
            succeeded=succeeded,
            checked=checked,
        )
    )


# The two kinds of advisory lock the throttle takes on PostgreSQL: an account name, an address.
_ACCOUNT_LOCK, _ADDRESS_LOCK = 27_001, 27_002


def _one_attempt_at_a_time(username: str, ip: str) -> None:
    """Attempts at one account name, or from one address, take turns until they commit, so
    that each counts the failures committed before it: twenty at once cannot all read "four
    so far" and all try the password. SQLite serialises every writing transaction already
    (BEGIN IMMEDIATE, casework.db); on PostgreSQL a transaction-scoped advisory lock per name
    and per address does it, always taken in that order so that two attempts never deadlock."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for kind, value in ((_ACCOUNT_LOCK, username.strip().lower()[:60]), (_ADDRESS_LOCK, ip[:45])):
        db.session.execute(select(func.pg_advisory_xact_lock(kind, func.hashtext(value))))


@dataclass(frozen=True)
class LoginResult:
    """A log-in attempt, counted whatever its outcome: the user and the new server-side
    session's token, or why not (``blocked``: too many failures, the password not tried)."""

    user: User | None
    session_token: str | None = None
    blocked: bool = False


def log_in(
    username: str, password: str, *, ip: str, user_agent: str, now: datetime, limits: LoginLimits
) -> LoginResult:
    """The throttle, the password and a new session. Every attempt is recorded, so a failed
    one counts on every worker once the caller commits; the count, the check and the record
    take turns per account name and address until then."""
    _one_attempt_at_a_time(username, ip)
    if login_blocked(username, ip, now=now, limits=limits):
        # The same answer whether or not the account exists, and the password is not tried.
        record_login_attempt(username, ip, succeeded=False, now=now, checked=False)
        return LoginResult(None, blocked=True)
    user = authenticate(username, password, now=now)
    record_login_attempt(username, ip, succeeded=user is not None, now=now)
    if user is None:
        return LoginResult(None)
    return LoginResult(user, start_session(user, now=now, ip=ip, user_agent=user_agent))

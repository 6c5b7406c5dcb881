"""Tokens, idempotency and rate limits for the API. The domain rules stay in each area's
services: the API calls them exactly as the pages do."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from casework.api.models import ApiRateWindow, ApiToken, IdempotentRequest
from casework.audit.services import record
from casework.errors import PermissionDenied, ValidationError
from casework.extensions import db
from casework.security import policies
from casework.security.models import User

TOKEN_PREFIX = "cw_"  # noqa: S105 - a marker, so that a leaked token is easy to spot


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def create_token(actor: User, user: User, name: str) -> tuple[ApiToken, str]:
    """A new personal token for ``user``; returns it with the secret, which is never stored."""
    if not policies.can_manage_tokens_of(actor, user.id):
        raise PermissionDenied()
    name = " ".join(name.split())
    if not name:
        raise ValidationError(_("Give the token a name (what uses it)."), "name")
    if len(name) > 80:
        raise ValidationError(_("A token's name has at most 80 characters."), "name")
    if not user.active:
        raise ValidationError(_("This account is deactivated."), "user")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_hash=_digest(secret), prefix=secret[:10])
    db.session.add(token)
    db.session.flush()
    record(
        actor, "api_token.create", "api_token", token.id, changes={"user_id": user.id, "name": name}
    )
    return token, secret


def revoke_token(actor: User, token: ApiToken, *, now: datetime) -> None:
    """A revoked token is refused at once, on every worker."""
    if not policies.can_manage_tokens_of(actor, token.user_id):
        raise PermissionDenied()
    if token.revoked_at is not None:
        return
    token.revoked_at = now
    record(actor, "api_token.revoke", "api_token", token.id, changes={"user_id": token.user_id})


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def user_for_token(secret: str, *, now: datetime) -> User | None:
    """The active user behind a live token, or None (no hint which part was wrong)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token.user


# --- idempotent writes -------------------------------------------------------------------------


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return _digest(f"{method} {path} {canonical}")


def remembered(user: User, key: str) -> IdempotentRequest | None:
    return db.session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.user_id == user.id, IdempotentRequest.key == key
        )
    )


def claim(user: User, key: str, fingerprint_: str) -> IdempotentRequest | None:
    """Claim ``key`` before the write is done, in its transaction; None when another copy
    holds it. On PostgreSQL the insert waits for a copy sent at the same moment to commit or
    roll back (the unique constraint), so a copy that finds the key taken finds the first
    answer stored, not a half-done one; SQLite serialises the whole write anyway."""
    row = IdempotentRequest(
        user_id=user.id, key=key, fingerprint=fingerprint_, status_code=0, body={}
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return None
    return row


def remember(claimed: IdempotentRequest, status_code: int, body: Any) -> None:
    """Kept in the same transaction as the write itself: both happen, or neither. An answer
    that did not succeed is not kept: the key is given up, and a copy may try again."""
    if 200 <= status_code < 300:
        claimed.status_code, claimed.body = status_code, body
    else:
        db.session.delete(claimed)


# --- rate limit --------------------------------------------------------------------------------


def count_request(user: User, *, now: datetime) -> int:
    """Add this request to the user's count for the current minute; return the new count.

    One upsert, so that concurrent requests on several workers all count.
    """
    window = now.replace(second=0, microsecond=0)
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(ApiRateWindow)
        .values(user_id=user.id, window_start=window, count=1)
        .on_conflict_do_update(
            index_elements=["user_id", "window_start"],
            set_={"count": ApiRateWindow.count + 1},
        )
        .returning(ApiRateWindow.count)
    )
    return int(db.session.execute(statement).scalar_one())

"""Claiming a form's one-time key and finding a claimed one. Called by ``casework.actions``
only: no view, service or API operation deals with form keys."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from casework.extensions import db
from casework.formkeys.models import FormKey

if TYPE_CHECKING:
    from casework.security.models import User

# A copy of a form comes seconds (a double click) or minutes (a re-POST) after the first;
# a week is plenty, and keeps the table small.
KEPT_FOR = timedelta(days=7)
MAX_LENGTH = 64


def new_key() -> str:
    """A fresh key for one rendered form: unguessable, so nobody can claim another's."""
    return secrets.token_urlsafe(24)


def sent(user: User, key: str) -> FormKey | None:
    """The claim of a form already sent with this key, if any."""
    return db.session.scalar(select(FormKey).where(FormKey.user_id == user.id, FormKey.key == key))


def claim(user: User, key: str, *, now: datetime, location: str = "") -> FormKey | None:
    """Claim ``key`` for the work about to be done, in its transaction (committed with it,
    rolled back with it). None when another copy of the form claimed it first: the unique
    constraint decides, and this copy must do nothing. Keys older than ``KEPT_FOR`` go."""
    db.session.execute(delete(FormKey).where(FormKey.created_at < now - KEPT_FOR))
    row = FormKey(user_id=user.id, key=key, location=location, created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return None
    return row

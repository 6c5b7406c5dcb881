"""Reads of API tokens within the reader's reach."""

from __future__ import annotations

from casework.api.models import ApiToken
from casework.extensions import db
from casework.security import policies
from casework.security.models import User


def get_own_token(user: User, token_id: int) -> ApiToken | None:
    """One of the user's own tokens; another's is as if it did not exist."""
    token = db.session.get(ApiToken, token_id)
    if token is None or not policies.is_own_token(user, token.user_id):
        return None
    return token

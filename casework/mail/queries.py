"""The outbox as admins see it."""

from __future__ import annotations

from sqlalchemy import select

from casework.extensions import db
from casework.mail.models import OutboxMessage


def recent_outbox(limit: int = 100) -> list[OutboxMessage]:
    return list(
        db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit))
    )

"""Reading the audit trail."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from casework.audit.models import AuditEvent
from casework.extensions import db


def recent_events(municipality_ids: Iterable[int], limit: int = 20) -> list[AuditEvent]:
    """The newest events of these municipalities (what, on which record, when, by whom)."""
    ids = list(municipality_ids)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.municipality_id.in_(ids))
            .options(selectinload(AuditEvent.actor))
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )

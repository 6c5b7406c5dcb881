"""Writing the audit trail. Every service that changes state calls ``record``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import g, has_request_context

from casework.audit.models import AuditEvent
from casework.extensions import db
from casework.security.models import User


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The listed attributes of ``obj`` as JSON-safe values, for before/after records."""
    return {name: _jsonable(getattr(obj, name)) for name in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Only what changed, as ``{field: [old, new]}``."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def record(
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    *,
    municipality_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        municipality_id=municipality_id,
        request_id=g.get("request_id") if has_request_context() else None,
        changes={k: _jsonable(v) for k, v in (changes or {}).items()},
    )
    db.session.add(event)
    return event

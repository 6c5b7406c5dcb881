"""Writing the audit trail. Every service that changes state calls ``record``.

When a transaction that wrote audit events commits, its events are linked into one hash chain
(``AuditLink``): each link carries the SHA-256 of the previous link's hash and its event's
content. The chain head is locked last, just before the commit, so concurrent writers queue
there and never deadlock on it. ``verify_chain`` recomputes everything and names the first
event that was edited, deleted or slipped in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import Select, String, event, func, insert, literal, select, update
from sqlalchemy.orm import Session

from casework.audit import keys
from casework.audit.models import AccessAction, AccessRecord, AuditChainHead, AuditEvent, AuditLink
from casework.db import chunked, utcnow
from casework.extensions import db
from casework.security.models import User

GENESIS = "0" * 64
_PENDING = "audit_event_ids"  # in session.info: events flushed in this transaction


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


def roles_of(user: User | None) -> str | None:
    """The roles a user holds now, as stored beside what it did: roles change later."""
    return ",".join(sorted(r.value for r in user.role_names())) if user is not None else None


def record(
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    *,
    municipality_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session; personal fields are sealed with the household's key
    (``audit.keys``), so the chain hashes their ciphertext and anonymisation can shred them."""
    payload = {k: _jsonable(v) for k, v in (changes or {}).items()}
    if keys.has_personal_fields(payload):
        household_id = keys.household_of(entity_type, entity_id, payload)
        if household_id is not None:
            payload = keys.seal(payload, household_id)
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        actor_roles=roles_of(actor),
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        municipality_id=municipality_id,
        request_id=g.get("request_id") if has_request_context() else None,
        changes=payload,
    )
    db.session.add(event)
    return event


# --- the hash chain ----------------------------------------------------------------------------


def event_hash(prev_hash: str, row: Mapping[Any, Any]) -> str:
    """The link's hash: the previous hash and the event's content as canonical JSON."""
    occurred = row["occurred_at"]
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    content = {
        "occurred_at": occurred.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": row["actor_id"],
        "action": row["action"],
        "entity_type": row["entity_type"],
        "entity_id": row["entity_id"],
        "municipality_id": row["municipality_id"],
        "request_id": row["request_id"],
        "changes": row["changes"],
    }
    # Entries written before the actor's roles were kept hash without the key.
    if row.get("actor_roles") is not None:
        content["actor_roles"] = row["actor_roles"]
    body = json.dumps(
        content,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@event.listens_for(Session, "after_flush")
def _remember_new_events(session: Session, _context: Any) -> None:
    ids = [o.id for o in session.new if isinstance(o, AuditEvent)]
    if ids:
        session.info.setdefault(_PENDING, []).extend(ids)


@event.listens_for(Session, "after_transaction_end")
def _forget_events(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the whole transaction, not a savepoint, has ended
        session.info.pop(_PENDING, None)
        session.info.pop(keys.OPENED, None)


@event.listens_for(Session, "before_commit")
def _link_new_events(session: Session) -> None:
    """Append this transaction's events to the chain: the head's lock is the last taken."""
    if session.in_nested_transaction():
        return  # a savepoint: the events wait for the real commit
    session.flush()
    ids = sorted(set(session.info.pop(_PENDING, [])))
    if not ids:
        return
    connection = session.connection()
    head = connection.execute(
        select(AuditChainHead.last_seq, AuditChainHead.last_hash)
        .where(AuditChainHead.id == 1)
        .with_for_update()
    ).first()
    seq, prev = (head[0], head[1]) if head is not None else (0, GENESIS)
    links = []
    table = AuditEvent.__table__
    for chunk in chunked(ids):
        # events rolled back with a savepoint are simply not found
        for row in connection.execute(
            select(table).where(table.c.id.in_(chunk)).order_by(table.c.id)
        ):
            seq += 1
            digest = event_hash(prev, row._mapping)
            links.append({"seq": seq, "event_id": row.id, "prev_hash": prev, "hash": digest})
            prev = digest
    if not links:
        return
    connection.execute(insert(AuditLink), links)
    if head is None:
        connection.execute(insert(AuditChainHead).values(id=1, last_seq=seq, last_hash=prev))
    else:
        connection.execute(
            update(AuditChainHead)
            .where(AuditChainHead.id == 1)
            .values(last_seq=seq, last_hash=prev)
        )


@dataclass
class ChainReport:
    checked: int
    broken_event_id: int | None = None
    reason: str = ""
    unlinked: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_event_id is None and not self.unlinked


def verify_chain(batch: int = 5_000) -> ChainReport:
    """Recompute the chain link by link; stop at the first event that does not fit."""
    events = AuditEvent.__table__
    prev, expected, checked = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = db.session.execute(
            select(AuditLink, events)
            .outerjoin(events, events.c.id == AuditLink.event_id)
            .where(AuditLink.seq > last_seq)
            .order_by(AuditLink.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            link = row[0]
            if link.seq != expected:
                return ChainReport(
                    checked,
                    link.event_id,
                    f"the link(s) before seq {link.seq} are missing: entries were deleted",
                )
            if link.prev_hash != prev:
                return ChainReport(
                    checked, link.event_id, "the entry before this one was changed or removed"
                )
            if row._mapping[events.c.id] is None:
                return ChainReport(checked, link.event_id, "this entry was deleted")
            values = {c.name: row._mapping[c] for c in events.c}
            if event_hash(prev, values) != link.hash:
                return ChainReport(
                    checked, link.event_id, "this entry was changed after it was written"
                )
            prev, expected, checked = link.hash, expected + 1, checked + 1
            last_seq = link.seq
    unlinked = (
        db.session.scalar(
            select(func.count())
            .select_from(events)
            .where(events.c.id.not_in(select(AuditLink.event_id)))
        )
        or 0
    )
    report = ChainReport(checked, unlinked=unlinked)
    if unlinked:
        report.reason = f"{unlinked} entries are outside the chain: written behind the app's back"
    return report


# --- the access log --------------------------------------------------------------------------


def log_access(
    user: User,
    action: AccessAction,
    *,
    household_id: int | None = None,
    member_id: int | None = None,
    municipality_id: int | None = None,
    detail: str = "",
    reason: str | None = None,
) -> AccessRecord:
    """Record that ``user`` saw or exported personal data. Written in the caller's transaction,
    so a view that fails to render leaves no entry for a page nobody saw."""
    entry = AccessRecord(
        user_id=user.id,
        user_roles=roles_of(user) or "",
        action=action,
        household_id=household_id,
        member_id=member_id,
        municipality_id=municipality_id,
        detail=detail[:200],
        reason=reason,
        request_id=g.get("request_id") if has_request_context() else None,
    )
    db.session.add(entry)
    return entry


def log_households_seen(
    user: User,
    households: Iterable[int] | Select[Any],
    what: str,
    action: AccessAction = AccessAction.VIEW_LIST,
) -> None:
    """Record that ``user`` saw these families at once (a list, a queue, a timesheet, an
    export): one row per household, so that "who saw this family" and an auditor's
    municipality find it as they find any entry, all written by one INSERT … SELECT (no query
    per family, however long the list). ``households`` are ids or a statement selecting them;
    ``what`` names the page, and each row's detail adds the family's case number."""
    from casework.households.models import Household  # the register depends on this module

    ids = households if isinstance(households, Select) else sorted(set(households))
    if not isinstance(ids, Select) and not ids:
        return
    table = AccessRecord.__table__
    request_id = g.get("request_id") if has_request_context() else None
    rows = select(
        literal(utcnow(), table.c.at.type),
        literal(user.id),
        literal(roles_of(user) or "", String()),
        literal(action.value, String()),
        Household.id,
        Household.municipality_id,
        func.substr(literal(f"{what[:160]}: ", String()) + Household.case_number, 1, 200),
        literal(request_id, String()),
    ).where(Household.id.in_(ids))
    columns = ["at", "user_id", "user_roles", "action", "household_id", "municipality_id"]
    db.session.execute(insert(AccessRecord).from_select([*columns, "detail", "request_id"], rows))

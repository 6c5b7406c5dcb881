"""Reading the audit trail and the access log, always within the reader's municipalities."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from casework.audit.models import AccessAction, AccessRecord, AuditEvent
from casework.extensions import db
from casework.households.models import Household
from casework.security.models import User


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


@dataclass(frozen=True)
class LogFilter:
    """What an auditor searches by. Empty fields do not filter."""

    username: str = ""
    household: str = ""  # a case number
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    pages: int
    total: int


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _household_ids(case_number: str) -> Select[Any]:
    return select(Household.id).where(Household.case_number == case_number.strip())


def _paged(query: Select[Any], page: int, per_page: int) -> Page:
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, page, pages, total)


def _by_who_where_when(
    query: Select[Any],
    flt: LogFilter,
    scope: set[int] | None,
    *,
    municipality: InstrumentedAttribute[Any],
    user_id: InstrumentedAttribute[Any],
    at: InstrumentedAttribute[Any],
) -> Select[Any]:
    """The filters both logs share: the reader's municipalities, the acting user, the days."""
    if scope is not None:
        query = query.where(municipality.in_(scope))
    if flt.username:
        query = query.where(
            user_id.in_(select(User.id).where(User.username == flt.username.lower()))
        )
    if flt.date_from:
        query = query.where(at >= _day_start(flt.date_from))
    if flt.date_to:
        query = query.where(at < _day_start(flt.date_to + timedelta(days=1)))
    return query


def search_events(
    scope: set[int] | None, flt: LogFilter, *, page: int = 1, per_page: int = 50
) -> Page:
    """Changes, newest first. ``scope`` None: every municipality (a global admin)."""
    query = _by_who_where_when(
        select(AuditEvent).options(selectinload(AuditEvent.actor)),
        flt,
        scope,
        municipality=AuditEvent.municipality_id,
        user_id=AuditEvent.actor_id,
        at=AuditEvent.occurred_at,
    )
    if flt.household:
        ids = _household_ids(flt.household)
        query = query.where(
            or_(
                (AuditEvent.entity_type == "household") & AuditEvent.entity_id.in_(ids),
                AuditEvent.changes["household_id"].as_integer().in_(ids),
            )
        )
    if flt.action:
        query = query.where(AuditEvent.action.startswith(flt.action, autoescape=True))
    return _paged(query.order_by(AuditEvent.id.desc()), page, per_page)


def search_access(
    scope: set[int] | None, flt: LogFilter, *, page: int = 1, per_page: int = 50
) -> Page:
    """Views and exports of personal data, newest first."""
    query = _by_who_where_when(
        select(AccessRecord).options(selectinload(AccessRecord.user)),
        flt,
        scope,
        municipality=AccessRecord.municipality_id,
        user_id=AccessRecord.user_id,
        at=AccessRecord.at,
    )
    if flt.household:
        query = query.where(AccessRecord.household_id.in_(_household_ids(flt.household)))
    if flt.action:
        # Typed by hand: a word that is no kind of access finds nothing (and is never bound).
        known = flt.action in set(AccessAction)
        query = query.where(AccessRecord.action == AccessAction(flt.action) if known else false())
    return _paged(query.order_by(AccessRecord.id.desc()), page, per_page)


def case_numbers(household_ids: Iterable[int]) -> dict[int, str]:
    """Case numbers for a page of log rows, in one query (rows show cases, not names)."""
    ids = {i for i in household_ids if i is not None}
    if not ids:
        return {}
    rows = db.session.execute(
        select(Household.id, Household.case_number).where(Household.id.in_(ids))
    ).all()
    return {household_id: case_number for household_id, case_number in rows}


def anonymised_households(household_ids: Iterable[int]) -> set[int]:
    """Which of a page's households retention has anonymised (their fields read "removed")."""
    ids = {i for i in household_ids if i is not None}
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(Household.id).where(Household.id.in_(ids), Household.anonymised_at.is_not(None))
        )
    )

"""Reads for balance checks: runs of a programme, a household's history, a user's alerts."""

from __future__ import annotations

import itertools

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import selectinload

from casework.balances.models import Alert, BalanceRun, BalanceSnapshot
from casework.extensions import db
from casework.households.models import Household
from casework.households.queries import household_visibility
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import User


def runs_of(programme: Programme, limit: int = 20) -> list[tuple[BalanceRun, dict[str, int]]]:
    """Latest runs with their counts by status and, under ``"changed"``, how many households
    changed status since the run before; in two queries."""
    runs = db.session.scalars(
        select(BalanceRun)
        .where(BalanceRun.programme_id == programme.id)
        .order_by(BalanceRun.as_of.desc())
        .limit(limit)
    ).all()
    counts: dict[int, dict[str, int]] = {r.id: {} for r in runs}
    statuses: dict[int, dict[int, str]] = {r.id: {} for r in runs}
    for run_id, household_id, status in db.session.execute(
        select(BalanceSnapshot.run_id, BalanceSnapshot.household_id, BalanceSnapshot.status).where(
            BalanceSnapshot.run_id.in_(list(counts))
        )
    ):
        counts[run_id][status] = counts[run_id].get(status, 0) + 1
        statuses[run_id][household_id] = status
    ordered = list(runs)
    for newer, older in itertools.pairwise(ordered):
        before = statuses[older.id]
        counts[newer.id]["changed"] = sum(
            1 for h, status in statuses[newer.id].items() if before.get(h, status) != status
        )
    return [(r, counts[r.id]) for r in runs]


def history_of(household: Household) -> list[tuple[BalanceRun, BalanceSnapshot]]:
    rows = db.session.execute(
        select(BalanceRun, BalanceSnapshot)
        .join(BalanceSnapshot, BalanceSnapshot.run_id == BalanceRun.id)
        .where(BalanceSnapshot.household_id == household.id)
        .order_by(BalanceRun.as_of)
    )
    return list(rows)


def alert_visibility(user: User) -> ColumnElement[bool]:
    """The alerts a user is shown, and the ones "mark all as read" marks: its own, of the
    households it may still see (a family moved to another caseload or municipality drops out
    of both alike)."""
    visible_households = select(Household.id).where(household_visibility(user))
    return (Alert.user_id == user.id) & Alert.household_id.in_(visible_households)


def alerts_for(user: User, unread_only: bool = True, limit: int = 50) -> list[Alert]:
    """Newest first; the home page groups them by family."""
    stmt = select(Alert).where(alert_visibility(user))
    if unread_only:
        stmt = stmt.where(Alert.read_at.is_(None))
    return list(
        db.session.scalars(
            stmt.options(
                selectinload(Alert.household).selectinload(Household.members),
                selectinload(Alert.snapshot).selectinload(BalanceSnapshot.run),
            )
            .order_by(Alert.created_at.desc(), Alert.id.desc())
            .limit(limit)
        )
    )


def get_visible_alert(user: User, alert_id: int) -> Alert | None:
    """The user's own alert, or None (another's is answered as one that does not exist)."""
    alert = db.session.get(Alert, alert_id)
    return alert if alert is not None and policies.can_read_alert(user, alert) else None

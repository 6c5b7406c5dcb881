"""Reads of enrollments, loaded through the household scope (outside it: nothing)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from casework.enrollment.models import (
    OPEN_STATUSES,
    CommissionDecision,
    CommissionMember,
    DecisionVote,
    Enrollment,
    EnrollmentEvent,
)
from casework.extensions import db
from casework.households.models import Household
from casework.households.queries import household_visibility
from casework.programmes.models import Programme
from casework.security.models import User


def enrollments_of(household: Household) -> list[Enrollment]:
    """The household's enrollments, newest first, with their history and decisions loaded."""
    return list(
        db.session.scalars(
            select(Enrollment)
            .where(Enrollment.household_id == household.id)
            .options(
                selectinload(Enrollment.programme),
                selectinload(Enrollment.events).selectinload(EnrollmentEvent.actor),
                selectinload(Enrollment.decisions)
                .selectinload(CommissionDecision.votes)
                .selectinload(DecisionVote.commission_member),
                selectinload(Enrollment.agreement),
            )
            .order_by(Enrollment.applied_on.desc(), Enrollment.id.desc())
        )
    )


def get_visible_enrollment(user: User, enrollment_id: int) -> Enrollment | None:
    return db.session.scalar(
        select(Enrollment)
        .join(Household, Enrollment.household_id == Household.id)
        .where(Enrollment.id == enrollment_id, household_visibility(user))
    )


def programmes_open_to(household: Household) -> list[Programme]:
    return list(
        db.session.scalars(
            select(Programme)
            .where(Programme.municipality_id == household.municipality_id)
            .order_by(Programme.starts_on.desc())
        )
    )


def commission(programme: Programme) -> list[CommissionMember]:
    return list(
        db.session.scalars(
            select(CommissionMember)
            .where(CommissionMember.programme_id == programme.id)
            .order_by(CommissionMember.active.desc(), CommissionMember.id)
        )
    )


def open_enrollment(household: Household) -> Enrollment | None:
    """The household's application or enrollment still open (at most one)."""
    return db.session.scalar(
        select(Enrollment).where(
            Enrollment.household_id == household.id, Enrollment.status.in_(OPEN_STATUSES)
        )
    )


def latest_enrollment(household: Household) -> Enrollment | None:
    """The household's most recent application or enrollment (the one a reopening undoes)."""
    return db.session.scalar(
        select(Enrollment)
        .where(Enrollment.household_id == household.id)
        .order_by(Enrollment.applied_on.desc(), Enrollment.id.desc())
        .limit(1)
    )

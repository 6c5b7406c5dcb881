"""Reads of the register, already filtered by what the user may see."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.orm import selectinload

from casework.extensions import db
from casework.households.models import (
    KEY_SEPARATOR,
    CaseloadAssignment,
    CaseNote,
    DuplicateReview,
    Household,
    Member,
    NoteVisibility,
    match_key,
)
from casework.organizations.models import Municipality
from casework.security import policies
from casework.security.models import Role, RoleAssignment, User


def household_visibility(user: User) -> ColumnElement[bool]:
    """The SQL form of ``policies.household_scope``: the one filter every household list uses."""
    scope = policies.household_scope(user)
    clauses: list[ColumnElement[bool]] = []
    if scope.municipalities:
        clauses.append(Household.municipality_id.in_(scope.municipalities))
    if scope.caseload_municipalities:
        clauses.append(
            (Household.municipality_id.in_(scope.caseload_municipalities))
            & (Household.assigned_worker_id == scope.caseload_worker_id)
        )
    return or_(*clauses) if clauses else false()


def _search(stmt: Select[Household], q: str) -> Select[Household]:
    return stmt.where(search_filter(q))


def national_id_searched(q: str) -> str | None:
    """The national ID a search is for: all 13 digits (spaces aside), else None. A partial
    number searches nothing by ID, so that nobody can list the people born on a day."""
    number = "".join(q.split())
    return number if len(number) == 13 and number.isdigit() else None


def _like(text: str) -> str:
    # The person's text is matched as typed: % and _ are letters here, not wildcards (a
    # search for "%" would otherwise list every household).
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_filter(q: str) -> ColumnElement[bool]:
    """Match the case number, address, settlement, or any member's name: the list's search,
    also used by its export. Names and addresses are compared by their match keys, so a
    Latin spelling finds a Cyrillic one and back; a full national ID finds its person
    (through the number's unique index) and nothing else."""
    number = national_id_searched(q)
    if number is not None:
        return (
            select(Member.id)
            .where(Member.household_id == Household.id, Member.national_id == number)
            .exists()
        )
    typed = _like(q.strip().lower())
    key = _like(match_key(q.strip()))
    member_match = (
        select(Member.id)
        .where(Member.household_id == Household.id)
        # The key holds first and last name apart; the search reads them as one text.
        .where(func.replace(Member.name_key, KEY_SEPARATOR, " ").like(key, escape="\\"))
        .exists()
    )
    return or_(
        func.lower(Household.case_number).like(typed, escape="\\"),
        Household.address_key.like(key, escape="\\"),
        func.lower(Household.settlement).like(typed, escape="\\"),
        member_match,
    )


def visible_households(user: User, q: str = "") -> Select[Household]:
    stmt = select(Household).where(household_visibility(user))
    if q.strip():
        stmt = _search(stmt, q)
    return stmt.options(
        selectinload(Household.members), selectinload(Household.assigned_worker)
    ).order_by(Household.case_number)


def get_visible_household(user: User, household_id: int) -> Household | None:
    """The household, or None when it does not exist *or* lies outside the user's scope."""
    return db.session.scalar(
        select(Household)
        .where(Household.id == household_id, household_visibility(user))
        .options(selectinload(Household.members).selectinload(Member.exemptions))
    )


def get_visible_member(user: User, member_id: int) -> Member | None:
    """The member, or None when it does not exist or its household lies outside the scope."""
    return db.session.scalar(
        select(Member)
        .join(Household, Member.household_id == Household.id)
        .where(Member.id == member_id, household_visibility(user))
    )


def social_workers_of(municipality_id: int) -> Select[User]:
    return (
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(
            RoleAssignment.role == Role.SOCIAL_WORKER,
            RoleAssignment.municipality_id == municipality_id,
            User.active.is_(True),
        )
        .order_by(User.full_name)
    )


def notes_for(user: User, household: Household) -> list[CaseNote]:
    """The household's notes this user may read: officers get the shared ones only."""
    stmt = select(CaseNote).where(CaseNote.household_id == household.id)
    if not policies.can_read_ngo_notes(user, household):
        stmt = stmt.where(CaseNote.visibility == NoteVisibility.SHARED)
    return list(
        db.session.scalars(
            stmt.options(selectinload(CaseNote.author)).order_by(
                CaseNote.written_on.desc(), CaseNote.id.desc()
            )
        )
    )


def caseload_history(household: Household) -> list[CaseloadAssignment]:
    return list(
        db.session.scalars(
            select(CaseloadAssignment)
            .where(CaseloadAssignment.household_id == household.id)
            .options(
                selectinload(CaseloadAssignment.worker),
                selectinload(CaseloadAssignment.assigned_by),
            )
            .order_by(CaseloadAssignment.assigned_at.desc(), CaseloadAssignment.id.desc())
        )
    )


def duplicate_reviews(household: Household) -> list[DuplicateReview]:
    return list(
        db.session.scalars(
            select(DuplicateReview)
            .where(DuplicateReview.household_id == household.id)
            .options(selectinload(DuplicateReview.other_household).selectinload(Household.members))
            .order_by(DuplicateReview.id)
        )
    )


def get_visible_duplicate_review(user: User, review_id: int) -> DuplicateReview | None:
    return db.session.scalar(
        select(DuplicateReview)
        .join(Household, DuplicateReview.household_id == Household.id)
        .where(DuplicateReview.id == review_id, household_visibility(user))
    )


def municipalities_for_new_households(user: User) -> list[Municipality]:
    """Where the user may register a household, by name."""
    allowed = policies.municipalities_for_new_households(user)
    return list(
        db.session.scalars(
            select(Municipality).where(Municipality.id.in_(allowed)).order_by(Municipality.name)
        )
    )


def get_municipality(municipality_id: int) -> Municipality | None:
    return db.session.get(Municipality, municipality_id)

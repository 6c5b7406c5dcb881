"""Reads of the register, already filtered by what the user may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import ColumnElement, Select, case, false, func, or_, select
from sqlalchemy.orm import aliased, selectinload

from casework.balances.models import BalanceRun, BalanceSnapshot, CheckStatus
from casework.enrollment.models import OPEN_STATUSES, Enrollment, Status
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
from casework.payments.models import Obligation, Payment, PaymentReversal
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import Role, RoleAssignment, User
from casework.work.models import LogStatus, WorkLog


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


# --- the list: enrollment status, balance, filters and urgency ---------------------------------

NOT_ENROLLED = "none"  # the status filter's value for a family never enrolled
UNASSIGNED = 0  # the worker filter's value for a family with no social worker
LATE = "late"  # the check filter's value for "behind or overdue"
CHECK_CHOICES = (CheckStatus.BEHIND.value, CheckStatus.OVERDUE.value, LATE)
SORTS = ("urgency", "case", "name")


@dataclass(frozen=True)
class ListFilter:
    """What the household list (its page, export, API and the caseload) is narrowed to and
    sorted by; ``None`` is "any". The scope is never a filter: it is always applied."""

    q: str = ""
    status: str | None = None  # an enrollment status, or NOT_ENROLLED
    worker_id: int | None = None
    settlement: str | None = None
    programme_id: int | None = None
    check: str | None = None  # the latest balance check: behind, overdue, or LATE (either)
    sort: str = "urgency"


@dataclass(frozen=True)
class ListFacts:
    """The columns a household's row is filtered and sorted on, joined once per statement."""

    enrollment: Any  # the aliased Enrollment the row shows (its open one, else its latest)
    owed: ColumnElement[int]
    verified: ColumnElement[int]
    pending: ColumnElement[int]
    last_worked: ColumnElement[Any]
    check: ColumnElement[Any]

    @property
    def left(self) -> ColumnElement[int]:
        return case((self.owed > self.verified, self.owed - self.verified), else_=0)


def shown_enrollment(programme_id: int | None) -> Any:
    """The enrollment whose status a family's row shows, whether open or closed: its open one,
    else its latest (completed, withdrawn, rejected); within the programme when one is
    chosen."""
    chosen = select(Enrollment.id).where(Enrollment.household_id == Household.id)
    if programme_id is not None:
        chosen = chosen.where(Enrollment.programme_id == programme_id)
    still_open = case((Enrollment.status.in_(OPEN_STATUSES), 0), else_=1)
    return (
        chosen.order_by(still_open, Enrollment.id.desc())
        .limit(1)
        .correlate(Household)
        .scalar_subquery()
    )


def with_list_facts(stmt: Select[Any], programme_id: int | None) -> tuple[Select[Any], ListFacts]:
    """``stmt`` (a select from Household) joined to what the list shows of each family, as
    grouped subqueries: the statement count never grows with the rows."""
    shown = aliased(Enrollment, name="shown_enrollment")
    owed = (
        select(Obligation.household_id, func.sum(Obligation.minutes).label("minutes"))
        .join(Payment, Obligation.payment_id == Payment.id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(PaymentReversal.id.is_(None))
        .group_by(Obligation.household_id)
        .subquery("owed")
    )
    worked = (
        select(
            WorkLog.household_id,
            func.sum(case((WorkLog.status == LogStatus.VERIFIED, WorkLog.minutes), else_=0)).label(
                "verified"
            ),
            func.sum(case((WorkLog.status == LogStatus.LOGGED, WorkLog.minutes), else_=0)).label(
                "pending"
            ),
            func.max(case((WorkLog.status != LogStatus.REJECTED, WorkLog.work_date))).label("last"),
        )
        .group_by(WorkLog.household_id)
        .subquery("worked")
    )
    # The latest check of the shown enrollment's programme; it speaks only while the
    # enrollment is active (a closed family's last "overdue" is history, not urgency).
    latest_check = (
        select(BalanceSnapshot.status)
        .join(BalanceRun, BalanceSnapshot.run_id == BalanceRun.id)
        .where(
            BalanceSnapshot.household_id == Household.id,
            BalanceRun.programme_id == shown.programme_id,
        )
        .order_by(BalanceRun.as_of.desc(), BalanceRun.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        stmt.outerjoin_from(Household, shown, shown.id == shown_enrollment(programme_id))
        .outerjoin_from(Household, owed, owed.c.household_id == Household.id)
        .outerjoin_from(Household, worked, worked.c.household_id == Household.id)
    )
    return stmt, ListFacts(
        enrollment=shown,
        owed=func.coalesce(owed.c.minutes, 0),
        verified=func.coalesce(worked.c.verified, 0),
        pending=func.coalesce(worked.c.pending, 0),
        last_worked=worked.c.last,
        check=case((shown.status == Status.ACTIVE, latest_check), else_=None),
    )


def list_filtered(stmt: Select[Any], facts: ListFacts, wanted: ListFilter) -> Select[Any]:
    """The list's filters, over the user's scope already in ``stmt``."""
    if wanted.q.strip():
        stmt = stmt.where(search_filter(wanted.q))
    if wanted.status == NOT_ENROLLED:
        stmt = stmt.where(facts.enrollment.id.is_(None))
    elif wanted.status is not None:
        stmt = stmt.where(facts.enrollment.status == wanted.status)
    if wanted.programme_id is not None:
        stmt = stmt.where(facts.enrollment.id.is_not(None))  # the programme's families only
    if wanted.worker_id == UNASSIGNED:
        stmt = stmt.where(Household.assigned_worker_id.is_(None))
    elif wanted.worker_id is not None:
        stmt = stmt.where(Household.assigned_worker_id == wanted.worker_id)
    if wanted.settlement is not None:
        stmt = stmt.where(Household.settlement == wanted.settlement)
    if wanted.check == LATE:
        stmt = stmt.where(facts.check.in_((CheckStatus.BEHIND, CheckStatus.OVERDUE)))
    elif wanted.check is not None:
        stmt = stmt.where(facts.check == wanted.check)
    return stmt


def _head_name(part: Any) -> Any:
    return (
        select(part)
        .where(Member.household_id == Household.id, Member.is_head.is_(True))
        .limit(1)
        .correlate(Household)
        .scalar_subquery()
    )


def list_order(facts: ListFacts, sort: str) -> list[Any]:
    """Urgency: overdue first, then behind, then the other active families, the most hours
    left first; then applications waiting for a step, families never enrolled, and last the
    closed ones (their hours left are no one's work today). Or by case number or name."""
    if sort == "name":
        return [_head_name(Member.last_name), _head_name(Member.first_name), Household.case_number]
    if sort == "case":
        return [Household.case_number]
    status = facts.enrollment.status
    rank = case(
        (facts.check == CheckStatus.OVERDUE, 0),
        (facts.check == CheckStatus.BEHIND, 1),
        (status == Status.ACTIVE, 2),
        (status.in_(OPEN_STATUSES), 3),
        (facts.enrollment.id.is_(None), 4),
        else_=5,
    )
    return [rank, facts.left.desc(), Household.case_number]


def household_list(user: User, wanted: ListFilter) -> Select[Any]:
    """Rows of (Household, enrollment status, programme name, latest check, owed, verified,
    pending, last worked) the user may see, filtered and sorted: one statement for any
    number of families (members and social worker loaded with one more each)."""
    stmt, facts = with_list_facts(
        select(Household).where(household_visibility(user)), wanted.programme_id
    )
    stmt = list_filtered(stmt, facts, wanted).outerjoin_from(
        facts.enrollment, Programme, Programme.id == facts.enrollment.programme_id
    )
    return (
        stmt.add_columns(
            facts.enrollment.status.label("status"),
            Programme.name.label("programme"),
            facts.check.label("check"),
            facts.owed.label("owed"),
            facts.verified.label("verified"),
            facts.pending.label("pending"),
            facts.last_worked.label("last_worked"),
        )
        .options(selectinload(Household.members), selectinload(Household.assigned_worker))
        .order_by(*list_order(facts, wanted.sort))
    )


class RowPagination(SelectPagination):
    """A page of a statement's rows (not only its first column), with its total."""

    def _query_items(self) -> list[Any]:
        stmt = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(stmt).all())


def paginate_rows(stmt: Select[Any], page: int, per_page: int) -> RowPagination:
    return RowPagination(
        select=stmt,
        session=db.session(),
        page=page,
        per_page=per_page,
        max_per_page=None,
        error_out=False,
        count=True,
    )


def list_settlements(user: User) -> list[str]:
    """The settlements of the households the user sees: the settlement filter's choices."""
    return list(
        db.session.scalars(
            select(Household.settlement)
            .where(household_visibility(user), Household.settlement != "")
            .distinct()
            .order_by(Household.settlement)
        )
    )


def list_workers(user: User) -> list[User]:
    """The social workers of the municipalities whose whole register the user sees (none for
    a social worker, who sees its own caseload only): the worker filter's choices."""
    places = policies.household_scope(user).municipalities
    if not places:
        return []
    return list(
        db.session.scalars(
            select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(
                RoleAssignment.role == Role.SOCIAL_WORKER,
                RoleAssignment.municipality_id.in_(places),
            )
            .distinct()
            .order_by(User.full_name)
        )
    )

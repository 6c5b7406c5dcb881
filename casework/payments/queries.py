"""Reads of the money side, set-based (one query per list, never one per row) and filtered by
what the user may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Exists, Select, String, case, cast, func, literal, or_, select
from sqlalchemy.orm import selectinload

from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.households.models import Household
from casework.households.queries import get_visible_household, household_visibility
from casework.organizations.models import Organization, OrganizationKind
from casework.payments.models import (
    OPEN_REQUEST_STATUSES,
    Approval,
    Arrear,
    CustomerNumberCorrection,
    Obligation,
    Payment,
    PaymentRequest,
    PaymentReversal,
    RequestEvent,
    RequestStatus,
    UtilityAccount,
)
from casework.payments.services import ineligibility
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import User


def creditors_query(user: User, serving: Household | None = None) -> Select[Organization]:
    """The utilities and other creditors the user sees (its municipalities' and the shared
    ones), by name; with ``serving``, only those the household's debts can be owed to."""
    query = select(Organization).where(Organization.kind == OrganizationKind.CREDITOR)
    scope = policies.creditor_municipalities(user)
    if scope is not None:
        query = query.where(
            or_(Organization.municipality_id.is_(None), Organization.municipality_id.in_(scope))
        )
    if serving is not None:
        query = query.where(
            or_(
                Organization.municipality_id.is_(None),
                Organization.municipality_id == serving.municipality_id,
            )
        )
    return query.order_by(Organization.name, Organization.id)


def creditors(user: User, serving: Household | None = None) -> list[Organization]:
    return list(db.session.scalars(creditors_query(user, serving)))


def get_visible_creditor(user: User, creditor_id: int) -> Organization | None:
    """A creditor the user sees, or None: another municipality's is as one that does not exist."""
    creditor = db.session.get(Organization, creditor_id)
    if creditor is None or creditor.kind != OrganizationKind.CREDITOR:
        return None
    return creditor if policies.can_see_creditor(user, creditor) else None


# --- loading within the user's scope -----------------------------------------------------------


def get_visible_money(user: User, household_id: int) -> Household | None:
    """The household whose money the user may see, or None: one outside the scope is
    answered as one that does not exist."""
    household = get_visible_household(user, household_id)
    if household is None or not policies.can_view_money(user, household):
        return None
    return household


def get_visible_account(user: User, account_id: int) -> UtilityAccount | None:
    """A utility account of a household whose money the user sees."""
    account = db.session.get(UtilityAccount, account_id)
    if account is None or get_visible_money(user, account.household_id) is None:
        return None
    return account


def get_visible_arrear(user: User, arrear_id: int) -> Arrear | None:
    """A debt statement of a household whose money the user sees."""
    arrear = db.session.get(Arrear, arrear_id)
    if arrear is None or get_visible_money(user, arrear.account.household_id) is None:
        return None
    return arrear


def requests_on(arrear: Arrear) -> list[PaymentRequest]:
    """The payment requests made on one statement, oldest first (its correction page)."""
    return list(
        db.session.scalars(
            select(PaymentRequest)
            .where(PaymentRequest.arrear_id == arrear.id)
            .order_by(PaymentRequest.id)
        )
    )


def _live_payments() -> Select[int, int]:
    """(request id, amount) of every payment that has not been reversed."""
    return (
        select(Payment.request_id, Payment.amount_deni)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(PaymentReversal.id.is_(None))
    )


def paid_by_arrear(arrear_ids: list[int]) -> dict[int, int]:
    live = _live_payments().subquery()
    rows = db.session.execute(
        select(PaymentRequest.arrear_id, func.sum(live.c.amount_deni))
        .join(live, live.c.request_id == PaymentRequest.id)
        .where(PaymentRequest.arrear_id.in_(arrear_ids))
        .group_by(PaymentRequest.arrear_id)
    )
    return {arrear_id: int(total) for arrear_id, total in rows}


def held_by_arrear(arrear_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(
        select(PaymentRequest.arrear_id, func.sum(PaymentRequest.amount_deni))
        .where(
            PaymentRequest.arrear_id.in_(arrear_ids),
            PaymentRequest.status.in_(OPEN_REQUEST_STATUSES),
        )
        .group_by(PaymentRequest.arrear_id)
    )
    return {arrear_id: int(total) for arrear_id, total in rows}


@dataclass
class ArrearLine:
    arrear: Arrear
    paid: int
    held: int
    not_eligible: str | None

    @property
    def outstanding(self) -> int:
        """Nothing on a voided statement: it no longer says the family owes anything."""
        return self.arrear.total_deni - self.paid if self.arrear.counts else 0

    @property
    def requestable(self) -> int:
        return max(self.outstanding - self.held, 0)


@dataclass
class CreditorLine:
    creditor: Organization
    arrears: int = 0
    paid: int = 0

    @property
    def outstanding(self) -> int:
        return self.arrears - self.paid


@dataclass
class Money:
    """Everything the household money page shows, from a handful of queries."""

    accounts: list[UtilityAccount]
    lines: list[ArrearLine]  # the statements that count (every total is theirs)
    by_creditor: list[CreditorLine]
    requests: list[PaymentRequest]
    obligations: list[Obligation]
    arrears_total: int = 0
    paid_total: int = 0
    eligible_outstanding: int = 0
    minutes_owed: int = 0
    # Every statement of each account, voided ones too (struck out in the history).
    lines_by_account: dict[int, list[ArrearLine]] = field(default_factory=dict)

    @property
    def outstanding_total(self) -> int:
        return self.arrears_total - self.paid_total


def _arrear_lines(accounts: list[UtilityAccount], programme: Programme | None) -> list[ArrearLine]:
    """Each statement with what is paid and held on it, and why the programme would not pay
    it (a handful of queries for all of them)."""
    arrears = [a for account in accounts for a in account.arrears]
    ids = [a.id for a in arrears]
    paid, held = paid_by_arrear(ids), held_by_arrear(ids)
    if programme is not None:
        programme.eligible_creditors  # noqa: B018 - load once, not per arrear
    return [
        ArrearLine(
            a,
            paid.get(a.id, 0),
            held.get(a.id, 0),
            ineligibility(a, programme) if programme is not None else None,
        )
        for a in arrears
    ]


def _by_creditor(lines: list[ArrearLine]) -> list[CreditorLine]:
    totals: dict[int, CreditorLine] = {}
    for line in lines:
        creditor = line.arrear.account.creditor
        entry = totals.setdefault(creditor.id, CreditorLine(creditor))
        entry.arrears += line.arrear.total_deni
        entry.paid += line.paid
    return sorted(totals.values(), key=lambda c: c.creditor.name)


def _requests_of(household: Household) -> list[PaymentRequest]:
    return list(
        db.session.scalars(
            select(PaymentRequest)
            .join(Arrear, PaymentRequest.arrear_id == Arrear.id)
            .join(UtilityAccount, Arrear.account_id == UtilityAccount.id)
            .where(UtilityAccount.household_id == household.id)
            .options(
                selectinload(PaymentRequest.payment).selectinload(Payment.reversal),
                selectinload(PaymentRequest.arrear)
                .selectinload(Arrear.account)
                .selectinload(UtilityAccount.creditor),
                selectinload(PaymentRequest.created_by),
            )
            .order_by(PaymentRequest.id.desc())
        )
    )


def _obligations_of(household: Household) -> list[Obligation]:
    return list(
        db.session.scalars(
            select(Obligation)
            .where(Obligation.household_id == household.id)
            .options(selectinload(Obligation.payment).selectinload(Payment.reversal))
            .order_by(Obligation.starts_on, Obligation.id)
        )
    )


def household_money(household: Household, programme: Programme | None) -> Money:
    """The family's debts, payments and hours. A voided statement counts nowhere (not in the
    totals, by creditor, eligibility or what can be requested) but stays in the history."""
    accounts = list(
        db.session.scalars(
            select(UtilityAccount)
            .where(UtilityAccount.household_id == household.id)
            .options(
                selectinload(UtilityAccount.arrears).selectinload(Arrear.voided_by),
                selectinload(UtilityAccount.arrears).selectinload(Arrear.replaced_by),
                selectinload(UtilityAccount.arrears).selectinload(Arrear.replaces),
                selectinload(UtilityAccount.creditor),
                selectinload(UtilityAccount.corrections).selectinload(
                    CustomerNumberCorrection.corrected_by
                ),
            )
            .order_by(UtilityAccount.id)
        )
    )
    every_line = _arrear_lines(accounts, programme)
    lines = [line for line in every_line if line.arrear.counts]
    obligations = _obligations_of(household)
    money = Money(
        accounts=accounts,
        lines=lines,
        by_creditor=_by_creditor(lines),
        requests=_requests_of(household),
        obligations=obligations,
        arrears_total=sum(line.arrear.total_deni for line in lines),
        paid_total=sum(line.paid for line in lines),
        eligible_outstanding=sum(line.outstanding for line in lines if not line.not_eligible),
        minutes_owed=sum(o.minutes for o in obligations if o.payment.reversal is None),
    )
    for line in every_line:
        money.lines_by_account.setdefault(line.arrear.account_id, []).append(line)
    return money


def _request_visibility(user: User) -> Select[int]:
    return (
        select(PaymentRequest.id)
        .join(Enrollment, PaymentRequest.enrollment_id == Enrollment.id)
        .join(Household, Enrollment.household_id == Household.id)
        .where(household_visibility(user))
    )


def visible_requests(user: User, status: RequestStatus | None = None) -> Select[PaymentRequest]:
    """The requests of the households the user sees (of one status), newest first."""
    query = select(PaymentRequest).where(PaymentRequest.id.in_(_request_visibility(user)))
    if status is not None:
        query = query.where(PaymentRequest.status == status)
    return query.options(
        selectinload(PaymentRequest.enrollment),
        selectinload(PaymentRequest.approvals),
        selectinload(PaymentRequest.payment).selectinload(Payment.obligation),
        selectinload(PaymentRequest.payment).selectinload(Payment.reversal),
    ).order_by(PaymentRequest.id.desc())


def get_visible_request(user: User, request_id: int) -> PaymentRequest | None:
    """The request, or None when it does not exist or its household is outside the scope."""
    return db.session.scalar(
        select(PaymentRequest).where(
            PaymentRequest.id == request_id,
            PaymentRequest.id.in_(_request_visibility(user)),
        )
    )


def get_visible_payment(user: User, payment_id: int) -> Payment | None:
    return db.session.scalar(
        select(Payment).where(
            Payment.id == payment_id, Payment.request_id.in_(_request_visibility(user))
        )
    )


@dataclass(frozen=True)
class QueueRow:
    request: PaymentRequest
    household: Household
    arrears_total: int
    paid_total: int
    minutes_owed: int


def _approved_by(user: User) -> Exists:
    """Whether the user's approval counts in the request's current round."""
    return (
        select(Approval.id)
        .where(
            Approval.request_id == PaymentRequest.id,
            Approval.round == PaymentRequest.round,
            Approval.officer_id == user.id,
        )
        .exists()
    )


def officer_queue(user: User) -> list[QueueRow]:
    """Submitted requests this officer may approve: its municipalities, not its own making,
    not yet approved by it in this round. Household totals come from grouped subqueries."""
    municipalities = policies.payment_officer_municipalities(user)
    if not municipalities:
        return []
    mine = _approved_by(user)
    arrears = (
        select(
            UtilityAccount.household_id.label("household_id"),
            func.sum(Arrear.principal_deni + Arrear.penalty_deni).label("total"),
        )
        .join(Arrear, Arrear.account_id == UtilityAccount.id)
        .where(Arrear.voided_on.is_(None))
        .group_by(UtilityAccount.household_id)
        .subquery()
    )
    live = _live_payments().subquery()
    paid = (
        select(
            Enrollment.household_id.label("household_id"),
            func.sum(live.c.amount_deni).label("total"),
        )
        .join(PaymentRequest, PaymentRequest.enrollment_id == Enrollment.id)
        .join(live, live.c.request_id == PaymentRequest.id)
        .group_by(Enrollment.household_id)
        .subquery()
    )
    owed = (
        select(
            Obligation.household_id.label("household_id"),
            func.sum(Obligation.minutes).label("minutes"),
        )
        .join(Payment, Obligation.payment_id == Payment.id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(PaymentReversal.id.is_(None))
        .group_by(Obligation.household_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            PaymentRequest,
            Household,
            func.coalesce(arrears.c.total, literal(0)),
            func.coalesce(paid.c.total, literal(0)),
            func.coalesce(owed.c.minutes, literal(0)),
        )
        .join(Enrollment, PaymentRequest.enrollment_id == Enrollment.id)
        .join(Household, Enrollment.household_id == Household.id)
        .outerjoin(arrears, arrears.c.household_id == Household.id)
        .outerjoin(paid, paid.c.household_id == Household.id)
        .outerjoin(owed, owed.c.household_id == Household.id)
        .where(
            PaymentRequest.status == RequestStatus.SUBMITTED,
            Household.municipality_id.in_(municipalities),
            PaymentRequest.created_by_id != user.id,
            PaymentRequest.last_changed_by_id != user.id,
            ~mine,
        )
        .options(
            selectinload(PaymentRequest.arrear)
            .selectinload(Arrear.account)
            .selectinload(UtilityAccount.creditor),
            selectinload(Household.members),
        )
        .order_by(PaymentRequest.id)
    )
    return [QueueRow(r, h, int(a), int(p), int(m)) for r, h, a, p, m in rows]


@dataclass
class Budget:
    programme: Programme
    approved: int  # approved, not yet paid
    paid: int
    by_creditor: list[tuple[str, int, int]]  # creditor, approved, paid
    by_month: list[tuple[date, int]]  # first day of the month, paid

    @property
    def left(self) -> int:
        return self.programme.budget_deni - self.approved - self.paid


def programme_budget(programme: Programme) -> Budget:
    """Figures without names: fit for officers, coordinators, auditors and donors."""
    live = _live_payments().subquery()
    base = (
        select(PaymentRequest)
        .join(Enrollment, PaymentRequest.enrollment_id == Enrollment.id)
        .where(Enrollment.programme_id == programme.id)
        .subquery()
    )
    creditor_rows = db.session.execute(
        select(
            Organization.name,
            func.sum(case((base.c.status == RequestStatus.APPROVED, base.c.amount_deni), else_=0)),
            func.coalesce(func.sum(live.c.amount_deni), 0),
        )
        .select_from(base)
        .join(Arrear, Arrear.id == base.c.arrear_id)
        .join(UtilityAccount, UtilityAccount.id == Arrear.account_id)
        .join(Organization, Organization.id == UtilityAccount.creditor_id)
        .outerjoin(live, live.c.request_id == base.c.id)
        .group_by(Organization.name)
        .order_by(Organization.name)
    )
    by_creditor = [(name, int(a or 0), int(p or 0)) for name, a, p in creditor_rows]
    month = func.substr(cast(Payment.paid_on, String), 1, 7)
    month_rows = db.session.execute(
        select(month, func.sum(Payment.amount_deni))
        .join(PaymentRequest, Payment.request_id == PaymentRequest.id)
        .join(Enrollment, PaymentRequest.enrollment_id == Enrollment.id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(Enrollment.programme_id == programme.id, PaymentReversal.id.is_(None))
        .group_by(month)
        .order_by(month)
    )
    by_month = [(date(int(m[:4]), int(m[5:7]), 1), int(total)) for m, total in month_rows if m]
    return Budget(
        programme=programme,
        approved=sum(a for _n, a, _p in by_creditor),
        paid=sum(p for _n, _a, p in by_creditor),
        by_creditor=by_creditor,
        by_month=by_month,
    )


# --- work queues: approved requests to pay, rejected requests back with their makers ----------


@dataclass(frozen=True)
class Page:
    """One page of a work queue's rows, with the page's place among all of them."""

    items: list[Any]
    page: int
    pages: int
    total: int


def _paged_rows(query: Select[*tuple[Any, ...]], page: int, per_page: int) -> Page:
    """One count and one page of rows (each row a tuple of the query's entities)."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page([tuple(row) for row in rows], page, pages, total)


def _requests_in(
    status: RequestStatus, municipalities: set[int]
) -> Select[PaymentRequest, Household]:
    """Requests of one status in the given municipalities, with their household, creditor and
    approvals loaded for the whole page at once."""
    return (
        select(PaymentRequest, Household)
        .join(Enrollment, PaymentRequest.enrollment_id == Enrollment.id)
        .join(Household, Enrollment.household_id == Household.id)
        .where(PaymentRequest.status == status, Household.municipality_id.in_(municipalities))
        .options(
            selectinload(PaymentRequest.arrear)
            .selectinload(Arrear.account)
            .selectinload(UtilityAccount.creditor),
            selectinload(PaymentRequest.approvals).selectinload(Approval.officer),
            selectinload(Household.members),
        )
    )


def payments_to_record_query(user: User) -> Select[PaymentRequest, Household]:
    """(request, household) approved and not yet paid, in the municipalities where the user
    decides payments; the oldest approval first (the longest waiting)."""
    return _requests_in(
        RequestStatus.APPROVED, policies.payment_officer_municipalities(user)
    ).order_by(PaymentRequest.approved_on, PaymentRequest.id)


def payments_to_record(user: User, *, page: int = 1, per_page: int = 50) -> Page:
    return _paged_rows(payments_to_record_query(user), page, per_page)


def count_payments_to_record(user: User) -> int:
    """What the officer's home card counts: the rows of its list."""
    query = payments_to_record_query(user).order_by(None)
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def returned_requests_query(
    user: User,
) -> Select[PaymentRequest, Household, RequestEvent, User]:
    """(request, household, rejection event, officer) of every rejected request in the
    municipalities the user coordinates; the latest rejection is the one that counts, the
    newest first."""
    latest = (
        select(func.max(RequestEvent.id).label("event_id"))
        .where(RequestEvent.to_status == RequestStatus.REJECTED)
        .group_by(RequestEvent.request_id)
        .subquery()
    )
    return (
        _requests_in(RequestStatus.REJECTED, policies.returned_request_municipalities(user))
        .add_columns(RequestEvent, User)
        .join(RequestEvent, RequestEvent.request_id == PaymentRequest.id)
        .join(latest, latest.c.event_id == RequestEvent.id)
        .join(User, RequestEvent.actor_id == User.id)
        .order_by(RequestEvent.id.desc())
    )


def returned_requests(user: User, *, page: int = 1, per_page: int = 50) -> Page:
    return _paged_rows(returned_requests_query(user), page, per_page)


def count_returned_requests(user: User) -> int:
    """What the coordinator's home card counts: the rows of its list."""
    query = _requests_in(RequestStatus.REJECTED, policies.returned_request_municipalities(user))
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def waiting_for_second_officer(user: User) -> list[tuple[PaymentRequest, Household]]:
    """(request, household) of the submitted requests this officer approved first in their
    current round: another officer decides them now (the queue shows them apart)."""
    mine = _approved_by(user)
    query = _requests_in(
        RequestStatus.SUBMITTED, policies.payment_officer_municipalities(user)
    ).where(mine)
    return [(r, h) for r, h in db.session.execute(query.order_by(PaymentRequest.id))]

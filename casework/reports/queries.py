"""The figures of dashboards, the programme report and the family statement.

Every figure is one grouped query over the whole programme (never a query per household), and
none of them carries a name: they are fit for auditors and donors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, String, cast, func, literal_column, select
from sqlalchemy.orm import selectinload

from casework import formatting
from casework.balances.models import BalanceRun, BalanceSnapshot
from casework.enrollment.models import Enrollment, Status
from casework.extensions import db
from casework.households.models import Household, Member
from casework.households.services import mask_national_id
from casework.organizations.models import Organization
from casework.payments.models import (
    Arrear,
    Obligation,
    Payment,
    PaymentRequest,
    PaymentReversal,
    RequestStatus,
    UtilityAccount,
)
from casework.payments.queries import Money, household_money
from casework.programmes.models import Programme
from casework.work.models import LogStatus, WorkLog
from casework.work.queries import Balance, balances

MAX_PERIOD_DAYS = 366 * 10


def _month(column: Any) -> Any:
    """'2026-11' from a date column, on SQLite and PostgreSQL alike. The bounds are written
    into the SQL, not bound: PostgreSQL must see the SELECT and the GROUP BY as one expression."""
    return func.substr(cast(column, String), literal_column("1"), literal_column("7"))


def month_start(key: str) -> date:
    return date(int(key[:4]), int(key[5:7]), 1)


def months_between(start: date, end: date) -> list[date]:
    months, day = [], date(start.year, start.month, 1)
    while day <= end:
        months.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


@dataclass
class MonthRow:
    month: date
    activated: int = 0
    completed: int = 0
    paid_deni: int = 0
    owed_minutes: int = 0
    verified_minutes: int = 0
    closed_early: int = 0


@dataclass
class Indicators:
    """A programme's results over a period, next to its targets."""

    programme: Programme
    period_from: date
    period_to: date
    activated: int = 0
    completed: int = 0
    closed_early: int = 0  # ended with hours owed, for a reason: never counted as completed
    active_now: int = 0
    paid_deni: int = 0
    owed_minutes: int = 0
    verified_minutes: int = 0
    # Verified minutes beyond what the programme's families owe at the end of the period (a
    # payment reversed after they worked): the sum of each household's Balance.beyond.
    beyond_minutes: int = 0
    days_to_complete: list[int] = field(default_factory=list)
    by_creditor: list[tuple[str, int]] = field(default_factory=list)
    months: list[MonthRow] = field(default_factory=list)

    @property
    def completion_rate(self) -> int | None:
        """Percent of the families activated in the period who have completed their hours."""
        if not self.activated:
            return None
        return round(self.completed * 100 / self.activated)

    @property
    def average_days_to_complete(self) -> int | None:
        if not self.days_to_complete:
            return None
        return round(sum(self.days_to_complete) / len(self.days_to_complete))


def _live_payments_of(programme: Programme) -> Any:
    return (
        select(Payment)
        .join(PaymentRequest, Payment.request_id == PaymentRequest.id)
        .join(Enrollment, PaymentRequest.enrollment_id == Enrollment.id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(Enrollment.programme_id == programme.id, PaymentReversal.id.is_(None))
    )


def indicators(programme: Programme, period_from: date, period_to: date) -> Indicators:
    """Results between two dates (both included): families activated and completed, debt paid
    (by creditor), hours owed for those payments and hours verified, month by month."""
    result = Indicators(programme, period_from, period_to)
    months = {m: MonthRow(m) for m in months_between(period_from, period_to)}

    def add(rows: Iterable[Any], attribute: str) -> int:
        total = 0
        for key, value in rows:
            if key is None:
                continue
            row = months.get(month_start(key))
            if row is not None:
                setattr(row, attribute, getattr(row, attribute) + int(value or 0))
                total += int(value or 0)
        return total

    in_programme = Enrollment.programme_id == programme.id
    result.activated = add(
        db.session.execute(
            select(_month(Enrollment.active_since), func.count())
            .where(in_programme, Enrollment.active_since.between(period_from, period_to))
            .group_by(_month(Enrollment.active_since))
        ),
        "activated",
    )
    completed = db.session.execute(
        select(Enrollment.active_since, Enrollment.ended_on).where(
            in_programme,
            Enrollment.status == Status.COMPLETED,
            Enrollment.ended_on.between(period_from, period_to),
        )
    ).all()
    for active_since, ended_on in completed:
        if ended_on is None:
            continue  # unreachable: the query asks for an end date in the period
        months[date(ended_on.year, ended_on.month, 1)].completed += 1
        if active_since is not None:
            result.days_to_complete.append((ended_on - active_since).days)
    result.completed = len(completed)
    result.closed_early = add(
        db.session.execute(
            select(_month(Enrollment.ended_on), func.count())
            .where(
                in_programme,
                Enrollment.status == Status.CLOSED_EARLY,
                Enrollment.ended_on.between(period_from, period_to),
            )
            .group_by(_month(Enrollment.ended_on))
        ),
        "closed_early",
    )
    result.beyond_minutes = beyond_what_is_owed(programme, period_to)
    result.active_now = (
        db.session.scalar(
            select(func.count()).where(in_programme, Enrollment.status == Status.ACTIVE)
        )
        or 0
    )
    live = _live_payments_of(programme).where(Payment.paid_on.between(period_from, period_to))
    paid = live.subquery()
    result.paid_deni = add(
        db.session.execute(
            select(_month(paid.c.paid_on), func.sum(paid.c.amount_deni)).group_by(
                _month(paid.c.paid_on)
            )
        ),
        "paid_deni",
    )
    creditor_rows = db.session.execute(
        select(Organization.short_name, Organization.name, func.sum(paid.c.amount_deni))
        .select_from(paid)
        .join(PaymentRequest, PaymentRequest.id == paid.c.request_id)
        .join(Arrear, Arrear.id == PaymentRequest.arrear_id)
        .join(UtilityAccount, UtilityAccount.id == Arrear.account_id)
        .join(Organization, Organization.id == UtilityAccount.creditor_id)
        .group_by(Organization.id, Organization.short_name, Organization.name)
        .order_by(Organization.name)
    )
    result.by_creditor = [(short or name, int(total or 0)) for short, name, total in creditor_rows]
    owed = (
        select(Obligation.starts_on, Obligation.minutes)
        .join(Payment, Obligation.payment_id == Payment.id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .join(Enrollment, Obligation.enrollment_id == Enrollment.id)
        .where(
            in_programme,
            PaymentReversal.id.is_(None),
            Obligation.starts_on.between(period_from, period_to),
        )
        .subquery()
    )
    result.owed_minutes = add(
        db.session.execute(
            select(_month(owed.c.starts_on), func.sum(owed.c.minutes)).group_by(
                _month(owed.c.starts_on)
            )
        ),
        "owed_minutes",
    )
    result.verified_minutes = add(
        db.session.execute(
            select(_month(WorkLog.work_date), func.sum(WorkLog.minutes))
            .join(Enrollment, WorkLog.enrollment_id == Enrollment.id)
            .where(
                in_programme,
                WorkLog.status == LogStatus.VERIFIED,
                WorkLog.work_date.between(period_from, period_to),
            )
            .group_by(_month(WorkLog.work_date))
        ),
        "verified_minutes",
    )
    result.months = list(months.values())
    return result


def beyond_what_is_owed(programme: Programme, as_of: date) -> int:
    """Minutes the programme's households worked beyond what they owe, as of a day: each
    household's balance as its page and statement show it (``Balance.beyond``), summed."""
    households = db.session.scalars(
        select(Enrollment.household_id).where(Enrollment.programme_id == programme.id).distinct()
    ).all()
    return sum(b.beyond for b in balances(households, as_of=as_of).values())


def weekly_verified_minutes(
    programme_ids: list[int], today: date, weeks: int = 12
) -> list[tuple[date, int]]:
    """Verified minutes per week (Monday first) for the last ``weeks`` weeks, this one included."""
    first_monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    totals: dict[date, int] = defaultdict(int)
    if programme_ids:
        rows = db.session.execute(
            select(WorkLog.work_date, func.sum(WorkLog.minutes))
            .join(Enrollment, WorkLog.enrollment_id == Enrollment.id)
            .where(
                Enrollment.programme_id.in_(programme_ids),
                WorkLog.status == LogStatus.VERIFIED,
                WorkLog.work_date.between(first_monday, today),
            )
            .group_by(WorkLog.work_date)
        )
        for day, minutes in rows:
            totals[day - timedelta(days=day.weekday())] += int(minutes or 0)
    return [
        (first_monday + timedelta(weeks=n), totals[first_monday + timedelta(weeks=n)])
        for n in range(weeks)
    ]


def monthly_paid(programme_ids: list[int], today: date, months: int = 12) -> list[tuple[date, int]]:
    """Debt paid (reversals excluded) per month for the last ``months`` months."""
    start = _months_back(today, months - 1)
    totals: dict[date, int] = defaultdict(int)
    if programme_ids:
        rows = db.session.execute(
            select(_month(Payment.paid_on), func.sum(Payment.amount_deni))
            .join(PaymentRequest, Payment.request_id == PaymentRequest.id)
            .join(Enrollment, PaymentRequest.enrollment_id == Enrollment.id)
            .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
            .where(
                Enrollment.programme_id.in_(programme_ids),
                PaymentReversal.id.is_(None),
                Payment.paid_on.between(start, today),
            )
            .group_by(_month(Payment.paid_on))
        )
        for key, total in rows:
            totals[month_start(key)] += int(total or 0)
    return [(m, totals[m]) for m in months_between(start, today)]


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def latest_statuses(programme_ids: list[int]) -> list[tuple[BalanceSnapshot, BalanceRun]]:
    """Each programme's newest balance check, its snapshots worst first (overdue, behind...)."""
    if not programme_ids:
        return []
    newest = (
        select(BalanceRun.programme_id, func.max(BalanceRun.as_of).label("as_of"))
        .where(BalanceRun.programme_id.in_(programme_ids))
        .group_by(BalanceRun.programme_id)
        .subquery()
    )
    rows = db.session.execute(
        select(BalanceSnapshot, BalanceRun)
        .options(selectinload(BalanceSnapshot.household).selectinload(Household.members))
        .join(BalanceRun, BalanceSnapshot.run_id == BalanceRun.id)
        .join(
            newest,
            (newest.c.programme_id == BalanceRun.programme_id)
            & (newest.c.as_of == BalanceRun.as_of),
        )
    )
    order = {"overdue": 0, "behind": 1, "on_track": 2, "no_obligation": 3, "completed": 4}
    return sorted(rows, key=lambda r: (order.get(r[0].status, 9), r[0].household_id))


def status_counts(snapshots: list[tuple[BalanceSnapshot, BalanceRun]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for snapshot, _run in snapshots:
        counts[snapshot.status] += 1
    return dict(counts)


def _count_in(model: Any, programme_ids: list[int], condition: ColumnElement[bool]) -> int:
    """How many rows of ``model`` (work logs, payment requests: rows of an enrollment) in the
    programmes meet ``condition``."""
    if not programme_ids:
        return 0
    return (
        db.session.scalar(
            select(func.count(model.id))
            .join(Enrollment, model.enrollment_id == Enrollment.id)
            .where(Enrollment.programme_id.in_(programme_ids), condition)
        )
        or 0
    )


def waiting_logs(programme_ids: list[int]) -> int:
    return _count_in(WorkLog, programme_ids, WorkLog.status == LogStatus.LOGGED)


def requests_in(programme_ids: list[int], status: RequestStatus) -> int:
    return _count_in(PaymentRequest, programme_ids, PaymentRequest.status == status)


@dataclass
class Statement:
    """What one family has received and owes: debts paid per creditor, hours owed, worked,
    left, and the day they are due."""

    household: Household
    money: Money
    balance: Balance
    due_on: date | None
    as_of: date
    issuer: str = ""  # the NGO of the family's programme and the municipality

    @property
    def head(self) -> Member | None:
        return self.household.head

    def facts(self, locale: str) -> list[tuple[str, str]]:
        head = self.head
        return [
            (_("Case number"), self.household.case_number),
            (_("Head of household"), head.full_name if head else "—"),
            (_("National ID (ЕМБГ)"), mask_national_id(head.national_id if head else None)),
            (_("Address"), self.household.address),
            (_("As of"), formatting.day(self.as_of, locale)),
        ]

    def hours_facts(self, locale: str) -> list[tuple[str, str]]:
        return [
            (_("Hours owed"), formatting.hours(self.balance.owed, locale)),
            (_("Hours worked and confirmed"), formatting.hours(self.balance.verified, locale)),
            (
                _("Hours logged, waiting for confirmation"),
                formatting.hours(self.balance.pending, locale),
            ),
            (_("Hours left"), formatting.hours(self.balance.remaining, locale)),
            *(
                [
                    (
                        _("Hours worked beyond what is owed"),
                        formatting.hours(self.balance.beyond, locale),
                    )
                ]
                if self.balance.beyond
                else []
            ),
            (_("To be worked by"), formatting.day(self.due_on, locale)),
        ]

    def footer(self, locale: str) -> str:
        return str(
            _(
                "The programme paid these debts directly to the creditors. In return the "
                "family's adults work the hours above at public enterprises. Questions: your "
                "social worker."
            )
        )


def statement(household: Household, as_of: date) -> Statement:
    money = household_money(household, None)
    balance = balances([household.id])[household.id]
    due_on = max((o.due_on for o in money.obligations if o.payment.reversal is None), default=None)
    return Statement(household, money, balance, due_on, as_of, issuer_of(household))


def issuer_of(household: Household) -> str:
    """Who issues a family's papers: the NGO of its newest programme and its municipality."""
    ngo = db.session.scalar(
        select(Organization)
        .join(Programme, Programme.ngo_id == Organization.id)
        .join(Enrollment, Enrollment.programme_id == Programme.id)
        .where(Enrollment.household_id == household.id)
        .order_by(Enrollment.id.desc())
        .limit(1)
    )
    municipality = household.municipality.name
    return f"{ngo.name} · {municipality}" if ngo is not None else municipality

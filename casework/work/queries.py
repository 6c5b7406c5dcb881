"""Balances and work lists. Balances are grouped queries over any number of households: the
number of SQL statements never grows with the number of rows shown."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import selectinload

from casework.db import chunked
from casework.enrollment.models import Enrollment, Status
from casework.enrollment.services import work_refusal
from casework.extensions import db
from casework.households.models import Household, Member
from casework.households.queries import household_visibility
from casework.organizations.models import Organization, OrganizationKind
from casework.payments.models import Obligation, Payment, PaymentReversal
from casework.security import policies
from casework.security.models import Role, User
from casework.work.models import COUNTED_NOWHERE, LogStatus, WorkLog, WorkSite


@dataclass(frozen=True)
class Balance:
    """Minutes owed for payments, verified as worked, and logged but not yet verified."""

    owed: int = 0
    verified: int = 0
    pending: int = 0
    last_work_date: date | None = None

    @property
    def remaining(self) -> int:
        return max(self.owed - self.verified, 0)

    @property
    def beyond(self) -> int:
        """Verified minutes worked beyond what is owed (a payment reversed after the family
        worked for it): kept, shown, and counted against any later obligation of the
        household, never lost."""
        return max(self.verified - self.owed, 0)

    @property
    def percent_done(self) -> int:
        if self.owed <= 0:
            return 0
        return min(100, self.verified * 100 // self.owed)


def balances(household_ids: Iterable[int], as_of: date | None = None) -> dict[int, Balance]:
    """Balances of many households in two queries (per 5.000 households); ``as_of`` counts
    only what had happened by then (a balance check of an earlier date)."""
    ids = list(household_ids)
    if not ids:
        return {}
    owed: dict[int, int] = {}
    for chunk in chunked(ids):
        owed.update(
            db.session.execute(
                select(Obligation.household_id, func.sum(Obligation.minutes))
                .join(Payment, Obligation.payment_id == Payment.id)
                .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
                .where(Obligation.household_id.in_(chunk), PaymentReversal.id.is_(None))
                .where(Obligation.starts_on <= as_of if as_of else Obligation.id.is_not(None))
                .group_by(Obligation.household_id)
            ).all()
        )
    verified = func.sum(case((WorkLog.status == LogStatus.VERIFIED, WorkLog.minutes), else_=0))
    pending = func.sum(case((WorkLog.status == LogStatus.LOGGED, WorkLog.minutes), else_=0))
    last = func.max(case((WorkLog.status.not_in(COUNTED_NOWHERE), WorkLog.work_date)))
    worked: dict[int, tuple[Any, ...]] = {}
    for chunk in chunked(ids):
        worked.update(
            (row[0], row[1:])
            for row in db.session.execute(
                select(WorkLog.household_id, verified, pending, last)
                .where(WorkLog.household_id.in_(chunk))
                .where(WorkLog.work_date <= as_of if as_of else WorkLog.id.is_not(None))
                .group_by(WorkLog.household_id)
            )
        )
    result = {}
    for household_id in ids:
        v, p, last_date = worked.get(household_id, (0, 0, None))
        result[household_id] = Balance(
            owed=int(owed.get(household_id) or 0),
            verified=int(v or 0),
            pending=int(p or 0),
            last_work_date=last_date,
        )
    return result


def member_totals(household: Household) -> dict[int, tuple[int, int]]:
    """Per member: (verified, pending) minutes."""
    rows = db.session.execute(
        select(
            WorkLog.member_id,
            func.sum(case((WorkLog.status == LogStatus.VERIFIED, WorkLog.minutes), else_=0)),
            func.sum(case((WorkLog.status == LogStatus.LOGGED, WorkLog.minutes), else_=0)),
        )
        .where(WorkLog.household_id == household.id)
        .group_by(WorkLog.member_id)
    )
    return {member_id: (int(v or 0), int(p or 0)) for member_id, v, p in rows}


def logs_of(household: Household) -> list[WorkLog]:
    return list(
        db.session.scalars(
            select(WorkLog)
            .where(WorkLog.household_id == household.id)
            .options(
                selectinload(WorkLog.member),
                selectinload(WorkLog.site).selectinload(WorkSite.enterprise),
                selectinload(WorkLog.reversed_by),
                selectinload(WorkLog.logged_by),
            )
            .order_by(WorkLog.work_date.desc(), WorkLog.id.desc())
        )
    )


def entries_of_today(user: User, today: date, since: datetime) -> list[WorkLog]:
    """What the user logged today (``since``: the day's start) or for today, withdrawn ones
    included (struck out), newest first: one query, however many."""
    return list(
        db.session.scalars(
            select(WorkLog)
            .where(
                WorkLog.logged_by_id == user.id,
                WorkLog.reverses_id.is_(None),
                or_(WorkLog.work_date == today, WorkLog.logged_at >= since),
            )
            .options(
                selectinload(WorkLog.member).selectinload(Member.household),
                selectinload(WorkLog.site),
            )
            .order_by(WorkLog.logged_at.desc(), WorkLog.id.desc())
        )
    )


def members_who_may_work(user: User, day: date) -> list[Member]:
    """Adults of the user's visible, actively enrolled households who may work on ``day``
    (for a social worker: its caseload only)."""
    active = select(Enrollment.household_id).where(Enrollment.status == Status.ACTIVE)
    households = db.session.scalars(
        select(Household)
        .where(household_visibility(user), Household.id.in_(active))
        .where(
            Household.assigned_worker_id == user.id
            if not user.municipalities_as(Role.COORDINATOR)
            else Household.id.is_not(None)
        )
        .options(selectinload(Household.members).selectinload(Member.exemptions))
        .order_by(Household.case_number)
    ).all()
    enrollments = {
        e.household_id: e
        for e in db.session.scalars(
            select(Enrollment)
            .where(
                Enrollment.household_id.in_([h.id for h in households]),
                Enrollment.status == Status.ACTIVE,
            )
            .options(selectinload(Enrollment.programme))
        )
    }
    return [
        m
        for h in households
        for m in h.members
        if policies.can_log_work(user, h) and work_refusal(m, enrollments.get(h.id), day) is None
    ]


def sites_for_logging(user: User) -> list[WorkSite]:
    """Active sites of the user's municipalities, the ones it logged at most recently first."""
    places = user.municipalities_as(Role.COORDINATOR, Role.SOCIAL_WORKER)
    recent = (
        select(WorkLog.site_id, func.max(WorkLog.logged_at).label("last"))
        .where(WorkLog.logged_by_id == user.id)
        .group_by(WorkLog.site_id)
        .subquery()
    )
    return list(
        db.session.scalars(
            select(WorkSite)
            .outerjoin(recent, recent.c.site_id == WorkSite.id)
            .where(WorkSite.municipality_id.in_(places), WorkSite.active.is_(True))
            .options(selectinload(WorkSite.enterprise))
            .order_by(recent.c.last.desc().nulls_last(), WorkSite.name)
        )
    )


def sites_to_verify(user: User) -> list[WorkSite]:
    """Sites where the user may confirm hours: its enterprise's, or all of its municipalities'
    for a coordinator."""
    enterprises = {r.organization_id for r in user.roles if r.role == Role.SUPERVISOR}
    coordinated = user.municipalities_as(Role.COORDINATOR)
    sites = db.session.scalars(
        select(WorkSite)
        .where(WorkSite.enterprise_id.in_(enterprises) | WorkSite.municipality_id.in_(coordinated))
        .options(selectinload(WorkSite.enterprise))
        .order_by(WorkSite.name)
    ).all()
    return [s for s in sites if policies.can_verify_at(user, s.municipality_id, s.enterprise_id)]


@dataclass(frozen=True)
class Waiting:
    """Entries at a site nobody has confirmed or rejected yet, and the day of the oldest (its
    week is where the supervisor starts)."""

    count: int
    oldest: date


def waiting_at(site_ids: list[int]) -> dict[int, Waiting]:
    """Per site, its entries waiting for confirmation: one grouped query for the whole list."""
    if not site_ids:
        return {}
    rows = db.session.execute(
        select(WorkLog.site_id, func.count(), func.min(WorkLog.work_date))
        .where(WorkLog.site_id.in_(site_ids), WorkLog.status == LogStatus.LOGGED)
        .group_by(WorkLog.site_id)
    ).all()
    return {site_id: Waiting(count, oldest) for site_id, count, oldest in rows}


@dataclass
class Timesheet:
    site: WorkSite
    monday: date
    days: list[date]
    rows: list[tuple[Member, dict[date, list[WorkLog]]]]
    pending: int

    def week_total(self, by_day: dict[date, list[WorkLog]]) -> int:
        """One person's minutes of the week that stand (rejected and corrected entries do not):
        the phone shows one day at a time, and this total beside it."""
        return sum(
            log.minutes
            for logs in by_day.values()
            for log in logs
            if log.status != LogStatus.REJECTED and log.reversed_by is None
        )

    def entries_on(self, day: date) -> int:
        """How many entries the site has on one day (the phone's day picker shows it)."""
        return sum(len(by_day.get(day, [])) for _member, by_day in self.rows)


def timesheet(site: WorkSite, monday: date) -> Timesheet:
    """Members × days of one week at a site. Supervisors see names only: no national IDs."""
    days = [monday + timedelta(days=i) for i in range(7)]
    logs = db.session.scalars(
        select(WorkLog)
        .where(
            WorkLog.site_id == site.id,
            WorkLog.work_date >= monday,
            WorkLog.work_date < monday + timedelta(days=7),
            WorkLog.reverses_id.is_(None),
        )
        .options(selectinload(WorkLog.member), selectinload(WorkLog.reversed_by))
        .order_by(WorkLog.work_date, WorkLog.start_minute)
    ).all()
    by_member: dict[int, tuple[Member, dict[date, list[WorkLog]]]] = {}
    for log in logs:
        entry = by_member.setdefault(log.member_id, (log.member, {}))
        entry[1].setdefault(log.work_date, []).append(log)
    rows = sorted(by_member.values(), key=lambda r: (r[0].last_name, r[0].first_name))
    pending = sum(1 for log in logs if log.status == LogStatus.LOGGED)
    return Timesheet(site, monday, days, rows, pending)


def get_visible_log(user: User, log_id: int) -> WorkLog | None:
    """The log, or None when it does not exist or the user may not see it (as a 404)."""
    found = db.session.get(WorkLog, log_id)
    return found if found is not None and policies.can_see_log(user, found) else None


def get_site(site_id: int) -> WorkSite | None:
    return db.session.get(WorkSite, site_id)


def get_verifiable_site(user: User, site_id: int) -> WorkSite | None:
    site = db.session.get(WorkSite, site_id)
    return site if site is not None and policies.can_verify_site(user, site) else None


def get_enterprise(organization_id: int) -> Organization | None:
    return db.session.get(Organization, organization_id)


def enterprises_for_sites(user: User) -> list[Organization]:
    """The public enterprises where the user may add work sites."""
    managed = policies.site_municipalities(user)
    return list(
        db.session.scalars(
            select(Organization)
            .where(
                Organization.kind == OrganizationKind.PUBLIC_ENTERPRISE,
                Organization.municipality_id.in_(managed),
            )
            .order_by(Organization.name)
        )
    )


def obligations_of(household: Household) -> list[Obligation]:
    """Obligations whose payment stands (not reversed)."""
    return list(
        db.session.scalars(
            select(Obligation)
            .join(Payment, Obligation.payment_id == Payment.id)
            .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
            .where(Obligation.household_id == household.id, PaymentReversal.id.is_(None))
            .order_by(Obligation.starts_on)
        )
    )


def pending_by_site(site_ids: list[int]) -> dict[int, int]:
    """How many logs wait for confirmation at each site."""
    rows = db.session.execute(
        select(WorkLog.site_id, func.count())
        .where(WorkLog.site_id.in_(site_ids), WorkLog.status == LogStatus.LOGGED)
        .group_by(WorkLog.site_id)
    )
    return {site_id: int(n) for site_id, n in rows}


@dataclass(frozen=True)
class Listed:
    """A row of the household list or the caseload: the family, the status of the enrollment
    it shows, that programme, its latest balance check (while active) and its balance."""

    household: Household
    status: str | None
    programme: str | None
    check: str | None
    balance: Balance

    @property
    def id(self) -> int:
        """The family's id: the home page's access log names each family it lists."""
        return self.household.id


def listed(rows: Iterable[Any]) -> list[Listed]:
    """The rows of ``households.queries.household_list`` as the pages show them."""
    return [
        Listed(
            household=row[0],
            status=row.status,
            programme=row.programme,
            check=row.check,
            balance=Balance(
                owed=int(row.owed or 0),
                verified=int(row.verified or 0),
                pending=int(row.pending or 0),
                last_work_date=row.last_worked,
            ),
        )
        for row in rows
    ]

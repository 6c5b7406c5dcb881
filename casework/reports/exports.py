"""The rows of each export: one scoped, filtered statement per kind, and its columns.

The statement reads exactly the households the user sees on screen (with case numbers only,
also those it audits). A pseudonymised export is the same statement with the columns that
name or reach the family left out, so the two variants can never disagree on the rest.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeAlias

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import aliased

from casework import formatting
from casework.balances.models import BalanceRun, BalanceSnapshot
from casework.enrollment.models import Enrollment
from casework.households.models import Household, Member
from casework.households.queries import (
    ListFilter,
    household_visibility,
    list_filtered,
    with_list_facts,
)
from casework.households.services import mask_national_id
from casework.labels import (
    CHECK_STATUS_LABELS,
    ENROLLMENT_STATUS_LABELS,
    LOG_STATUS_LABELS,
    label,
)
from casework.organizations.models import Organization
from casework.payments.models import (
    Arrear,
    Payment,
    PaymentRequest,
    PaymentReversal,
    UtilityAccount,
)
from casework.security import policies
from casework.security.models import User
from casework.work.models import WorkLog, WorkSite

KINDS = ("households", "payments", "work_logs", "snapshots")
FORMATS = ("csv", "xlsx")
BATCH = 1000
Rows: TypeAlias = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class ExportFilter:
    kind: str
    fmt: str
    q: str = ""
    programme_id: int | None = None
    period_from: date | None = None
    period_to: date | None = None
    pseudonymised: bool = False
    # The household list's filters (``households.queries.ListFilter``), for its export.
    status: str | None = None
    worker_id: int | None = None
    settlement: str | None = None
    check: str | None = None

    def list_filter(self) -> ListFilter:
        """The household list's filter this export applies: the rows are the list's rows."""
        return ListFilter(
            q=self.q,
            status=self.status,
            worker_id=self.worker_id,
            settlement=self.settlement,
            programme_id=self.programme_id,
            check=self.check,
        )


@dataclass
class Export:
    """Headers, a statement that yields rows in batches, and how each row becomes cells."""

    headers: list[str]
    statement: Rows
    cells: Callable[[Any], list[Any]]
    rows: int = 0


class Personal(str):
    """A column's header that names or reaches the family: left out when pseudonymised."""

    __slots__ = ()


def money(deni: int | None) -> Decimal:
    """Denars with two decimals: 12000.00, exact (never a float)."""
    return (Decimal(int(deni or 0)) / 100).quantize(Decimal("0.01"))


Cells: TypeAlias = Callable[[Any], list[Any]]
Columns: TypeAlias = tuple[Rows, Sequence[str], Cells]


def _export(columns: Columns, pseudonymised: bool) -> Export:
    """All the columns, or (pseudonymised) those whose header is not ``Personal``."""
    stmt, headers, cells = columns
    if not pseudonymised:
        return Export([str(h) for h in headers], stmt, cells)
    kept = [i for i, header in enumerate(headers) if not isinstance(header, Personal)]
    pick = operator.itemgetter(*kept)
    return Export([str(headers[i]) for i in kept], stmt, lambda r: list(pick(cells(r))))


def _scope(user: User, pseudonymised: bool) -> ColumnElement[bool]:
    """The households whose rows the user may export: exactly those it sees on screen; with
    case numbers only, also the municipalities it audits."""
    audited = policies.pseudonymised_export_municipalities(user) if pseudonymised else set()
    visible = household_visibility(user)
    return or_(visible, Household.municipality_id.in_(audited)) if audited else visible


def export_rows(user: User, wanted: ExportFilter) -> Export:
    """The rows of the export the user asked for (its kind, format and rights checked)."""
    builder = {
        "households": _households,
        "payments": _payments,
        "work_logs": _work_logs,
        "snapshots": _snapshots,
    }[wanted.kind]
    return _export(builder(wanted, _scope(user, wanted.pseudonymised)), wanted.pseudonymised)


def _households(wanted: ExportFilter, scope: ColumnElement[bool]) -> Columns:
    head = aliased(Member)
    members = (
        select(Member.household_id, func.count().label("n"))
        .group_by(Member.household_id)
        .subquery()
    )
    households, facts = with_list_facts(select(Household).where(scope), wanted.programme_id)
    stmt: Rows = (
        list_filtered(households, facts, wanted.list_filter())
        .outerjoin_from(
            Household, head, and_(head.household_id == Household.id, head.is_head.is_(True))
        )
        .outerjoin_from(Household, members, members.c.household_id == Household.id)
        .with_only_columns(
            Household.case_number,
            Household.settlement,
            Household.address,
            Household.phone,
            Household.language,
            head.first_name,
            head.last_name,
            head.national_id,
            members.c.n,
            facts.enrollment.status,
            facts.owed,
            facts.verified,
            maintain_column_froms=True,
        )
        .order_by(Household.case_number)
    )

    def status(code: str | None) -> str:
        return str(label(ENROLLMENT_STATUS_LABELS, code)) if code else ""

    headers = [
        _("Case number"),
        _("Settlement"),
        Personal(_("Address")),
        Personal(_("Phone")),
        Personal(_("Language")),
        Personal(_("First name")),
        Personal(_("Last name")),
        Personal(_("National ID (ЕМБГ)")),
        _("Members"),
        _("Status"),
        _("Minutes owed"),
        _("Hours owed"),
        _("Minutes verified"),
        _("Hours verified"),
    ]
    return (
        stmt,
        headers,
        lambda r: [
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5] or "",
            r[6] or "",
            mask_national_id(r[7]),
            int(r[8] or 0),
            status(r[9]),
            *_minutes_and_hours(r[10]),
            *_minutes_and_hours(r[11]),
        ],
    )


def _minutes_and_hours(minutes: Any) -> tuple[int, str]:
    """Minutes as a number to sum, and beside them the page's h:mm (``12:30``)."""
    return int(minutes or 0), formatting.clock_hours(int(minutes or 0))


def _programme_and_period(
    stmt: Rows, wanted: ExportFilter, day: Any, programme_column: Any
) -> Rows:
    if wanted.programme_id is not None:
        stmt = stmt.where(programme_column == wanted.programme_id)
    if wanted.period_from is not None:
        stmt = stmt.where(day >= wanted.period_from)
    if wanted.period_to is not None:
        stmt = stmt.where(day <= wanted.period_to)
    return stmt


def _payments(wanted: ExportFilter, scope: ColumnElement[bool]) -> Columns:
    head = aliased(Member)
    stmt = (
        select(
            Payment.paid_on,
            Household.case_number,
            head.first_name,
            head.last_name,
            func.coalesce(Organization.short_name, Organization.name),
            UtilityAccount.customer_number,
            Arrear.statement_ref,
            Payment.reference,
            Payment.amount_deni,
            PaymentReversal.reversed_on,
        )
        .join(PaymentRequest, Payment.request_id == PaymentRequest.id)
        .join(Enrollment, PaymentRequest.enrollment_id == Enrollment.id)
        .join(Arrear, PaymentRequest.arrear_id == Arrear.id)
        .join(UtilityAccount, Arrear.account_id == UtilityAccount.id)
        .join(Organization, UtilityAccount.creditor_id == Organization.id)
        .join(Household, UtilityAccount.household_id == Household.id)
        .outerjoin(head, and_(head.household_id == Household.id, head.is_head.is_(True)))
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(scope)
        .order_by(Payment.paid_on, Payment.id)
    )
    stmt = _programme_and_period(stmt, wanted, Payment.paid_on, Enrollment.programme_id)
    headers = [
        _("Paid on"),
        _("Case number"),
        Personal(_("First name")),
        Personal(_("Last name")),
        _("Creditor"),
        Personal(_("Customer number")),
        Personal(_("Statement or invoice number")),
        Personal(_("Bank or receipt reference")),
        _("Amount (ден.)"),
        _("Reversed on"),
    ]
    return (
        stmt,
        headers,
        lambda r: [
            r[0],
            r[1],
            r[2] or "",
            r[3] or "",
            r[4],
            r[5],
            r[6],
            r[7],
            money(r[8]),
            r[9] or "",
        ],
    )


def _work_logs(wanted: ExportFilter, scope: ColumnElement[bool]) -> Columns:
    stmt = (
        select(
            WorkLog.work_date,
            Household.case_number,
            Member.first_name,
            Member.last_name,
            WorkSite.name,
            WorkLog.minutes,
            WorkLog.status,
            WorkLog.task,
            WorkLog.id,
        )
        .join(Household, WorkLog.household_id == Household.id)
        .join(Member, WorkLog.member_id == Member.id)
        .join(WorkSite, WorkLog.site_id == WorkSite.id)
        .join(Enrollment, WorkLog.enrollment_id == Enrollment.id)
        .where(scope)
        .order_by(WorkLog.work_date, WorkLog.id)
    )
    stmt = _programme_and_period(stmt, wanted, WorkLog.work_date, Enrollment.programme_id)

    def status(code: str) -> str:
        return str(label(LOG_STATUS_LABELS, code))

    headers = [
        _("Date"),
        _("Case number"),
        Personal(_("First name")),
        Personal(_("Last name")),
        _("Work site"),
        _("Minutes"),
        _("Hours (h:mm)"),
        _("Status"),
        Personal(_("Task")),
    ]
    return (
        stmt,
        headers,
        lambda r: [r[0], r[1], r[2], r[3], r[4], *_minutes_and_hours(r[5]), status(r[6]), r[7]],
    )


def _snapshots(wanted: ExportFilter, scope: ColumnElement[bool]) -> Columns:
    stmt = (
        select(
            BalanceRun.as_of,
            Household.case_number,
            BalanceSnapshot.owed,
            BalanceSnapshot.verified,
            BalanceSnapshot.pending,
            BalanceSnapshot.expected,
            BalanceSnapshot.status,
            BalanceSnapshot.flagged,
        )
        .join(BalanceRun, BalanceSnapshot.run_id == BalanceRun.id)
        .join(Household, BalanceSnapshot.household_id == Household.id)
        .where(scope)
        .order_by(BalanceRun.as_of, Household.case_number)
    )
    stmt = _programme_and_period(stmt, wanted, BalanceRun.as_of, BalanceRun.programme_id)
    headers = [
        _("As of"),
        _("Case number"),
        _("Minutes owed"),
        _("Hours owed"),
        _("Minutes verified"),
        _("Hours verified"),
        _("Minutes pending"),
        _("Hours waiting for confirmation"),
        _("Minutes expected"),
        _("Hours expected"),
        _("Status"),
        _("Flagged"),
    ]
    return (
        stmt,
        headers,
        lambda r: [
            r[0],
            r[1],
            *_minutes_and_hours(r[2]),
            *_minutes_and_hours(r[3]),
            *_minutes_and_hours(r[4]),
            *_minutes_and_hours(r[5]),
            str(label(CHECK_STATUS_LABELS, r[6])),
            _("yes") if r[7] else "",
        ],
    )

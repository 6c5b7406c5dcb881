"""Exports (CSV, XLSX), the family statement and the programme report as files.

Exports stream: rows come from the database in batches and leave as they are written, so a
national register exports in bounded memory. Every export is checked against the user's scope
in the query itself and written to the audit trail before its first row leaves.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import aliased

from casework import formatting
from casework.audit.models import AccessAction
from casework.audit.services import log_access, record
from casework.balances.models import BalanceRun, BalanceSnapshot
from casework.enrollment.models import OPEN_STATUSES, Enrollment
from casework.errors import PermissionDenied, ValidationError
from casework.extensions import db
from casework.households.models import Household, Member
from casework.households.queries import household_visibility
from casework.households.services import mask_national_id
from casework.jobs import services as jobs
from casework.jobs.models import Job, JobKind
from casework.jobs.services import Outcome, Progress
from casework.labels import ENROLLMENT_STATUS_LABELS, LOG_STATUS_LABELS, label
from casework.organizations.models import Organization
from casework.payments.models import (
    Arrear,
    Obligation,
    Payment,
    PaymentRequest,
    PaymentReversal,
    UtilityAccount,
)
from casework.programmes.models import Programme
from casework.reports.queries import MAX_PERIOD_DAYS, Indicators
from casework.security import policies
from casework.security.models import Role, User
from casework.work.models import LogStatus, WorkLog, WorkSite

KINDS = ("households", "payments", "work_logs", "snapshots")
FORMATS = ("csv", "xlsx")
BATCH = 1000
FONTS = Path(__file__).resolve().parent.parent / "fonts"
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


@dataclass
class Export:
    """Headers, a statement that yields rows in batches, and how each row becomes cells."""

    headers: list[str]
    statement: Rows
    cells: Callable[[Any], list[Any]]
    rows: int = 0


def check_period(period_from: date | None, period_to: date | None) -> None:
    """A period runs forwards and is at most ten years long (a typo such as 2062 is refused)."""
    if period_from and period_to and period_to < period_from:
        raise ValidationError(_("The period must end on or after its start."), "period_to")
    if period_from and period_to and (period_to - period_from).days > MAX_PERIOD_DAYS:
        raise ValidationError(_("A period may be at most ten years long."), "period_to")


def _scope(user: User, pseudonymised: bool) -> ColumnElement[bool]:
    """The households whose rows the user may export: exactly those it sees on screen; with
    case numbers only, also the municipalities it audits."""
    audited = policies.pseudonymised_export_municipalities(user) if pseudonymised else set()
    visible = household_visibility(user)
    return or_(visible, Household.municipality_id.in_(audited)) if audited else visible


def _money(deni: int | None) -> Decimal:
    """Denars with two decimals: 12000.00, exact (never a float)."""
    return (Decimal(int(deni or 0)) / 100).quantize(Decimal("0.01"))


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula (= + - @, tab, carriage return) gets a
    leading apostrophe; numbers and dates stay numbers and dates."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def build_export(user: User, wanted: ExportFilter) -> Export:
    """The export the user asked for, refused when it may not have it."""
    if wanted.kind not in KINDS:
        raise ValidationError(_("Choose what to export."), "kind")
    if wanted.fmt not in FORMATS:
        raise ValidationError(_("Choose CSV or XLSX."), "format")
    if not policies.can_export(user, pseudonymised=wanted.pseudonymised):
        raise PermissionDenied()
    check_period(wanted.period_from, wanted.period_to)
    scope = _scope(user, wanted.pseudonymised)
    builder = {
        "households": _households,
        "payments": _payments,
        "work_logs": _work_logs,
        "snapshots": _snapshots,
    }[wanted.kind]
    return builder(wanted, scope)


def _households(wanted: ExportFilter, scope: ColumnElement[bool]) -> Export:
    from casework.households.queries import search_filter

    head = aliased(Member)
    members = (
        select(Member.household_id, func.count().label("n"))
        .group_by(Member.household_id)
        .subquery()
    )
    owed = (
        select(Obligation.household_id, func.sum(Obligation.minutes).label("minutes"))
        .join(Payment, Obligation.payment_id == Payment.id)
        .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
        .where(PaymentReversal.id.is_(None))
        .group_by(Obligation.household_id)
        .subquery()
    )
    verified = (
        select(WorkLog.household_id, func.sum(WorkLog.minutes).label("minutes"))
        .where(WorkLog.status == LogStatus.VERIFIED.value)
        .group_by(WorkLog.household_id)
        .subquery()
    )
    stmt = (
        select(
            Household.case_number,
            Household.settlement,
            Household.address,
            Household.phone,
            Household.language,
            head.first_name,
            head.last_name,
            head.national_id,
            members.c.n,
            Enrollment.status,
            func.coalesce(owed.c.minutes, 0),
            func.coalesce(verified.c.minutes, 0),
        )
        .outerjoin(head, and_(head.household_id == Household.id, head.is_head.is_(True)))
        .outerjoin(members, members.c.household_id == Household.id)
        .outerjoin(
            Enrollment,
            and_(Enrollment.household_id == Household.id, Enrollment.status.in_(OPEN_STATUSES)),
        )
        .outerjoin(owed, owed.c.household_id == Household.id)
        .outerjoin(verified, verified.c.household_id == Household.id)
        .where(scope)
        .order_by(Household.case_number)
    )
    if wanted.q.strip():
        stmt = stmt.where(search_filter(wanted.q))
    if wanted.programme_id is not None:
        stmt = stmt.where(Enrollment.programme_id == wanted.programme_id)

    def status(code: str | None) -> str:
        return str(label(ENROLLMENT_STATUS_LABELS, code)) if code else ""

    if wanted.pseudonymised:
        headers = [
            _("Case number"),
            _("Settlement"),
            _("Members"),
            _("Status"),
            _("Minutes owed"),
            _("Minutes verified"),
        ]
        return Export(
            [str(h) for h in headers],
            stmt,
            lambda r: [r[0], r[1], int(r[8] or 0), status(r[9]), int(r[10]), int(r[11])],
        )
    headers = [
        _("Case number"),
        _("Settlement"),
        _("Address"),
        _("Phone"),
        _("Language"),
        _("First name"),
        _("Last name"),
        _("National ID (ЕМБГ)"),
        _("Members"),
        _("Status"),
        _("Minutes owed"),
        _("Minutes verified"),
    ]
    return Export(
        [str(h) for h in headers],
        stmt,
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
            int(r[10]),
            int(r[11]),
        ],
    )


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


def _payments(wanted: ExportFilter, scope: ColumnElement[bool]) -> Export:
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
    if wanted.pseudonymised:
        headers = [
            _("Paid on"),
            _("Case number"),
            _("Creditor"),
            _("Amount (ден.)"),
            _("Reversed on"),
        ]
        return Export(
            [str(h) for h in headers],
            stmt,
            lambda r: [r[0], r[1], r[4], _money(r[8]), r[9] or ""],
        )
    headers = [
        _("Paid on"),
        _("Case number"),
        _("First name"),
        _("Last name"),
        _("Creditor"),
        _("Customer number"),
        _("Statement or invoice number"),
        _("Bank or receipt reference"),
        _("Amount (ден.)"),
        _("Reversed on"),
    ]
    return Export(
        [str(h) for h in headers],
        stmt,
        lambda r: [
            r[0],
            r[1],
            r[2] or "",
            r[3] or "",
            r[4],
            r[5],
            r[6],
            r[7],
            _money(r[8]),
            r[9] or "",
        ],
    )


def _work_logs(wanted: ExportFilter, scope: ColumnElement[bool]) -> Export:
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

    if wanted.pseudonymised:
        headers = [_("Date"), _("Case number"), _("Work site"), _("Minutes"), _("Status")]
        return Export(
            [str(h) for h in headers],
            stmt,
            lambda r: [r[0], r[1], r[4], int(r[5]), status(r[6])],
        )
    headers = [
        _("Date"),
        _("Case number"),
        _("First name"),
        _("Last name"),
        _("Work site"),
        _("Minutes"),
        _("Status"),
        _("Task"),
    ]
    return Export(
        [str(h) for h in headers],
        stmt,
        lambda r: [r[0], r[1], r[2], r[3], r[4], int(r[5]), status(r[6]), r[7]],
    )


def _snapshots(wanted: ExportFilter, scope: ColumnElement[bool]) -> Export:
    from casework.labels import CHECK_STATUS_LABELS

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
        _("Minutes verified"),
        _("Minutes pending"),
        _("Minutes expected"),
        _("Status"),
        _("Flagged"),
    ]
    return Export(
        [str(h) for h in headers],
        stmt,
        lambda r: [
            r[0],
            r[1],
            int(r[2]),
            int(r[3]),
            int(r[4]),
            int(r[5]),
            str(label(CHECK_STATUS_LABELS, r[6])),
            _("yes") if r[7] else "",
        ],
    )


def record_export(user: User, wanted: ExportFilter, export: Export) -> None:
    """Count the rows and write the export to the audit trail, before any row leaves."""
    export.rows = (
        db.session.scalar(select(func.count()).select_from(export.statement.subquery())) or 0
    )
    filters = {k: v for k, v in asdict(wanted).items() if v not in (None, "", False)}
    record(user, f"export.{wanted.kind}", "export", None, changes={**filters, "rows": export.rows})
    variant = " pseudonymised" if wanted.pseudonymised else ""
    places = user.municipalities_as(*Role)
    log_access(
        user,
        AccessAction.EXPORT,
        municipality_id=next(iter(places)) if len(places) == 1 else None,
        detail=f"{wanted.kind}.{wanted.fmt}{variant}, {export.rows} rows",
    )


def _batches(export: Export) -> Iterator[list[Any]]:
    result = db.session.execute(export.statement.execution_options(yield_per=BATCH))
    for partition in result.partitions():
        yield [export.cells(row) for row in partition]


def stream_csv(export: Export) -> Iterator[str]:
    """The export as CSV text in chunks: a BOM so Excel reads UTF-8, then one chunk a batch."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(export.headers)
    yield out.getvalue()
    for batch in _batches(export):
        out.seek(0)
        out.truncate()
        writer.writerows([[_csv_value(v) for v in row] for row in batch])
        yield out.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return safe_cell(value)


def write_xlsx(
    export: Export, title: str, *, progress: Callable[[int], None] | None = None
) -> Path:
    """The export as an XLSX file on disk, written row by row (openpyxl's write-only mode keeps
    no rows in memory). The caller reads the file and removes it."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(export.headers)
    for batch in _batches(export):
        for row in batch:
            # safe_cell has already defused every text that starts like a formula, so plain
            # values are safe here (and several times faster than a styled cell each)
            sheet.append([safe_cell(value) for value in row])
        if progress is not None:
            progress(len(batch))
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    workbook.save(handle.name)
    return Path(handle.name)


# --- documents -------------------------------------------------------------------------------


def _pdf(title: str) -> Any:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("casework")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    return pdf


def _table(pdf: Any, headers: list[str], rows: list[list[str]], widths: list[int]) -> None:
    pdf.set_font("DejaVu", "B", 9)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=6) as table:
        header = table.row()
        for text in headers:
            header.cell(text)
        pdf.set_font("DejaVu", "", 9)
        for values in rows:
            row = table.row()
            for text in values:
                row.cell(text)
    pdf.ln(3)


def _facts(pdf: Any, facts: list[tuple[str, str]]) -> None:
    for name, value in facts:
        pdf.set_font("DejaVu", "B", 10)
        pdf.cell(70, 6, name)
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def statement_pdf(statement: Any, locale: str) -> bytes:
    """The family statement as one printable page (the caller sets the family's language)."""
    money = statement.money
    pdf = _pdf(_("Statement for household %(case)s", case=statement.household.case_number))
    _facts(pdf, statement.facts(locale))
    _table(
        pdf,
        [_("Creditor"), _("Debts"), _("Paid by the programme"), _("Left to the family")],
        [
            [
                line.creditor.short_name or line.creditor.name,
                formatting.money(line.arrears, locale),
                formatting.money(line.paid, locale),
                formatting.money(line.outstanding, locale),
            ]
            for line in money.by_creditor
        ],
        [70, 40, 40, 40],
    )
    _facts(pdf, statement.hours_facts(locale))
    pdf.set_font("DejaVu", "", 8)
    pdf.multi_cell(0, 5, statement.footer(locale))
    return bytes(pdf.output())


def report_pdf(figures: Indicators, locale: str) -> bytes:
    programme = figures.programme
    pdf = _pdf(_("Programme report: %(name)s", name=programme.name))
    _facts(pdf, report_facts(figures, locale))
    _table(
        pdf,
        [_("Creditor"), _("Debt paid")],
        [[name, formatting.money(total, locale)] for name, total in figures.by_creditor],
        [110, 80],
    )
    _table(
        pdf,
        [
            _("Month"),
            _("Families activated"),
            _("Completed"),
            _("Debt paid"),
            _("Hours owed"),
            _("Hours verified"),
        ],
        [
            [
                f"{row.month:%m.%Y}",
                str(row.activated),
                str(row.completed),
                formatting.money(row.paid_deni, locale),
                formatting.hours(row.owed_minutes, locale),
                formatting.hours(row.verified_minutes, locale),
            ]
            for row in figures.months
        ],
        [25, 30, 25, 40, 35, 35],
    )
    return bytes(pdf.output())


def report_facts(figures: Indicators, locale: str) -> list[tuple[str, str]]:
    """The headline indicators against their targets, as label and text."""
    programme = figures.programme

    def against(value: str, target: str | None) -> str:
        return value if target is None else _("%(value)s of %(target)s", value=value, target=target)

    rate = figures.completion_rate
    days = figures.average_days_to_complete
    return [
        (
            _("Period"),
            f"{formatting.day(figures.period_from, locale)} – "
            f"{formatting.day(figures.period_to, locale)}",
        ),
        (
            _("Families activated"),
            against(str(figures.activated), _opt(programme.target_families)),
        ),
        (_("Families who completed their hours"), str(figures.completed)),
        (_("Families active now"), str(figures.active_now)),
        (
            _("Debt paid"),
            against(
                formatting.money(figures.paid_deni, locale),
                formatting.money(programme.target_debt_deni, locale)
                if programme.target_debt_deni
                else None,
            ),
        ),
        (_("Hours owed for those payments"), formatting.hours(figures.owed_minutes, locale)),
        (
            _("Hours verified"),
            against(
                formatting.hours(figures.verified_minutes, locale),
                formatting.hours(programme.target_minutes, locale)
                if programme.target_minutes
                else None,
            ),
        ),
        (_("Completion rate"), "—" if rate is None else f"{rate} %"),
        (
            _("Average time to complete"),
            "—" if days is None else _("%(n)d days", n=days),
        ),
    ]


def _opt(value: int | None) -> str | None:
    return None if value is None else str(value)


def report_xlsx(figures: Indicators, locale: str) -> bytes:
    """The report as a workbook: indicators, debt by creditor, and the months, as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    summary = workbook.active
    summary.title = str(_("Indicators"))[:31]
    bold = Font(bold=True)
    programme = figures.programme
    summary.append([programme.name])
    summary["A1"].font = bold
    rows: list[tuple[str, Any, Any]] = [
        (_("Period from"), figures.period_from, None),
        (_("Period to"), figures.period_to, None),
        (_("Families activated"), figures.activated, programme.target_families),
        (_("Families who completed their hours"), figures.completed, None),
        (_("Families active now"), figures.active_now, None),
        (
            _("Debt paid (ден.)"),
            _money(figures.paid_deni),
            _money(programme.target_debt_deni) if programme.target_debt_deni else None,
        ),
        (_("Hours owed"), Decimal(figures.owed_minutes) / 60, None),
        (
            _("Hours verified"),
            Decimal(figures.verified_minutes) / 60,
            Decimal(programme.target_minutes) / 60 if programme.target_minutes else None,
        ),
        (_("Completion rate (%)"), figures.completion_rate, None),
        (_("Average days to complete"), figures.average_days_to_complete, None),
    ]
    summary.append([str(_("Indicator")), str(_("Value")), str(_("Target"))])
    for name, value, target in rows:
        summary.append([str(name), value, target])
    for cell in summary["B"] + summary["C"]:
        if isinstance(cell.value, date):
            cell.number_format = "DD.MM.YYYY"
        elif isinstance(cell.value, Decimal):
            cell.number_format = "#,##0.00"
    creditors = workbook.create_sheet(str(_("By creditor"))[:31])
    creditors.append([str(_("Creditor")), str(_("Debt paid (ден.)"))])
    for name, total in figures.by_creditor:
        creditors.append([safe_cell(name), _money(total)])
    months = workbook.create_sheet(str(_("By month"))[:31])
    months.append(
        [
            str(h)
            for h in (
                _("Month"),
                _("Families activated"),
                _("Completed"),
                _("Debt paid (ден.)"),
                _("Minutes owed"),
                _("Minutes verified"),
            )
        ]
    )
    for row in figures.months:
        months.append(
            [
                row.month,
                row.activated,
                row.completed,
                _money(row.paid_deni),
                row.owed_minutes,
                row.verified_minutes,
            ]
        )
        months.cell(row=months.max_row, column=1).number_format = "MM.YYYY"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- files made by the worker ------------------------------------------------------------------

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_filename(wanted: ExportFilter, today: date) -> str:
    variant = "-pseudonymised" if wanted.pseudonymised else ""
    return f"{wanted.kind}{variant}-{today:%Y%m%d}.{wanted.fmt}"


def start_export(user: User, wanted: ExportFilter, *, locale: str, today: date) -> Job:
    """A workbook is built by the worker (a national register takes longer than a request
    may); what the user may not have is refused now, as the file itself would be."""
    build_export(user, wanted)
    params = {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(wanted).items()}
    return jobs.enqueue(user, JobKind.EXPORT, {**params, "locale": locale, "today": str(today)})


@jobs.handler(JobKind.EXPORT)
def export_job(job: Job, progress: Progress) -> Outcome:
    params = dict(job.params)
    locale, today = params.pop("locale"), date.fromisoformat(params.pop("today"))
    for name in ("period_from", "period_to"):
        params[name] = date.fromisoformat(params[name]) if params[name] else None
    wanted = ExportFilter(**params)
    with force_locale(locale):
        built = build_export(job.requested_by, wanted)
        record_export(job.requested_by, wanted, built)
        progress.set_total(built.rows)
        path = write_xlsx(built, wanted.kind, progress=progress.advance)
    try:
        data = path.read_bytes()
    finally:
        path.unlink(missing_ok=True)
    return Outcome(
        _("The file is ready: %(n)d rows.", n=built.rows),
        file=data,
        filename=export_filename(wanted, today),
        mimetype=XLSX_MIMETYPE,
    )


def start_report_file(
    user: User, programme: Programme, figures: Indicators, fmt: str, *, locale: str
) -> Job:
    if not policies.can_view_budget(user, programme):
        raise PermissionDenied()
    return jobs.enqueue(
        user,
        JobKind.REPORT_FILE,
        {
            "programme_id": programme.id,
            "period_from": figures.period_from.isoformat(),
            "period_to": figures.period_to.isoformat(),
            "fmt": fmt,
            "locale": locale,
        },
    )


@jobs.handler(JobKind.REPORT_FILE)
def report_file_job(job: Job, progress: Progress) -> Outcome:
    from casework.reports.queries import indicators

    params = job.params
    programme = db.session.get_one(Programme, params["programme_id"])
    if not policies.can_view_budget(job.requested_by, programme):
        raise PermissionDenied()
    progress.set_total(1)
    figures = indicators(
        programme,
        date.fromisoformat(params["period_from"]),
        date.fromisoformat(params["period_to"]),
    )
    with force_locale(params["locale"]):
        if params["fmt"] == "pdf":
            data, mimetype = report_pdf(figures, params["locale"]), "application/pdf"
        else:
            data, mimetype = report_xlsx(figures, params["locale"]), XLSX_MIMETYPE
    progress.advance()
    stem = f"report-{programme.id}-{figures.period_from:%Y%m%d}-{figures.period_to:%Y%m%d}"
    return Outcome(
        _("The report is ready."), file=data, filename=f"{stem}.{params['fmt']}", mimetype=mimetype
    )

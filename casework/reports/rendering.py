"""Exports and reports as documents: CSV, XLSX and PDF. Nothing here queries or decides;
it turns rows and figures that were already checked into cells and pages."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from casework import formatting
from casework.extensions import db
from casework.reports.exports import BATCH, Export, money
from casework.reports.queries import Indicators, MonthRow

FONTS = Path(__file__).resolve().parent.parent / "fonts"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_value(sheet: Any, value: Any) -> Any:
    """A value for an XLSX row. Text that starts like a formula (``formatting.defuse_formula``,
    the rule the CSV files follow too) becomes a cell typed as text and marked so (Excel's
    "quote prefix"): it shows as written, a phone as ``+389…`` with no apostrophe, and editing
    it never turns it into a formula. Anything else stays a plain value (numbers and dates
    stay numbers and dates, other text is typed as text), which is several times faster to
    write than a styled cell."""
    defused = formatting.defuse_formula(value)
    if not isinstance(defused, formatting.FormulaText):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=str(defused))
    cell.data_type = "s"  # openpyxl would read "=…" as a formula
    cell.quotePrefix = True
    return cell


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
    return formatting.csv_cell(value)


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
            sheet.append([xlsx_value(sheet, value) for value in row])
        if progress is not None:
            progress(len(batch))
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    workbook.save(handle.name)
    return Path(handle.name)


# --- documents -------------------------------------------------------------------------------


def pdf_document(title: str) -> Any:
    """An A4 page in DejaVu (Cyrillic and Albanian alike) that starts with ``title``: every
    printable document of the programme begins so (the subject access export too)."""
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
    return pdf


def _pdf(title: str) -> Any:
    pdf = pdf_document(title)
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
            for line in statement.money.by_creditor
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
                _closings(row),
                formatting.money(row.paid_deni, locale),
                formatting.hours(row.owed_minutes, locale),
                formatting.hours(row.verified_minutes, locale),
            ]
            for row in figures.months
        ],
        [25, 30, 25, 40, 35, 35],
    )
    return bytes(pdf.output())


def _closings(row: MonthRow) -> str:
    """Completions, and beside them the early closings (never counted as completions)."""
    if not row.closed_early:
        return str(row.completed)
    return _(
        "%(completed)d (+%(early)d closed early)", completed=row.completed, early=row.closed_early
    )


def report_facts(figures: Indicators, locale: str) -> list[tuple[str, str]]:
    """The headline indicators against their targets, as label and text."""
    programme = figures.programme

    def against(value: str, target: str | None) -> str:
        return value if target is None else _("%(value)s of %(target)s", value=value, target=target)

    def goal(show: Callable[[int, str], str], value: int, target: int | None) -> str:
        return against(show(value, locale), show(target, locale) if target else None)

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
        (_("Families closed early, with hours owed"), str(figures.closed_early)),
        (_("Families active now"), str(figures.active_now)),
        (_("Debt paid"), goal(formatting.money, figures.paid_deni, programme.target_debt_deni)),
        (_("Hours owed for those payments"), formatting.hours(figures.owed_minutes, locale)),
        (
            _("Hours verified"),
            goal(formatting.hours, figures.verified_minutes, programme.target_minutes),
        ),
        (_("Hours worked beyond what is owed"), formatting.hours(figures.beyond_minutes, locale)),
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
        (_("Families closed early, with hours owed"), figures.closed_early, None),
        (_("Families active now"), figures.active_now, None),
        (
            _("Debt paid (ден.)"),
            money(figures.paid_deni),
            money(programme.target_debt_deni) if programme.target_debt_deni else None,
        ),
        (_("Hours owed"), Decimal(figures.owed_minutes) / 60, None),
        (
            _("Hours verified"),
            Decimal(figures.verified_minutes) / 60,
            Decimal(programme.target_minutes) / 60 if programme.target_minutes else None,
        ),
        (_("Hours worked beyond what is owed"), Decimal(figures.beyond_minutes) / 60, None),
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
        creditors.append([xlsx_value(creditors, name), money(total)])
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
                _("Closed early"),
            )
        ]
    )
    for row in figures.months:
        months.append(
            [
                row.month,
                row.activated,
                row.completed,
                money(row.paid_deni),
                row.owed_minutes,
                row.verified_minutes,
                row.closed_early,
            ]
        )
        months.cell(row=months.max_row, column=1).number_format = "MM.YYYY"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

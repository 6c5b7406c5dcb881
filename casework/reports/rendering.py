"""Exports and reports as documents: CSV, XLSX and PDF. Nothing here queries or decides;
it turns rows and figures that were already checked into cells and pages."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from casework import formatting
from casework.extensions import db
from casework.reports import charts
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


@dataclass(frozen=True)
class Issue:
    """Who issues a document and on what day: the footer of every page says so, beside its
    number ("page 2 of 3"), so that a printed page on its own still says where it came from."""

    issuer: str
    on: date
    locale: str


@cache
def _document_class() -> type:
    """FPDF with a footer (built on first use: fpdf is imported only when a PDF is made)."""
    from fpdf import FPDF

    class Document(FPDF):
        footer_left = ""
        footer_right = ""  # "Page {page} of {nb}": fpdf fills in {nb} when the file is done

        def footer(self) -> None:
            if not self.footer_right:
                return
            self.set_y(-13)
            self.set_font("DejaVu", "", 7.5)
            self.set_text_color(90, 90, 90)
            page = self.footer_right.replace("{page}", str(self.page_no()))
            self.cell(self.epw * 0.78, 5, self.footer_left, align="L")
            self.cell(self.epw * 0.22, 5, page, align="R")
            self.set_text_color(0, 0, 0)

    return Document


def pdf_document(title: str, issue: Issue | None = None) -> Any:
    """An A4 page in DejaVu (Cyrillic and Albanian alike) that starts with ``title``: every
    printable document of the programme begins so (the subject access export too); with
    ``issue``, every page ends with the issuer, the day and "page x of y"."""
    pdf = _document_class()(format="A4")
    if issue is not None:
        pdf.footer_left = _(
            "Issued by %(issuer)s on %(date)s",
            issuer=issue.issuer,
            date=formatting.day(issue.on, issue.locale),
        )
        pdf.footer_right = _("Page %(page)s of %(pages)s", page="{page}", pages="{nb}")
    pdf.set_title(title)
    pdf.set_creator("casework")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(0, 8, title, align="L", new_x="LMARGIN", new_y="NEXT")
    return pdf


def _pdf(title: str, issue: Issue | None = None) -> Any:
    pdf = pdf_document(title, issue)
    pdf.ln(2)
    return pdf


# Figures are right-aligned, so that their digits line up; text stays on the left.
LEFT, RIGHT = "LEFT", "RIGHT"


def _table(
    pdf: Any,
    headers: list[str],
    rows: list[list[str]],
    widths: list[int],
    align: tuple[str, ...] | None = None,
) -> None:
    """A table whose cells wrap their text (a long Macedonian or Albanian header included)."""
    aligns = align or (LEFT,) * len(widths)
    pdf.set_font("DejaVu", "B", 9)
    with pdf.table(
        col_widths=widths, text_align=aligns, line_height=5, padding=1.2, v_align="MIDDLE"
    ) as table:
        header = table.row()
        for text in headers:
            header.cell(text)
        pdf.set_font("DejaVu", "", 9)
        for values in rows:
            row = table.row()
            for text in values:
                row.cell(text)
    pdf.ln(3)


def _heading(pdf: Any, text: str) -> None:
    """A section's heading, as on the page; kept on the page of the table it heads."""
    if pdf.will_page_break(20):
        pdf.add_page()
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")


def _facts(pdf: Any, facts: list[tuple[str, str]]) -> None:
    """Label and value side by side, each in its own column: a long label wraps within its
    own column and never runs over the value."""
    from fpdf.fonts import FontFace

    pdf.set_font("DejaVu", "", 10)
    bold = FontFace(emphasis="BOLD")
    with pdf.table(
        col_widths=(80, 110),
        text_align=(LEFT, LEFT),
        borders_layout="HORIZONTAL_LINES",
        first_row_as_headings=False,
        line_height=5.5,
        padding=1,
        v_align="TOP",
    ) as table:
        for name, value in facts:
            row = table.row()
            row.cell(name, style=bold)
            row.cell(value)
    pdf.ln(4)


def statement_pdf(statement: Any, locale: str) -> bytes:
    """The family statement as one printable page (the caller sets the family's language)."""
    pdf = _pdf(
        _("Statement for household %(case)s", case=statement.household.case_number),
        Issue(statement.issuer, statement.as_of, locale),
    )
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
        (LEFT, RIGHT, RIGHT, RIGHT),
    )
    _facts(pdf, statement.hours_facts(locale))
    pdf.set_font("DejaVu", "", 8)
    pdf.multi_cell(0, 5, statement.footer(locale))
    return bytes(pdf.output())


def report_issuer(programme: Any) -> str:
    """The NGO that runs the programme and the municipality it serves."""
    return f"{programme.ngo.name} · {programme.municipality.name}"


def report_pdf(figures: Indicators, locale: str, *, issued_on: date) -> bytes:
    """The programme report as on its page: the indicators, the two charts, the tables."""
    programme = figures.programme
    pdf = _pdf(
        _("Programme report: %(name)s", name=programme.name),
        Issue(report_issuer(programme), issued_on, locale),
    )
    _facts(pdf, report_facts(figures, locale))
    charts.report_charts(pdf, figures, locale)
    _heading(pdf, _("Debt paid by creditor"))
    _table(
        pdf,
        [_("Creditor"), _("Debt paid")],
        [[name, formatting.money(total, locale)] for name, total in figures.by_creditor],
        [110, 80],
        (LEFT, RIGHT),
    )
    _heading(pdf, _("By month"))
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
        [22, 28, 30, 40, 35, 35],
        (LEFT, RIGHT, RIGHT, RIGHT, RIGHT, RIGHT),
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

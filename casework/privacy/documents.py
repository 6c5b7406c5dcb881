"""The subject access export as files: JSON for machines, a PDF for the family."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from casework.extensions import db
from casework.reports.rendering import pdf_document


def household_data_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


TABLE_TITLES = {
    "households": _l("Household"),
    "members": _l("Members"),
    "exemptions": _l("Exemptions from work"),
    "case_notes": _l("Case notes"),
    "caseload_assignments": _l("Social workers assigned"),
    "duplicate_reviews": _l("Duplicate checks"),
    "enrollments": _l("Enrollments"),
    "enrollment_events": _l("Steps of the enrollment"),
    "commission_decisions": _l("Commission decisions"),
    "decision_votes": _l("Commission votes"),
    "agreements": _l("Agreements"),
    "agreement_signatories": _l("Who signed the agreement"),
    "utility_accounts": _l("Utility accounts"),
    "arrears": _l("Debts"),
    "payment_requests": _l("Payment requests"),
    "payment_request_events": _l("Steps of the payment requests"),
    "approvals": _l("Approvals"),
    "payments": _l("Payments"),
    "payment_reversals": _l("Reversed payments"),
    "obligations": _l("Hours owed"),
    "work_logs": _l("Community work"),
    "balance_snapshots": _l("Balance checks"),
    "alerts": _l("Alerts to staff"),
    "access_log": _l("Who viewed or exported the data"),
    "audit_events": _l("Changes recorded in the audit trail"),
}


def _pdf_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def household_data_pdf(data: Mapping[str, Any]) -> bytes:
    """The export as a document for the family: a section per table, every field of every
    row, with the names of the staff and programmes the rows point at."""
    case_number = data["household"]["case_number"]
    references: Mapping[str, Mapping[str, Any]] = data.get("references", {})
    pdf = pdf_document(_("Data held about household %(case)s", case=case_number))
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(
        0,
        5,
        _(
            "Everything the programme stores about this household (exported %(when)s), table by "
            "table, with every field. Amounts are in deni (1/100 denar), time worked in minutes, "
            "dates as year-month-day. Staff, programmes and sites are shown by number and name.",
            when=data.get("exported_at", ""),
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    for name, rows in data["tables"].items():
        _table_section(pdf, name, rows, references)
    return bytes(pdf.output())


def _table_section(
    pdf: Any,
    name: str,
    rows: Sequence[Mapping[str, Any]],
    references: Mapping[str, Mapping[str, Any]],
) -> None:
    """One table's rows, each field beside its value (and the name of what it points at)."""
    table = db.metadata.tables.get(name)
    pointers = (
        {fk.parent.name: fk.column.table.name for fk in table.foreign_keys}
        if table is not None
        else {}
    )
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 12)
    pdf.multi_cell(0, 7, f"{TABLE_TITLES.get(name, name)} ({name})", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    if not rows:
        pdf.multi_cell(0, 5, _("No records."), new_x="LMARGIN", new_y="NEXT")
        return
    for number, row in enumerate(rows, 1):
        pdf.set_font("DejaVu", "B", 9)
        pdf.multi_cell(
            0,
            5,
            _("Record %(n)d of %(total)d", n=number, total=len(rows)),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        for column, value in row.items():
            text = _pdf_text(value)
            target = pointers.get(column)
            label = references.get(target, {}).get(str(value)) if target else None
            if value is not None and label is not None:
                text = f"{text} ({label})"
            pdf.set_font("DejaVu", "B", 8)
            pdf.cell(48, 4.5, column)
            pdf.set_font("DejaVu", "", 8)
            pdf.multi_cell(0, 4.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)

"""The family's data rights (DOMAIN.md, data protection): the subject access export, and
anonymisation once the programme's retention period has run out.

Both start from one walk over the model metadata (``household_parts``): the household's row,
then every table with a foreign key into a table already taken, through any chain (household →
enrollment → agreement → signatories; household → utility account → arrear → payment request
→ payment → reversal; member → work logs, ...). Walking the metadata instead of listing tables
means that a table or column added later is exported without anyone remembering to, and that
anonymisation refuses to run until someone has decided what happens to it (``ANONYMISATION``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ColumnElement, Table, and_, false, func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Mapper, aliased

import casework.models  # noqa: F401  (every table in the metadata, so that the walk sees all)
from casework.audit.services import record
from casework.db import Base, chunked, utcnow
from casework.enrollment.models import OPEN_STATUSES, Enrollment, EnrollmentEvent, Status
from casework.errors import ConflictError
from casework.extensions import db
from casework.households.models import Household
from casework.mail.models import OutboxMessage
from casework.programmes.models import Programme
from casework.security.models import User

FONTS = Path(__file__).resolve().parent.parent / "fonts"

# The audit trail is append-only and hash-chained: the export takes the household's events by
# entity (their before/after values describe the family), the walk never enters it, and
# anonymisation never changes it.
AUDIT_TABLES = frozenset({"audit_events", "audit_links", "audit_chain_head"})

# Rows of the household point at staff, programmes, sites, creditors: the export keeps the id
# and adds the first of these columns as a readable name, never the rest of those rows.
LABEL_COLUMNS = ("full_name", "name", "as_of")

# What free text becomes once anonymised.
REDACTED = "—"


# --- the walk ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One table of the household's data, and the condition that selects exactly its rows."""

    table: Table
    where: ColumnElement[bool]


def household_parts(household_id: int) -> list[Part]:
    """The tables that hold the household's rows, parents before children.

    A table joins when it has a foreign key into a table already taken; its rows are those
    whose key points at one of that table's rows, through any of its keys (so a duplicate
    review naming this household as the *other* one is included too). The walk only follows
    keys backwards: users, programmes, creditors and work sites, which the rows merely point
    at, are not the family's data. Each condition is a subquery, so the rows are selected in
    one statement per table however many there are.
    """
    root = db.metadata.tables["households"]
    where: dict[str, ColumnElement[bool]] = {root.name: root.c.id == household_id}
    parts = [Part(root, where[root.name])]
    for table in db.metadata.sorted_tables:
        if table.name in where or table.name in AUDIT_TABLES:
            continue
        links = [
            fk.parent.in_(select(fk.column).where(where[fk.column.table.name]))
            for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name)
            if fk.column.table.name in where
        ]
        if links:
            where[table.name] = or_(*links)
            parts.append(Part(table, where[table.name]))
    return parts


def _mappers() -> dict[str, Mapper[Any]]:
    """Each table's mapper, by table name."""
    found: dict[str, Mapper[Any]] = {}
    for mapper in Base.registry.mappers:
        name = getattr(mapper.class_, "__tablename__", None)
        if isinstance(name, str):
            found[name] = mapper
    return found


def _entity_type(class_name: str) -> str:
    """The name the audit trail gives a model's rows: ``PaymentRequest`` → ``payment_request``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


# --- the subject access export -------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def _fetch(table: Table, where: ColumnElement[bool]) -> Sequence[RowMapping]:
    statement = select(table).where(where).order_by(*table.primary_key.columns)
    return db.session.execute(statement).mappings().all()


def _as_dicts(table: Table, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Every column of every row, by column name, as JSON-safe values."""
    return [{column.name: _jsonable(row[column]) for column in table.columns} for row in rows]


def _audit_condition(parts: Sequence[Part]) -> ColumnElement[bool]:
    """The audit events whose entity is one of the household's rows."""
    audit = db.metadata.tables["audit_events"]
    mappers = _mappers()
    clauses = [
        and_(
            audit.c.entity_type == _entity_type(mappers[part.table.name].class_.__name__),
            audit.c.entity_id.in_(select(part.table.c.id).where(part.where)),
        )
        for part in parts
        if part.table.name in mappers and "id" in part.table.c
    ]
    return or_(*clauses) if clauses else false()


def _references(pointed: Mapping[tuple[str, str], set[Any]]) -> dict[str, dict[str, Any]]:
    """A readable name for each staff member, programme, site, ... the rows point at."""
    found: dict[str, dict[str, Any]] = {}
    for (table_name, column_name), values in sorted(pointed.items()):
        table = db.metadata.tables[table_name]
        label = next((table.c[name] for name in LABEL_COLUMNS if name in table.c), None)
        if label is None or not values:
            continue
        key: Column[Any] = table.c[column_name]
        names = found.setdefault(table_name, {})
        for chunk in chunked(sorted(values)):
            for value, text in db.session.execute(select(key, label).where(key.in_(chunk))):
                names[str(value)] = _jsonable(text)
    return found


def household_data(household: Household, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything stored about one household, for a subject access request.

    ``tables`` holds, for every table of the walk and then the household's audit events, every
    row with all of its columns. Foreign keys to rows that are not the family's (staff,
    programmes, creditors, sites) keep their id; ``references`` names them. Nothing is masked:
    this is the family's own data, national IDs included.
    """
    parts = household_parts(household.id)
    walked = {part.table.name for part in parts}
    tables: dict[str, list[dict[str, Any]]] = {}
    pointed: dict[tuple[str, str], set[Any]] = {}

    def point_outward(table: Table, rows: Sequence[RowMapping]) -> None:
        for fk in table.foreign_keys:
            target = fk.column.table.name
            if target in walked:
                continue
            values = pointed.setdefault((target, fk.column.name), set())
            values.update(row[fk.parent] for row in rows if row[fk.parent] is not None)

    for part in parts:
        rows = _fetch(part.table, part.where)
        tables[part.table.name] = _as_dicts(part.table, rows)
        point_outward(part.table, rows)
    audit = db.metadata.tables["audit_events"]
    events = _fetch(audit, _audit_condition(parts))
    tables[audit.name] = _as_dicts(audit, events)
    point_outward(audit, events)
    return {
        "household": {"id": household.id, "case_number": household.case_number},
        "exported_at": (now or utcnow()).isoformat(),
        "tables": tables,
        "references": _references(pointed),
    }


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
    from fpdf import FPDF

    case_number = data["household"]["case_number"]
    references: Mapping[str, Mapping[str, Any]] = data.get("references", {})
    title = _("Data held about household %(case)s", case=case_number)
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("casework")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
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
        table = db.metadata.tables.get(name)
        pointers = (
            {fk.parent.name: fk.column.table.name for fk in table.foreign_keys}
            if table is not None
            else {}
        )
        pdf.ln(3)
        pdf.set_font("DejaVu", "B", 12)
        pdf.multi_cell(
            0, 7, f"{TABLE_TITLES.get(name, name)} ({name})", new_x="LMARGIN", new_y="NEXT"
        )
        pdf.set_font("DejaVu", "", 8)
        if not rows:
            pdf.multi_cell(0, 5, _("No records."), new_x="LMARGIN", new_y="NEXT")
            continue
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
    return bytes(pdf.output())


# --- retention and anonymisation -----------------------------------------------------------------


class Erase(StrEnum):
    """What anonymisation does to one column."""

    KEEP = "keep"
    DERIVED = "derived"  # follows another column through the model's @validates
    EMPTY = "empty"  # ""
    NULL = "null"
    REDACT = "redact"  # free text that is not empty becomes REDACTED
    YEAR = "year"  # a date becomes 1 January of its year
    ORDINAL = "ordinal"  # "#1", "#2", ... in the order the rows were created
    CASE_NUMBER = "case_number"  # the household's case number
    CASE_REFERENCE = "case_reference"  # "<case number>/<n>": unique, points at nothing outside
    STAMP = "stamp"  # the moment of anonymisation


def _keep(columns: str) -> dict[str, Erase]:
    return dict.fromkeys(columns.split(), Erase.KEEP)


# Every column of every table of the walk, decided. Names, national IDs, contact details,
# document references about health or pensions and free text (which may say anything about
# the family) go; amounts, minutes, dates, statuses, the case number and the references of the
# programme's own documents (decisions, agreements, statements, bank references) stay, so the
# accounts still add up and an auditor can still match them to the paper files. A table or
# column missing here stops anonymisation (``_erasures``) until someone decides.
ANONYMISATION: dict[str, dict[str, Erase]] = {
    "households": {
        **_keep(
            "id municipality_id case_number settlement language consent_on "
            "assigned_worker_id created_at"
        ),
        "address": Erase.EMPTY,
        "address_key": Erase.DERIVED,
        "phone": Erase.EMPTY,
        "anonymised_at": Erase.STAMP,
    },
    "members": {
        **_keep("id household_id sex relation is_head"),
        "first_name": Erase.ORDINAL,
        "last_name": Erase.CASE_NUMBER,
        "name_key": Erase.DERIVED,
        "national_id": Erase.NULL,
        "birth_date": Erase.YEAR,
    },
    "exemptions": {
        **_keep("id member_id reason starts_on ends_on created_by_id created_at"),
        "document_ref": Erase.EMPTY,  # a pension or medical certificate's number
    },
    "case_notes": {
        **_keep("id household_id author_id written_on visibility created_at"),
        "text": Erase.REDACT,
    },
    "caseload_assignments": _keep("id household_id worker_id assigned_by_id assigned_at"),
    "duplicate_reviews": _keep(
        "id household_id other_household_id reason decision decided_by_id decided_at"
    ),
    "enrollments": _keep(
        "id household_id programme_id status applied_on active_since ended_on created_at"
    ),
    "enrollment_events": {
        **_keep(
            "id enrollment_id from_status to_status effective_on document_ref actor_id recorded_at"
        ),
        "reason": Erase.REDACT,
    },
    "commission_decisions": {
        **_keep("id enrollment_id decided_on outcome reference recorded_by_id recorded_at"),
        "reason": Erase.REDACT,
    },
    "decision_votes": _keep("id decision_id commission_member_id vote"),
    "agreements": _keep("id enrollment_id signed_on reference recorded_by_id"),
    "agreement_signatories": _keep("id agreement_id member_id"),
    "utility_accounts": {
        **_keep("id household_id creditor_id created_by_id created_at"),
        "customer_number": Erase.CASE_REFERENCE,  # the utility could name the family from it
    },
    "arrears": _keep(
        "id account_id period_from period_to principal_deni penalty_deni statement_ref "
        "received_on recorded_by_id recorded_at"
    ),
    "payment_requests": {
        **_keep(
            "id enrollment_id arrear_id amount_deni status round approvals_needed "
            "approvals_count created_by_id last_changed_by_id approved_on created_at"
        ),
        "justification": Erase.REDACT,
        "rejection_reason": Erase.REDACT,
    },
    "approvals": _keep("id request_id round seq officer_id approved_on recorded_at"),
    "payment_request_events": {
        **_keep("id request_id from_status to_status effective_on actor_id recorded_at"),
        "note": Erase.REDACT,
    },
    "payments": _keep("id request_id paid_on reference amount_deni recorded_by_id recorded_at"),
    "payment_reversals": {
        **_keep("id payment_id reversed_on reversed_by_id recorded_at"),
        "reason": Erase.REDACT,
    },
    "obligations": _keep(
        "id payment_id household_id enrollment_id minutes hourly_value_deni starts_on due_on"
    ),
    "work_logs": {
        **_keep(
            "id member_id household_id enrollment_id site_id work_date start_minute end_minute "
            "minutes task status reverses_id logged_by_id logged_at decided_by_id decided_at"
        ),
        "rejection_reason": Erase.REDACT,
    },
    "balance_snapshots": _keep(
        "id run_id household_id owed verified pending expected status behind_streak flagged"
    ),
    "alerts": _keep(
        "id user_id household_id snapshot_id previous_status status created_at read_at"
    ),
    # Who looked at the family's data: staff accountability, append-only like the audit trail.
    "access_log": _keep(
        "id at user_id user_roles action household_id member_id municipality_id detail reason "
        "request_id"
    ),
}


def _erasures(table: Table) -> dict[str, Erase]:
    """The columns of ``table`` that anonymisation changes; refuses an undecided column."""
    rules = ANONYMISATION.get(table.name)
    undecided = sorted(set(table.c.keys()) - set(rules or {}))
    if rules is None or undecided:
        raise LookupError(
            f"anonymisation: nobody has decided what happens to {table.name} "
            f"{', '.join(undecided)}: add it to ANONYMISATION"
        )
    return {name: rule for name, rule in rules.items() if rule not in (Erase.KEEP, Erase.DERIVED)}


def _erased(rule: Erase, value: Any, *, n: int, case_number: str, now: datetime) -> Any:
    match rule:
        case Erase.EMPTY:
            return ""
        case Erase.NULL:
            return None
        case Erase.REDACT:
            return REDACTED if value else value
        case Erase.YEAR:
            return None if value is None else date(value.year, 1, 1)
        case Erase.ORDINAL:
            return f"#{n}"
        case Erase.CASE_NUMBER:
            return case_number
        case Erase.CASE_REFERENCE:
            return f"{case_number}/{n}"
        case Erase.STAMP:
            return now
    return value


def anonymise_household(actor: User | None, household: Household, *, now: datetime) -> None:
    """Remove the family's names and personal data; keep its accounts (``ANONYMISATION``).

    Per column: members become "#1 <case number>", "#2 <case number>", ... (the name keys of
    the duplicate check follow), national IDs are cleared, birth dates become 1 January of the
    year (ages stay right to within a year, for statistics), sex, relation and head stay;
    the address and phone are emptied, the settlement, language and the date of consent stay
    (the consent is the legal basis the data was held on); the utilities' customer numbers
    become "<case number>/n"; exemptions keep their reason code and dates but lose the
    document number; every free text (case notes, reasons, justifications) becomes "—".
    Arrears, requests, approvals, payments, reversals, obligations, work logs with their
    minutes, balance checks and the case number stay, so the programme's accounts still add up.
    The copies of alert mail kept in the outbox lose the family's names too. The audit trail
    and the access log are append-only and stay as they are.

    Rows go through the ORM, so the models' @validates keep derived columns in step. Written
    in the caller's transaction with one audit event that counts the rows, never names them.
    """
    if household.anonymised_at is not None:
        raise ConflictError(_("This household has been anonymised already."))
    still_open = db.session.scalar(
        select(Enrollment.id)
        .where(Enrollment.household_id == household.id, Enrollment.status.in_(OPEN_STATUSES))
        .limit(1)
    )
    if still_open is not None:
        raise ConflictError(_("The household is still in a programme: it cannot be anonymised."))
    mappers = _mappers()
    case_number = household.case_number
    names = sorted({m.full_name for m in household.members if m.full_name.strip()}, key=len)
    changed: dict[str, int] = {}
    for part in household_parts(household.id):
        rules = _erasures(part.table)
        if not rules:
            continue
        mapper = mappers[part.table.name]
        keys = {name: mapper.get_property_by_column(part.table.c[name]).key for name in rules}
        rows = db.session.scalars(
            select(mapper.class_).where(part.where).order_by(*part.table.primary_key.columns)
        ).all()
        for n, row in enumerate(rows, 1):
            for name, rule in rules.items():
                before = getattr(row, keys[name])
                after = _erased(rule, before, n=n, case_number=case_number, now=now)
                if after != before:
                    setattr(row, keys[name], after)
        changed[part.table.name] = len(rows)
    changed["outbox"] = _scrub_outbox(case_number, names[::-1])
    db.session.flush()
    record(
        actor,
        "household.anonymise",
        "household",
        household.id,
        municipality_id=household.municipality_id,
        changes={"rows": changed},
    )


def _scrub_outbox(case_number: str, names: Sequence[str]) -> int:
    """Alerts name the family's head beside its case number ("KIC-00007 (Name Surname)"): the
    copies kept in the outbox lose the names too. Longest names first, so no part is left."""
    messages = db.session.scalars(
        select(OutboxMessage).where(
            or_(
                OutboxMessage.body.contains(case_number, autoescape=True),
                OutboxMessage.subject.contains(case_number, autoescape=True),
            )
        )
    ).all()
    for message in messages:
        for name in names:
            message.body = message.body.replace(name, REDACTED)
            message.subject = message.subject.replace(name, REDACTED)
    return len(messages)


@dataclass(frozen=True)
class DueHousehold:
    household: Household
    ended_on: date  # the day its last enrollment ended


ENDED_STATUSES = (Status.COMPLETED, Status.WITHDRAWN, Status.REJECTED)


def years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def households_due_for_retention(today: date) -> list[DueHousehold]:
    """Households to anonymise on ``today``, by case number.

    Due: not anonymised yet, no open enrollment, and every enrollment ended (completed,
    withdrawn or rejected) more than its programme's ``retention_years`` before ``today``.
    An enrollment ended on its ``ended_on`` (completion, withdrawal) or else on the day of its
    last step into an ended state (a rejection: the commission's decision); one with neither
    is never guessed at, and keeps its household. A household that never applied has no
    programme and so no retention period: it is not due.
    """
    # Ended states are final, so an enrollment has at most one step into one of them.
    ended_step = (
        select(
            EnrollmentEvent.enrollment_id,
            func.max(EnrollmentEvent.effective_on).label("effective_on"),
        )
        .where(EnrollmentEvent.to_status.in_([s.value for s in ENDED_STATUSES]))
        .group_by(EnrollmentEvent.enrollment_id)
        .subquery()
    )
    other = aliased(Enrollment)  # not correlated with the outer query's Enrollment
    still_open = (
        select(other.id)
        .where(other.household_id == Household.id, other.status.in_(OPEN_STATUSES))
        .exists()
    )
    rows = db.session.execute(
        select(
            Enrollment.household_id,
            func.coalesce(Enrollment.ended_on, ended_step.c.effective_on),
            Programme.retention_years,
        )
        .join(Household, Enrollment.household_id == Household.id)
        .join(Programme, Enrollment.programme_id == Programme.id)
        .outerjoin(ended_step, ended_step.c.enrollment_id == Enrollment.id)
        .where(Household.anonymised_at.is_(None), ~still_open)
    ).all()
    last: dict[int, date] = {}
    kept: set[int] = set()
    for household_id, end, years in rows:
        if end is None or end >= years_before(today, years):
            kept.add(household_id)
        else:
            last[household_id] = max(end, last.get(household_id, end))
    due_ids = sorted(set(last) - kept)
    households: list[Household] = []
    for chunk in chunked(due_ids):
        households.extend(db.session.scalars(select(Household).where(Household.id.in_(chunk))))
    households.sort(key=lambda h: h.case_number)
    return [DueHousehold(h, last[h.id]) for h in households]


def apply_retention(due: Iterable[DueHousehold], now: datetime) -> int:
    """Anonymise the households due (``households_due_for_retention``): the scheduler daily,
    ``casework retention`` by hand; all of them or, on an error, none."""
    count = 0
    for item in due:
        anonymise_household(None, item.household, now=now)
        count += 1
    return count

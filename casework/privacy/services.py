"""The family's data rights (DOMAIN.md, data protection): the subject access export, and
anonymisation once the programme's retention period has run out.

Both start from one walk over the model metadata (``household_parts``): the household's row,
then every table with a foreign key into a table already taken, through any chain (household →
enrollment → agreement → signatories; household → utility account → arrear → payment request
→ payment → reversal; member → work logs, ...). Walking the metadata instead of listing tables
means that a table or column added later is exported without anyone remembering to, and that
anonymisation refuses to run until someone has decided what happens to it (``ANONYMISATION``).

The walk and the reading of rows are ``queries``', the files ``documents``'.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Table, or_, select
from sqlalchemy.engine import RowMapping

from casework.audit import keys as audit_keys
from casework.audit.services import record
from casework.db import utcnow
from casework.enrollment.models import Status
from casework.errors import ConflictError
from casework.extensions import db
from casework.households.models import Household
from casework.mail.models import OutboxMessage
from casework.privacy import queries
from casework.privacy.documents import TABLE_TITLES, household_data_json, household_data_pdf
from casework.privacy.queries import household_parts
from casework.security.models import User

# Names that other modules import from here (the walk and the documents have their own
# modules now).
__all__ = [
    "ANONYMISATION",
    "ENDED_STATUSES",
    "REDACTED",
    "TABLE_TITLES",
    "DueHousehold",
    "Erase",
    "anonymise_household",
    "apply_retention",
    "household_data",
    "household_data_json",
    "household_data_pdf",
    "household_parts",
    "households_due_for_retention",
    "years_before",
]

# What free text becomes once anonymised.
REDACTED = "—"


# --- the subject access export -------------------------------------------------------------------


def household_data(household: Household, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything stored about one household, for a subject access request.

    ``tables`` holds, for every table of the walk and then the household's audit events, every
    row with all of its columns. Foreign keys to rows that are not the family's (staff,
    programmes, creditors, sites) keep their id; ``references`` names them. Nothing is masked:
    this is the family's own data, national IDs included.
    """
    parts = queries.household_parts(household.id)
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
        rows = queries.fetch(part.table, part.where)
        tables[part.table.name] = queries.as_dicts(part.table, rows)
        point_outward(part.table, rows)
    audit = db.metadata.tables["audit_events"]
    events = queries.fetch(audit, queries.audit_condition(parts))
    tables[audit.name] = _opened_events(queries.as_dicts(audit, events))
    point_outward(audit, events)
    return {
        "household": {"id": household.id, "case_number": household.case_number},
        "exported_at": (now or utcnow()).isoformat(),
        "tables": tables,
        "references": queries.references(pointed),
    }


def _opened_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The family's audit events with their sealed personal fields opened: the family's own
    data, as they were written (never the keys)."""
    household_keys = audit_keys.household_keys(
        h for e in events for h in audit_keys.sealed_households(e["changes"] or {})
    )
    return [
        {**e, "changes": audit_keys.jsonable_opened(e["changes"] or {}, household_keys)}
        for e in events
    ]


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
        "id household_id programme_id status applied_on active_since ended_on close_reason "
        "created_at"
    ),
    "enrollment_events": {
        **_keep(
            "id enrollment_id from_status to_status effective_on document_ref close_reason "
            "actor_id recorded_at"
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
    "customer_number_corrections": {
        **_keep("id account_id corrected_on corrected_by_id recorded_at"),
        "old_number": Erase.CASE_REFERENCE,  # as the account's own number
        "new_number": Erase.CASE_REFERENCE,
        "reason": Erase.REDACT,
    },
    "arrears": {
        **_keep(
            "id account_id period_from period_to principal_deni penalty_deni statement_ref "
            "received_on recorded_by_id recorded_at replaces_id voided_on voided_by_id"
        ),
        "void_reason": Erase.REDACT,
    },
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
            "minutes task status reverses_id logged_by_id logged_at decided_by_id decided_at "
            "withdrawn_by_id withdrawn_at"
        ),
        "rejection_reason": Erase.REDACT,
        "withdrawal_reason": Erase.REDACT,
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
    and the access log are append-only and stay as they are, but the household's audit key is
    destroyed (``audit.keys.shred``), so the personal fields sealed with it are unreadable.

    Rows go through the ORM, so the models' @validates keep derived columns in step. Written
    in the caller's transaction with one audit event that counts the rows, never names them.
    """
    if household.anonymised_at is not None:
        raise ConflictError(_("This household has been anonymised already."))
    if queries.has_open_enrollment(household.id):
        raise ConflictError(_("The household is still in a programme: it cannot be anonymised."))
    mappers = queries.table_mappers()
    case_number = household.case_number
    names = sorted({m.full_name for m in household.members if m.full_name.strip()}, key=len)
    changed: dict[str, int] = {}
    for part in queries.household_parts(household.id):
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
    audit_keys.shred(household.id, now=now)
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


ENDED_STATUSES = (Status.COMPLETED, Status.CLOSED_EARLY, Status.WITHDRAWN, Status.REJECTED)


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
    rows = queries.enrollment_ends(ENDED_STATUSES)
    last: dict[int, date] = {}
    kept: set[int] = set()
    for household_id, end, years in rows:
        if end is None or end >= years_before(today, years):
            kept.add(household_id)
        else:
            last[household_id] = max(end, last.get(household_id, end))
    due_ids = sorted(set(last) - kept)
    households = sorted(queries.households_by_id(due_ids), key=lambda h: h.case_number)
    return [DueHousehold(h, last[h.id]) for h in households]


def apply_retention(due: Iterable[DueHousehold], now: datetime) -> int:
    """Anonymise the households due (``households_due_for_retention``): the scheduler daily,
    ``casework retention`` by hand; all of them or, on an error, none."""
    count = 0
    for item in due:
        anonymise_household(None, item.household, now=now)
        count += 1
    return count

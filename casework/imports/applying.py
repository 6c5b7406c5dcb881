"""Applying the file's records: households, members, applications and statements.

Each household (its rows) or statement (its row) is written through the very services the
forms call (households, enrollment, payments) inside a savepoint, so a refused record is
reported with the service's own message while the other records are still checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from flask_babel import gettext as _

from casework.enrollment import services as enrollment_services
from casework.errors import DomainError, ValidationError
from casework.extensions import db
from casework.households import services as household_services
from casework.households.models import Household, Relation
from casework.imports import matching, parsing
from casework.imports.parsing import CREATE, UNCHANGED, UPDATE, Person, Row, RowResult, Statement
from casework.payments import services as payment_services
from casework.payments.models import UtilityAccount
from casework.programmes.models import Programme
from casework.security.models import User

T = TypeVar("T")

_HOUSEHOLD_KEYS = parsing.keys(parsing.HOUSEHOLD_COLUMNS)
_ARREAR_KEYS = parsing.keys(parsing.ARREAR_COLUMNS)


@dataclass(frozen=True)
class ImportRun:
    """Who imports into which programme on which day, and where each row done is counted."""

    actor: User
    programme: Programme
    today: date
    progress: Callable[[int], None]


def _attempt(act: Callable[[], T]) -> T | DomainError:
    """``act`` in a savepoint: kept when done, rolled back (and the refusal returned) when a
    service refuses it, so one refused record leaves the others' work in place."""
    savepoint = db.session.begin_nested()
    try:
        done = act()
    except DomainError as error:
        savepoint.rollback()
        return error
    savepoint.commit()
    return done


def _fail(result: RowResult, error: DomainError, columns: set[str], fallback: str) -> None:
    """Each of a service's refusals on the column it names (a column of the file), or on
    ``fallback``."""
    for name, message in error.errors:
        result.fail(name if name in columns else fallback, message)


def _changed(wanted: Any, stored: Any, names: Sequence[str]) -> list[str]:
    """The fields whose wanted value differs from the stored one (surrounding spaces aside)."""
    return [name for name in names if _differs(getattr(wanted, name), getattr(stored, name))]


def _differs(wanted: Any, stored: Any) -> bool:
    if isinstance(wanted, str) and isinstance(stored, str):
        return wanted.strip() != stored.strip()
    return bool(wanted != stored)


# --- households ----------------------------------------------------------------------------


def import_households(run: ImportRun, rows: list[Row]) -> list[RowResult]:
    """Each family (the rows sharing a household number) is registered, or brought in line
    with its registered household, as a whole or not at all."""
    words = parsing.Words.build()
    families = matching.families(rows)
    registered = matching.registered_people(list(matching.file_national_ids(rows)))
    enrolled = matching.open_enrollments(
        [hid for hid, _m in registered.values()], programme_id=None
    )
    for key, family in families.items():
        run.progress(len(family))
        if key:
            _import_family(run, family, words, registered, enrolled)
    return [row.result for row in rows]


def _import_family(
    run: ImportRun,
    family: list[Row],
    words: parsing.Words,
    registered: dict[str, tuple[int, int]],
    enrolled: dict[int, int],
) -> None:
    parsed = [parsing.parse_household_row(r, words, run.today) for r in family]
    failed = [row for row in family if row.result.errors]
    if failed:
        _fail_family(family, failed[0])
        return
    people = [p for p in parsed if p]
    try:
        existing_id = matching.household_of(people, registered, run.programme.municipality_id)
    except matching.Mismatch as mismatch:
        culprit = mismatch.row or family[0]
        culprit.result.fail(mismatch.column, mismatch.message)
        _fail_family(family, culprit)
        return
    at = [family[0]]  # the row being applied, to report a refusal where it belongs
    if existing_id is None:
        refused = _attempt(lambda: _create_family(run, people, at))
    else:
        household = db.session.get_one(Household, existing_id)
        open_programme = enrolled.get(existing_id)
        refused = _attempt(lambda: _update_family(run, household, people, open_programme, at))
    if isinstance(refused, DomainError):
        _fail(at[0].result, refused, _HOUSEHOLD_KEYS, "household")
        _fail_family(family, at[0])


def _fail_family(family: list[Row], culprit: Row) -> None:
    for row in family:
        if row is not culprit and not row.result.errors:
            row.result.fail(
                "household",
                _("Not imported: row %(line)d of this household has an error.", line=culprit.line),
            )


def _create_family(run: ImportRun, people: list[Person], at: list[Row]) -> None:
    """Register the household with its head, then the others, then its application."""
    head = next(p for p in people if p.data.relation == Relation.HEAD)
    municipality = run.programme.municipality
    at[0] = head.row
    household = household_services.create_household(
        run.actor,
        municipality,
        parsing.household_data(head.row, municipality.default_locale),
        head.data,
        today=run.today,
    )
    for person in people:
        at[0] = person.row
        if person is not head:
            household_services.add_member(run.actor, household, person.data, today=run.today)
        person.row.result.action = CREATE
        person.row.result.subject = f"{person.data.first_name} {person.data.last_name}"
    at[0] = head.row
    _apply(run, household, head.row)


def _apply(run: ImportRun, household: Household, row: Row) -> None:
    try:
        enrollment_services.apply(
            run.actor,
            household,
            run.programme,
            applied_on=parsing.applied_on(row, run.today),
            today=run.today,
        )
    except DomainError as error:
        error.rename(lambda name: name if name == "applied_on" else "household")
        raise
    row.result.changes.append(str(_("application to the programme")))


def _update_family(
    run: ImportRun,
    household: Household,
    people: list[Person],
    open_programme: int | None,
    at: list[Row],
) -> None:
    """Bring a registered household in line with the file: changed fields are updated through
    the services (and audited), new members added, an application made if none is open.
    An empty cell keeps what is stored."""
    head_row = next((p.row for p in people if p.data.relation == Relation.HEAD), people[0].row)
    at[0] = head_row
    members = matching.Members(household.members)
    if head_row.values.get("address"):
        _update_household(run, household, head_row)
    for person in people:
        at[0] = person.row
        _update_person(run, household, members, person)
    at[0] = head_row
    if open_programme is None:
        _apply(run, household, head_row)
        if head_row.result.action == UNCHANGED:
            head_row.result.action = UPDATE
    elif open_programme != run.programme.id:
        raise ValidationError(
            _("This household has an open enrollment in another programme."), "household"
        )


def _update_household(run: ImportRun, household: Household, head_row: Row) -> None:
    given = parsing.household_data(head_row, household.language)
    wanted = household_services.HouseholdData(
        address=given.address,
        settlement=given.settlement or household.settlement,
        phone=given.phone or household.phone,
        language=given.language if head_row.values.get("language") else household.language,
        consent_on=household.consent_on,
    )
    changed = _changed(wanted, household, ("address", "settlement", "phone", "language"))
    if changed:
        household_services.update_household(run.actor, household, wanted, today=run.today)
        _updated(head_row.result, changed)


def _update_person(
    run: ImportRun, household: Household, members: matching.Members, person: Person
) -> None:
    data = person.data
    result = person.row.result
    result.subject = f"{household.case_number} · {data.first_name} {data.last_name}"
    member = members.find(data)
    if member is None:
        household_services.add_member(run.actor, household, data, today=run.today)
        result.action = CREATE
        return
    keep_name = matching.in_other_script(member, data)
    wanted = household_services.MemberData(
        first_name=member.first_name if keep_name else data.first_name,
        last_name=member.last_name if keep_name else data.last_name,
        birth_date=data.birth_date or member.birth_date,
        sex=data.sex or member.sex,
        relation=data.relation,
        national_id=data.national_id or member.national_id,
    )
    changed = _changed(
        wanted,
        member,
        ("first_name", "last_name", "birth_date", "sex", "relation", "national_id"),
    )
    if changed:
        household_services.update_member(run.actor, member, wanted, today=run.today)
        _updated(result, changed)


def _updated(result: RowResult, changed: list[str]) -> None:
    result.action = UPDATE
    result.changes.extend(changed)


# --- arrears -------------------------------------------------------------------------------


def import_arrears(run: ImportRun, rows: list[Row]) -> list[RowResult]:
    """Each statement is recorded on its customer number (registered on the household of the
    member it names when new), unless it is recorded already."""
    creditors = matching.creditors(run.programme.municipality_id)
    ledger = matching.Ledger.load(run.programme, rows)
    for row in rows:
        run.progress(1)
        statement = parsing.parse_statement_row(row, creditors, run.today)
        if statement is not None:
            _import_statement(run, ledger, statement)
    return [row.result for row in rows]


def _import_statement(run: ImportRun, ledger: matching.Ledger, statement: Statement) -> None:
    result = statement.row.result
    try:
        ledger.note(statement)
        data = statement.data
        if data is None:
            return  # a date or an amount left empty: nothing to record
        account, household_id = ledger.account_of(statement)
        if account is not None and ledger.recorded(account, statement):
            result.subject = f"{account.household.case_number} · {statement.reference}"
            return  # the same statement again: unchanged
    except matching.Mismatch as mismatch:
        result.fail(mismatch.column, mismatch.message)
        return
    done = _attempt(lambda: _record(run, ledger, statement, data, account, household_id))
    if isinstance(done, DomainError):
        _fail(result, done, _ARREAR_KEYS, "statement_ref")
        return
    result.action = CREATE
    result.subject = f"{done.household.case_number} · {statement.reference}"


def _record(
    run: ImportRun,
    ledger: matching.Ledger,
    statement: Statement,
    data: payment_services.ArrearData,
    account: UtilityAccount | None,
    household_id: int,
) -> UtilityAccount:
    """Record the statement, on a customer number registered first when it is new."""
    if account is None:
        household = db.session.get_one(Household, household_id)
        account = payment_services.open_account(
            run.actor, household, statement.creditor, statement.number
        )
        ledger.accounts[(statement.creditor.id, statement.number)] = account
        statement.row.result.changes.append(str(_("new customer number")))
    payment_services.record_arrear(run.actor, account, data, today=run.today)
    return account

"""Matching the file's records with the register, and with each other.

The people, households, open enrollments, customer numbers and statements a file refers to
are looked up once for the whole file (in chunks), not row by row: a 20.000-row import would
otherwise ask the database 20.000 times. A record that contradicts what is stored (or an
earlier row of the same file) is a ``Mismatch``, reported on the column it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select

from casework.enrollment.models import OPEN_STATUSES, Enrollment
from casework.extensions import db
from casework.households import services as household_services
from casework.households.models import NAME_KEY_LENGTH, Household, Member, Relation, match_key
from casework.imports.files import normalise_header
from casework.imports.parsing import Person, Row, Statement, national_id
from casework.organizations.models import Organization, OrganizationKind
from casework.payments.models import Arrear, UtilityAccount
from casework.programmes.models import Programme

_CHUNK = 500  # values per IN (...): well under SQLite's limit on bound parameters


class Mismatch(Exception):
    """The record disagrees with the register: the reason, on ``column`` of ``row`` (the
    family's first row when None)."""

    def __init__(self, column: str, message: str, row: Row | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.message = message
        self.row = row


def chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def registered_people(national_ids: list[str]) -> dict[str, tuple[int, int]]:
    """National ID → (household, municipality) for the people of the file already registered."""
    found: dict[str, tuple[int, int]] = {}
    for chunk in chunks(national_ids):
        for number, household_id, municipality_id in db.session.execute(
            select(Member.national_id, Member.household_id, Household.municipality_id)
            .join(Household, Household.id == Member.household_id)
            .where(Member.national_id.in_(chunk))
        ):
            if number is not None:
                found[number] = (household_id, municipality_id)
    return found


def open_enrollments(household_ids: list[int], programme_id: int | None) -> dict[int, int]:
    """Household → the programme of its open enrollment."""
    found: dict[int, int] = {}
    for chunk in chunks(sorted(set(household_ids))):
        query = select(Enrollment.household_id, Enrollment.programme_id).where(
            Enrollment.household_id.in_(chunk), Enrollment.status.in_(OPEN_STATUSES)
        )
        if programme_id is not None:
            query = query.where(Enrollment.programme_id == programme_id)
        found.update({household: programme for household, programme in db.session.execute(query)})
    return found


# --- households ----------------------------------------------------------------------------


def families(rows: list[Row]) -> dict[str, list[Row]]:
    """The rows by household number, in the file's order; a row without one fails."""
    found: dict[str, list[Row]] = {}
    for row in rows:
        key = row.values.get("household", "")
        if not key:
            row.result.fail("household", _("Give every row the number of its household."))
        found.setdefault(key, []).append(row)
    return found


def file_national_ids(rows: list[Row]) -> dict[str, int]:
    """National ID → the row it is first on. Each row's ID is kept without spaces; the same
    ID on a later row fails that row."""
    seen: dict[str, int] = {}
    for row in rows:
        number = national_id(row)
        if not number:
            continue
        row.values["national_id"] = number
        if number in seen:
            row.result.fail(
                "national_id", _("The same national ID is on row %(line)d.", line=seen[number])
            )
        else:
            seen[number] = row.line
    return seen


def household_of(
    people: list[Person], registered: dict[str, tuple[int, int]], municipality_id: int
) -> int | None:
    """The registered household the family's people are in, None for a new household."""
    known = {registered[number] for number in _registered_ids(people, registered)}
    if len({household_id for household_id, _m in known}) > 1:
        raise Mismatch("national_id", _("These people are registered in different households."))
    existing_id, registered_in = next(iter(known)) if known else (None, None)
    if existing_id is not None and registered_in != municipality_id:
        row = next(p.row for p in people if p.data.national_id in registered)
        raise Mismatch(
            "national_id", _("This national ID is already registered for another person."), row
        )
    heads = [p for p in people if p.data.relation == Relation.HEAD]
    if existing_id is None and len(heads) != 1:
        raise Mismatch(
            "relation", _("A new household needs exactly one row with the relation “head”.")
        )
    return existing_id


def _registered_ids(people: list[Person], registered: dict[str, tuple[int, int]]) -> list[str]:
    return [p.data.national_id for p in people if p.data.national_id in registered]


class Members:
    """A registered household's members, found by national ID, else by name and birth date.
    Names compare by their match keys, as the duplicate check's do: "Sefer Bajramovski" in
    the file is the registered "Сефер Бајрамовски"."""

    def __init__(self, members: Iterable[Member]) -> None:
        members = list(members)
        self.by_id = {m.national_id: m for m in members if m.national_id}
        self.by_name = {(m.name_key, m.birth_date): m for m in members}

    def find(self, data: household_services.MemberData) -> Member | None:
        member = self.by_id.get(data.national_id or "")
        if member is None and data.birth_date is not None:
            key = match_key(data.first_name, data.last_name)[:NAME_KEY_LENGTH]
            member = self.by_name.get((key, data.birth_date))
        return member


def in_other_script(member: Member, data: household_services.MemberData) -> bool:
    """Whether the file writes the member's registered name in the other script: then the
    stored spelling stays (a file in Latin does not rewrite a Cyrillic register), while a
    correction in the same script (case, a letter) is still applied."""
    if member.name_key != match_key(data.first_name, data.last_name)[:NAME_KEY_LENGTH]:
        return False
    return _cyrillic(member.first_name + member.last_name) != _cyrillic(
        data.first_name + data.last_name
    )


def _cyrillic(text: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in text)


# --- arrears -------------------------------------------------------------------------------


def creditors(municipality_id: int) -> dict[str, Organization]:
    """Every creditor serving the municipality (its own and the shared ones) by its name and
    by its short name: another municipality's creditor is as one not registered."""
    found: dict[str, Organization] = {}
    for known in db.session.scalars(
        select(Organization).where(
            Organization.kind == OrganizationKind.CREDITOR,
            or_(
                Organization.municipality_id.is_(None),
                Organization.municipality_id == municipality_id,
            ),
        )
    ):
        for name in (known.name, known.short_name):
            if name:
                found.setdefault(normalise_header(name), known)
    return found


def accounts(numbers: list[str]) -> dict[tuple[int, str], UtilityAccount]:
    found: dict[tuple[int, str], UtilityAccount] = {}
    for chunk in chunks(sorted({n for n in numbers if n})):
        for account in db.session.scalars(
            select(UtilityAccount).where(UtilityAccount.customer_number.in_(chunk))
        ):
            found[(account.creditor_id, account.customer_number)] = account
    return found


def statements(account_ids: list[int]) -> dict[tuple[int, str], Arrear]:
    """The statements of the accounts that count (a voided one may come again, corrected)."""
    found: dict[tuple[int, str], Arrear] = {}
    for chunk in chunks(sorted(set(account_ids))):
        for arrear in db.session.scalars(
            select(Arrear).where(Arrear.account_id.in_(chunk), Arrear.voided_on.is_(None))
        ):
            found.setdefault((arrear.account_id, arrear.statement_ref), arrear)
    return found


@dataclass
class Ledger:
    """What the register holds of a statement file's customer numbers, people and statements,
    and the statements the file has given so far."""

    programme: Programme
    accounts: dict[tuple[int, str], UtilityAccount]
    people: dict[str, tuple[int, int]]
    enrolled: dict[int, int]
    statements: dict[tuple[int, str], Arrear]
    seen: dict[tuple[int, str, str], int] = field(default_factory=dict)

    @classmethod
    def load(cls, programme: Programme, rows: list[Row]) -> Ledger:
        found = accounts([(row.values.get("customer_number") or "").strip() for row in rows])
        people = registered_people(
            [national_id(row) for row in rows if row.values.get("national_id")]
        )
        household_ids = [a.household_id for a in found.values()]
        household_ids += [h for h, _m in people.values()]
        return cls(
            programme=programme,
            accounts=found,
            people=people,
            enrolled=open_enrollments(household_ids, programme_id=programme.id),
            statements=statements([a.id for a in found.values()]),
        )

    def note(self, statement: Statement) -> None:
        """Remember the statement; the same one on an earlier row is a mismatch."""
        if statement.key in self.seen:
            raise Mismatch(
                "statement_ref",
                _("The same statement is on row %(line)d.", line=self.seen[statement.key]),
            )
        self.seen[statement.key] = statement.row.line

    def account_of(self, statement: Statement) -> tuple[UtilityAccount | None, int]:
        """The customer number's account (None when it is new) and its household, which must
        be of the programme's municipality and enrolled in the programme."""
        account = self.accounts.get((statement.creditor.id, statement.number))
        if account is None:
            household_id = self._household_by_member(statement)
        elif account.household.municipality_id != self.programme.municipality_id:
            raise Mismatch(
                "customer_number",
                _("This customer number belongs to a household of another municipality."),
            )
        else:
            household_id = account.household_id
        if self.enrolled.get(household_id) != self.programme.id:
            raise Mismatch(
                "customer_number",
                _("The household of this customer number is not enrolled in this programme."),
            )
        return account, household_id

    def _household_by_member(self, statement: Statement) -> int:
        """A new customer number is registered on the household of the member it names."""
        number = national_id(statement.row)
        if not number:
            creditor = statement.creditor
            raise Mismatch(
                "customer_number",
                _(
                    "This customer number is not registered at %(creditor)s: register it "
                    "on the household, or add a household member's national ID to the row.",
                    creditor=creditor.short_name or creditor.name,
                ),
            )
        if number not in self.people or self.people[number][1] != self.programme.municipality_id:
            raise Mismatch(
                "national_id",
                _("Nobody with this national ID is registered in this municipality."),
            )
        return self.people[number][0]

    def recorded(self, account: UtilityAccount, statement: Statement) -> bool:
        """Whether the statement is recorded already with the same figures (then unchanged).
        Recorded with others, the service refuses it as it refuses the form's (a statement is
        stored once; a wrong one is voided or replaced on the household's money page)."""
        stored = self.statements.get((account.id, statement.reference))
        if stored is None or statement.data is None:
            return False
        data = statement.data
        figures = (data.period_from, data.period_to, data.principal_deni, data.penalty_deni)
        return (
            stored.period_from,
            stored.period_to,
            stored.principal_deni,
            stored.penalty_deni,
        ) == figures

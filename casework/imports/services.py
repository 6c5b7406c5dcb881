"""Importing families and debts from the lists municipalities and utilities already keep.

Each household (its rows) or statement (its row) is applied through the very services the
forms call — households, enrollment, payments — inside a savepoint, so a bad row is reported
with the service's own message while the other rows are still checked. The whole import runs
inside one more savepoint: a dry run always rolls it back, and a real import keeps it only
when no row failed. All or nothing, and nothing checked twice in two different ways.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text, update

from casework import labels
from casework.audit.services import record
from casework.config import LOCALES
from casework.db import utcnow
from casework.enrollment import services as enrollment_services
from casework.enrollment.models import OPEN_STATUSES, Enrollment
from casework.errors import ConflictError, DomainError, PermissionDenied, ValidationError
from casework.extensions import db
from casework.formatting import parse_day, parse_money
from casework.households import services as household_services
from casework.households.models import Household, Member, Relation
from casework.i18n import language_name
from casework.imports.files import Column, Table, map_columns, normalise_header, read_table
from casework.imports.models import ImportUpload, Kind
from casework.jobs import services as jobs
from casework.jobs.models import Job, JobKind
from casework.jobs.services import Outcome, Progress
from casework.organizations.models import Organization, OrganizationKind
from casework.payments import services as payment_services
from casework.payments.models import Arrear, UtilityAccount
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import User

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"
_CHUNK = 500  # values per IN (...): well under SQLite's limit on bound parameters

HOUSEHOLD_COLUMNS = (
    Column(
        "household",
        _l("Household no."),
        True,
        ("household", "family", "household no", "домаќинство", "семејство", "бр домаќинство"),
        _l("Any number or code; the rows of one family share it."),
    ),
    Column(
        "relation",
        _l("Relation to the head"),
        True,
        ("relation", "сродство", "однос", "lidhja"),
        _l("head, spouse, child, parent, sibling, grandchild, grandparent or other"),
    ),
    Column("first_name", _l("First name"), True, ("first name", "name", "име", "emri")),
    Column("last_name", _l("Last name"), True, ("last name", "surname", "презиме", "mbiemri")),
    Column(
        "national_id",
        _l("National ID (ЕМБГ)"),
        False,
        ("national id", "embg", "ембг", "матичен број", "emso"),
        _l("13 digits. Used to find people already registered."),
    ),
    Column(
        "birth_date",
        _l("Birth date"),
        False,
        ("birth date", "date of birth", "датум на раѓање", "datelindja"),
        _l("23.11.2026, 2026-11-23 or 23/11/2026; read from the national ID when empty."),
    ),
    Column(
        "sex",
        _l("Sex"),
        False,
        ("sex", "gender", "пол", "gjinia"),
        _l("F or M; read from the national ID when empty."),
    ),
    Column(
        "address",
        _l("Address"),
        False,
        ("address", "адреса", "adresa"),
        _l("Needed on the head's row."),
    ),
    Column(
        "settlement",
        _l("Settlement or neighbourhood"),
        False,
        ("settlement", "населба", "населено место", "lagjja"),
    ),
    Column("phone", _l("Phone"), False, ("phone", "телефон", "telefoni")),
    Column(
        "language",
        _l("Language for letters and statements"),
        False,
        ("language", "јазик", "gjuha"),
        _l("mk, sq or en; the municipality's language when empty."),
    ),
    Column(
        "applied_on",
        _l("Applied on"),
        False,
        ("applied on", "application date", "датум на барање", "барање поднесено"),
        _l("The day the application was made; today when empty."),
    ),
)

ARREAR_COLUMNS = (
    Column(
        "creditor",
        _l("Creditor"),
        True,
        ("creditor", "utility", "доверител", "претпријатие", "kreditori"),
        _l("The creditor's name or short name, as registered in casework."),
    ),
    Column(
        "customer_number",
        _l("Customer number"),
        True,
        ("customer number", "customer no", "шифра на потрошувач", "број на потрошувач"),
    ),
    Column(
        "national_id",
        _l("National ID (ЕМБГ)"),
        False,
        ("national id", "embg", "ембг", "матичен број"),
        _l("Of a household member: registers a customer number casework does not know yet."),
    ),
    Column(
        "period_from",
        _l("Debt period from"),
        True,
        ("period from", "from", "период од", "од"),
    ),
    Column("period_to", _l("Debt period to"), True, ("period to", "to", "период до", "до")),
    Column(
        "principal",
        _l("Principal (ден.)"),
        True,
        ("principal", "debt", "главен долг", "долг", "главница"),
        _l("In denars, as on the bill: 15.000,00"),
    ),
    Column(
        "penalty",
        _l("Penalty interest (ден.)"),
        False,
        ("penalty", "interest", "камата", "казнена камата"),
    ),
    Column(
        "statement_ref",
        _l("Statement or invoice number"),
        True,
        ("statement", "statement no", "invoice", "фактура", "број на фактура", "опомена"),
        _l("A statement is imported once: the same number again is recognised."),
    ),
    Column(
        "received_on",
        _l("Received on"),
        False,
        ("received on", "received", "примено", "датум на прием"),
        _l("Today when empty."),
    ),
)

COLUMNS: dict[str, tuple[Column, ...]] = {
    Kind.HOUSEHOLDS: HOUSEHOLD_COLUMNS,
    Kind.ARREARS: ARREAR_COLUMNS,
}


@dataclass
class RowResult:
    """What happens to one row of the file: the action, on what, what changes, and why not."""

    line: int
    action: str = UNCHANGED
    subject: str = ""
    changes: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # column key ("" for the row) → reason

    def fail(self, column: str, message: str) -> None:
        self.errors.setdefault(column, message)
        self.action = ERROR


@dataclass
class ImportReport:
    kind: str
    filename: str
    sha256: str
    rows: list[RowResult] = field(default_factory=list)
    dry_run: bool = True
    imported: bool = False

    @property
    def ok(self) -> bool:
        return not any(r.action == ERROR for r in self.rows)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((CREATE, UPDATE, UNCHANGED, ERROR), 0)
        for row in self.rows:
            counts[row.action] += 1
        return counts

    @property
    def changes_anything(self) -> bool:
        return any(r.action in (CREATE, UPDATE) for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "counts": self.counts}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportReport:
        rows = [RowResult(**row) for row in data.get("rows", [])]
        values = {k: data[k] for k in ("kind", "filename", "sha256", "dry_run", "imported")}
        return cls(rows=rows, **values)


def checksum(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def run_import(
    actor: User,
    programme: Programme,
    kind: str,
    filename: str,
    content: bytes,
    *,
    dry_run: bool,
    today: date,
    max_bytes: int,
    max_rows: int,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check every row of the file and apply it; keep the result only for a real import in
    which no row failed. A file that cannot be read at all raises ValidationError("file")."""
    if not policies.can_import(actor, programme):
        raise PermissionDenied()
    if kind not in COLUMNS:
        raise ValidationError(_("Choose what the file holds."), "kind")
    _check_size(content, max_bytes)
    table = read_table(filename, content, max_rows=max_rows)
    positions = map_columns(COLUMNS[kind], table.headers)
    report = ImportReport(kind=kind, filename=filename, sha256=checksum(content), dry_run=dry_run)
    whole = db.session.begin_nested()
    try:
        importer = _import_households if kind == Kind.HOUSEHOLDS else _import_arrears
        report.rows = importer(
            actor,
            programme,
            _rows(table, positions),
            today=today,
            progress=_refreshing_statistics(progress or _quiet),
        )
    except BaseException:
        whole.rollback()
        raise
    if dry_run or not report.ok:
        whole.rollback()
        return report
    whole.commit()
    if report.changes_anything:
        report.imported = True
        record(
            actor,
            f"import.{kind}",
            "programme",
            programme.id,
            municipality_id=programme.municipality_id,
            changes={
                "file": filename,
                "sha256": report.sha256,
                "rows": len(report.rows),
                "counts": report.counts,
            },
        )
    return report


def _check_size(content: bytes, max_bytes: int) -> None:
    if len(content) > max_bytes:
        raise ValidationError(
            _(
                "The file is larger than %(mb)s MB: split it into smaller files.",
                mb=f"{max_bytes / 1_000_000:g}",
            ),
            "file",
        )


def _quiet(rows_done: int) -> None:
    pass


# The tables an import fills, whose statistics the planner needs while it fills them.
_FILLED = (
    "households",
    "members",
    "enrollments",
    "enrollment_events",
    "duplicate_reviews",
    "utility_accounts",
    "arrears",
    "audit_events",
)
ANALYZE_EVERY_ROWS = 1_000


def _refreshing_statistics(progress: Callable[[int], None]) -> Callable[[int], None]:
    """PostgreSQL plans each lookup from the table's statistics, which an import that fills
    the table in one transaction leaves behind: a table last seen empty (after a rolled-back
    dry run, say) is planned as one row, and every lookup then scans all the rows added so far.
    ANALYZE inside the transaction counts its own new rows; every thousand rows keeps the plans
    on the indexes. SQLite plans without such statistics."""
    if db.session.get_bind().dialect.name != "postgresql":
        return progress
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        before, done = done, done + rows
        if before // ANALYZE_EVERY_ROWS != done // ANALYZE_EVERY_ROWS:
            db.session.execute(text(f"ANALYZE {', '.join(_FILLED)}"))
        progress(rows)

    return advance


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    result: RowResult


def _rows(table: Table, positions: dict[str, int]) -> list[_Row]:
    rows = []
    for line, cells in table.rows:
        values = {
            key: (cells[index] if index < len(cells) else "") for key, index in positions.items()
        }
        row = _Row(line, values, RowResult(line))
        for key, value in values.items():
            if value.startswith("="):
                # A formula is not data: its value depends on the file it came from.
                row.result.fail(key, _("A formula is not accepted here: paste the value."))
        rows.append(row)
    return rows


def _day(row: _Row, key: str, default: date | None = None) -> date | None:
    raw = row.values.get(key, "")
    if not raw:
        return default
    try:
        return parse_day(raw)
    except ValueError:
        row.result.fail(key, _("Write the date as 23.11.2026, 2026-11-23 or 23/11/2026."))
        return None


def _money(row: _Row, key: str) -> int | None:
    raw = row.values.get(key, "")
    if not raw:
        return 0 if key == "penalty" else None
    try:
        return parse_money(raw)
    except ValueError:
        row.result.fail(key, _("Write the amount in denars, such as 15.000,00."))
        return None


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _field_to_column(error: DomainError, columns: set[str], fallback: str) -> str:
    return error.field if error.field in columns else fallback


# --- households ----------------------------------------------------------------------------


def _vocabulary(table: dict[str, Any], extra: dict[str, str]) -> dict[str, str]:
    """Codes and their labels in every language → code, so ``Дете`` and ``child`` both work."""
    words = {normalise_header(k): k for k in table}
    for locale in LOCALES:
        with force_locale(locale):
            words.update({normalise_header(str(label)): code for code, label in table.items()})
    words.update({normalise_header(k): v for k, v in extra.items()})
    return words


_RELATION_WORDS = {
    "носител": "head",
    "носител на домаќинство": "head",
    "глава": "head",
    "сопруга": "spouse",
    "сопруг": "spouse",
    "син": "child",
    "ќерка": "child",
    "дете": "child",
    "родител": "parent",
    "мајка": "parent",
    "татко": "parent",
    "брат": "sibling",
    "сестра": "sibling",
    "внук": "grandchild",
    "внука": "grandchild",
    "баба": "grandparent",
    "дедо": "grandparent",
    "друго": "other",
    "kryefamiljar": "head",
    "bashkëshort": "spouse",
    "bashkëshorte": "spouse",
    "fëmijë": "child",
    "prind": "parent",
    "vëlla": "sibling",
    "motër": "sibling",
    "nip": "grandchild",
    "mbesë": "grandchild",
    "gjysh": "grandparent",
    "gjyshe": "grandparent",
    "tjetër": "other",
}
_SEX_WORDS = {
    "ж": "F",
    "женски": "F",
    "f": "F",
    "femër": "F",
    "м": "M",
    "машки": "M",
    "m": "M",
    "mashkull": "M",
}


@dataclass
class _Person:
    row: _Row
    data: household_services.MemberData


def _parse_household_row(
    row: _Row,
    relations: dict[str, str],
    sexes: dict[str, str],
    languages: dict[str, str],
    today: date,
) -> _Person | None:
    """The row as member data, checked by the same rules as the member form."""
    values = row.values
    relation = relations.get(normalise_header(values.get("relation", "")))
    if relation is None:
        row.result.fail(
            "relation",
            _(
                "Unknown relation “%(value)s”: use head, spouse, child, parent, sibling, "
                "grandchild, grandparent or other.",
                value=values.get("relation", ""),
            ),
        )
    sex: str | None = None
    if values.get("sex"):
        sex = sexes.get(normalise_header(values["sex"]))
        if sex is None:
            row.result.fail("sex", _("Write the sex as F or M."))
    if values.get("language") and normalise_header(values["language"]) not in languages:
        row.result.fail("language", _("Choose one of the offered languages."))
    birth_date = _day(row, "birth_date")
    if row.result.errors:
        return None
    data = household_services.MemberData(
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
        birth_date=birth_date,
        sex=sex,
        relation=relation or Relation.OTHER.value,
        national_id=values.get("national_id") or None,
    )
    try:
        household_services.check_member(data, today=today)
    except ValidationError as error:
        row.result.fail(error.field or "", error.message)
        return None
    return _Person(row, data)


def _import_households(
    actor: User,
    programme: Programme,
    rows: list[_Row],
    *,
    today: date,
    progress: Callable[[int], None],
) -> list[RowResult]:
    relations = _vocabulary(labels.RELATION_LABELS, _RELATION_WORDS)
    sexes = _vocabulary(labels.SEX_LABELS, _SEX_WORDS)
    languages = _language_codes()
    columns = {c.key for c in HOUSEHOLD_COLUMNS}

    families: dict[str, list[_Row]] = {}
    seen_ids: dict[str, int] = {}
    for row in rows:
        key = row.values.get("household", "")
        if not key:
            row.result.fail("household", _("Give every row the number of its household."))
        families.setdefault(key, []).append(row)
        national_id = "".join(row.values.get("national_id", "").split())
        if national_id:
            row.values["national_id"] = national_id
            if national_id in seen_ids:
                row.result.fail(
                    "national_id",
                    _("The same national ID is on row %(line)d.", line=seen_ids[national_id]),
                )
            else:
                seen_ids[national_id] = row.line

    registered = _registered_people(list(seen_ids))
    open_enrollments = _open_enrollments(
        [hid for hid, _m in registered.values()], programme_id=None
    )
    for key, family in families.items():
        progress(len(family))
        if not key:
            continue
        people = [_parse_household_row(r, relations, sexes, languages, today) for r in family]
        failed = [row for row in family if row.result.errors]
        if failed:
            _fail_family(family, failed[0])
            continue
        heads = [p for p in people if p is not None and p.data.relation == Relation.HEAD]
        known = {
            registered[p.data.national_id]
            for p in people
            if p is not None and p.data.national_id in registered
        }
        if len({hid for hid, _m in known}) > 1:
            _fail_row(
                family, "national_id", _("These people are registered in different households.")
            )
            continue
        existing_id, municipality_id = next(iter(known)) if known else (None, None)
        if existing_id is not None and municipality_id != programme.municipality_id:
            row = next(p.row for p in people if p and p.data.national_id in registered)
            row.result.fail(
                "national_id", _("This national ID is already registered for another person.")
            )
            _fail_family(family, row)
            continue
        if existing_id is None and len(heads) != 1:
            _fail_row(
                family,
                "relation",
                _("A new household needs exactly one row with the relation “head”."),
            )
            continue
        at = [family[0]]  # the row being applied, to report a refusal where it belongs
        savepoint = db.session.begin_nested()
        try:
            if existing_id is None:
                _create_family(actor, programme, [p for p in people if p], today, at)
            else:
                _update_family(
                    actor,
                    programme,
                    db.session.get_one(Household, existing_id),
                    [p for p in people if p],
                    open_enrollments.get(existing_id),
                    today,
                    at,
                )
        except DomainError as error:
            savepoint.rollback()
            at[0].result.fail(_field_to_column(error, columns, "household"), error.message)
            _fail_family(family, at[0])
            continue
        savepoint.commit()
    return [row.result for row in rows]


def _fail_row(family: list[_Row], column: str, message: str) -> None:
    family[0].result.fail(column, message)
    _fail_family(family, family[0])


def _fail_family(family: list[_Row], culprit: _Row) -> None:
    for row in family:
        if row is not culprit and not row.result.errors:
            row.result.fail(
                "household",
                _("Not imported: row %(line)d of this household has an error.", line=culprit.line),
            )


def _registered_people(national_ids: list[str]) -> dict[str, tuple[int, int]]:
    """National ID → (household, municipality) for the people of the file already registered."""
    found: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(national_ids):
        for number, household_id, municipality_id in db.session.execute(
            select(Member.national_id, Member.household_id, Household.municipality_id)
            .join(Household, Household.id == Member.household_id)
            .where(Member.national_id.in_(chunk))
        ):
            if number is not None:
                found[number] = (household_id, municipality_id)
    return found


def _open_enrollments(household_ids: list[int], programme_id: int | None) -> dict[int, int]:
    """Household → the programme of its open enrollment."""
    found: dict[int, int] = {}
    for chunk in _chunks(sorted(set(household_ids))):
        query = select(Enrollment.household_id, Enrollment.programme_id).where(
            Enrollment.household_id.in_(chunk), Enrollment.status.in_(OPEN_STATUSES)
        )
        if programme_id is not None:
            query = query.where(Enrollment.programme_id == programme_id)
        found.update({household: programme for household, programme in db.session.execute(query)})
    return found


def _language_codes() -> dict[str, str]:
    """``mk``, ``sq``, ``en`` and each language's own name (``Македонски``) → the code."""
    codes = {normalise_header(code): code for code in LOCALES}
    codes.update({normalise_header(language_name(code)): code for code in LOCALES})
    return codes


def _household_data(head: _Row, municipality_locale: str) -> household_services.HouseholdData:
    language = normalise_header(head.values.get("language", ""))
    codes = _language_codes()
    return household_services.HouseholdData(
        address=head.values.get("address", ""),
        settlement=head.values.get("settlement", ""),
        phone=head.values.get("phone", ""),
        language=codes.get(language, municipality_locale),
    )


def _applied_on(row: _Row, today: date) -> date:
    day = _day(row, "applied_on", today)
    if day is None:
        raise ValidationError(row.result.errors["applied_on"], "applied_on")
    return day


def _create_family(
    actor: User, programme: Programme, people: list[_Person], today: date, at: list[_Row]
) -> None:
    """Register the household with its head, then the others, then its application."""
    head = next(p for p in people if p.data.relation == Relation.HEAD)
    municipality = programme.municipality
    at[0] = head.row
    household = household_services.create_household(
        actor,
        municipality,
        _household_data(head.row, municipality.default_locale),
        head.data,
        today=today,
    )
    for person in people:
        at[0] = person.row
        if person is not head:
            household_services.add_member(actor, household, person.data, today=today)
        person.row.result.action = CREATE
        person.row.result.subject = f"{person.data.first_name} {person.data.last_name}"
    at[0] = head.row
    _apply(actor, household, programme, head.row, today)


def _apply(actor: User, household: Household, programme: Programme, row: _Row, today: date) -> None:
    try:
        enrollment_services.apply(
            actor, household, programme, applied_on=_applied_on(row, today), today=today
        )
    except DomainError as error:
        error.field = error.field if error.field == "applied_on" else "household"
        raise
    row.result.changes.append(str(_("application to the programme")))


def _update_family(
    actor: User,
    programme: Programme,
    household: Household,
    people: list[_Person],
    open_programme: int | None,
    today: date,
    at: list[_Row],
) -> None:
    """Bring a registered household in line with the file: changed fields are updated through
    the services (and audited), new members added, an application made if none is open.
    An empty cell keeps what is stored."""
    head_row = next((p.row for p in people if p.data.relation == Relation.HEAD), people[0].row)
    at[0] = head_row
    by_id = {m.national_id: m for m in household.members if m.national_id}
    by_name = {
        (m.first_name.casefold(), m.last_name.casefold(), m.birth_date): m
        for m in household.members
    }
    if head_row.values.get("address"):
        given = _household_data(head_row, household.language)
        wanted = household_services.HouseholdData(
            address=given.address,
            settlement=given.settlement or household.settlement,
            phone=given.phone or household.phone,
            language=given.language if head_row.values.get("language") else household.language,
            consent_on=household.consent_on,
        )
        changed = [
            name
            for name in ("address", "settlement", "phone", "language")
            if _differs(getattr(wanted, name), getattr(household, name))
        ]
        if changed:
            household_services.update_household(actor, household, wanted)
            head_row.result.action = UPDATE
            head_row.result.changes.extend(changed)
    for person in people:
        at[0] = person.row
        data = person.data
        result = person.row.result
        result.subject = f"{household.case_number} · {data.first_name} {data.last_name}"
        member = by_id.get(data.national_id or "")
        if member is None and data.birth_date is not None:
            key = (data.first_name.strip().casefold(), data.last_name.strip().casefold())
            member = by_name.get((*key, data.birth_date))
        if member is None:
            household_services.add_member(actor, household, data, today=today)
            result.action = CREATE
            continue
        wanted_member = household_services.MemberData(
            first_name=data.first_name,
            last_name=data.last_name,
            birth_date=data.birth_date or member.birth_date,
            sex=data.sex or member.sex,
            relation=data.relation,
            national_id=data.national_id or member.national_id,
        )
        changed = [
            name
            for name in ("first_name", "last_name", "birth_date", "sex", "relation", "national_id")
            if _differs(getattr(wanted_member, name), getattr(member, name))
        ]
        if changed:
            household_services.update_member(actor, member, wanted_member, today=today)
            result.action = UPDATE
            result.changes.extend(changed)
    at[0] = head_row
    if open_programme is None:
        _apply(actor, household, programme, head_row, today)
        if head_row.result.action == UNCHANGED:
            head_row.result.action = UPDATE
    elif open_programme != programme.id:
        raise ValidationError(
            _("This household has an open enrollment in another programme."), "household"
        )


def _differs(wanted: Any, stored: Any) -> bool:
    if isinstance(wanted, str) and isinstance(stored, str):
        return wanted.strip() != stored.strip()
    return bool(wanted != stored)


# --- arrears -------------------------------------------------------------------------------


def _import_arrears(
    actor: User,
    programme: Programme,
    rows: list[_Row],
    *,
    today: date,
    progress: Callable[[int], None],
) -> list[RowResult]:
    columns = {c.key for c in ARREAR_COLUMNS}
    creditors: dict[str, Organization] = {}
    for known in db.session.scalars(
        select(Organization).where(Organization.kind == OrganizationKind.CREDITOR.value)
    ):
        for name in (known.name, known.short_name):
            if name:
                creditors.setdefault(normalise_header(name), known)

    accounts = _accounts([(row.values.get("customer_number") or "").strip() for row in rows])
    people = _registered_people(
        [
            "".join(row.values.get("national_id", "").split())
            for row in rows
            if row.values.get("national_id")
        ]
    )
    household_ids = [a.household_id for a in accounts.values()] + [h for h, _m in people.values()]
    enrolled = _open_enrollments(household_ids, programme_id=programme.id)
    statements = _statements([a.id for a in accounts.values()])
    seen: dict[tuple[int, str, str], int] = {}

    for row in rows:
        progress(1)
        result = row.result
        values = row.values
        creditor = creditors.get(normalise_header(values.get("creditor", "")))
        if creditor is None:
            result.fail(
                "creditor",
                _(
                    "Unknown creditor “%(name)s”: an administrator registers creditors first.",
                    name=values.get("creditor", ""),
                ),
            )
        number = values.get("customer_number", "").strip()
        if not number:
            result.fail("customer_number", _("Enter the customer number."))
        period_from = _day(row, "period_from")
        period_to = _day(row, "period_to")
        received_on = _day(row, "received_on", today)
        principal = _money(row, "principal")
        penalty = _money(row, "penalty")
        reference = values.get("statement_ref", "").strip()
        if not reference:
            result.fail("statement_ref", _("Enter the statement or invoice number."))
        if result.errors or creditor is None:
            continue
        key = (creditor.id, number, reference)
        if key in seen:
            result.fail(
                "statement_ref", _("The same statement is on row %(line)d.", line=seen[key])
            )
            continue
        seen[key] = row.line
        if not (period_from and period_to and received_on) or principal is None or penalty is None:
            continue  # unreachable: each of these failed the row above
        data = payment_services.ArrearData(
            period_from=period_from,
            period_to=period_to,
            principal_deni=principal,
            penalty_deni=penalty,
            statement_ref=reference,
            received_on=received_on,
        )
        account = accounts.get((creditor.id, number))
        household_id = account.household_id if account else None
        if account is None:
            national_id = "".join(values.get("national_id", "").split())
            if not national_id:
                result.fail(
                    "customer_number",
                    _(
                        "This customer number is not registered at %(creditor)s: register it "
                        "on the household, or add a household member's national ID to the row.",
                        creditor=creditor.short_name or creditor.name,
                    ),
                )
                continue
            if national_id not in people or people[national_id][1] != programme.municipality_id:
                result.fail(
                    "national_id",
                    _("Nobody with this national ID is registered in this municipality."),
                )
                continue
            household_id = people[national_id][0]
        elif account.household.municipality_id != programme.municipality_id:
            result.fail(
                "customer_number",
                _("This customer number belongs to a household of another municipality."),
            )
            continue
        if enrolled.get(household_id or 0) != programme.id:
            result.fail(
                "customer_number",
                _("The household of this customer number is not enrolled in this programme."),
            )
            continue
        if account is not None:
            stored = statements.get((account.id, reference))
            if stored is not None:
                if (
                    stored.period_from,
                    stored.period_to,
                    stored.principal_deni,
                    stored.penalty_deni,
                ) == (
                    period_from,
                    period_to,
                    principal,
                    penalty,
                ):
                    result.subject = f"{account.household.case_number} · {reference}"
                    continue  # the same statement again: unchanged
                result.fail(
                    "statement_ref",
                    _(
                        "This statement is already recorded with other figures: a correction "
                        "comes as a new statement with its own number."
                    ),
                )
                continue
        savepoint = db.session.begin_nested()
        try:
            if account is None:
                household = db.session.get_one(Household, household_id)
                account = payment_services.open_account(actor, household, creditor, number)
                accounts[(creditor.id, number)] = account
                result.changes.append(str(_("new customer number")))
            payment_services.record_arrear(actor, account, data, today=today)
        except DomainError as error:
            savepoint.rollback()
            result.fail(_field_to_column(error, columns, "statement_ref"), error.message)
            continue
        savepoint.commit()
        result.action = CREATE
        result.subject = f"{account.household.case_number} · {reference}"
    return [row.result for row in rows]


def _accounts(numbers: list[str]) -> dict[tuple[int, str], UtilityAccount]:
    found: dict[tuple[int, str], UtilityAccount] = {}
    for chunk in _chunks(sorted({n for n in numbers if n})):
        for account in db.session.scalars(
            select(UtilityAccount).where(UtilityAccount.customer_number.in_(chunk))
        ):
            found[(account.creditor_id, account.customer_number)] = account
    return found


def _statements(account_ids: list[int]) -> dict[tuple[int, str], Arrear]:
    found: dict[tuple[int, str], Arrear] = {}
    for chunk in _chunks(sorted(set(account_ids))):
        for arrear in db.session.scalars(select(Arrear).where(Arrear.account_id.in_(chunk))):
            found.setdefault((arrear.account_id, arrear.statement_ref), arrear)
    return found


def template_csv(kind: str) -> str:
    """The header row of an import template, in the user's language, for Excel (BOM, ';')."""
    return "\ufeff" + ";".join(str(c.label) for c in COLUMNS[kind]) + "\r\n"


def error_rows_csv(table: Table, report: ImportReport) -> str:
    """The failed rows as they came, plus a column saying what to fix, to correct and re-import."""
    import csv
    import io

    failed = {r.line: r for r in report.rows if r.action == ERROR}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([*table.headers, str(_("Error"))])
    titles = {c.key: str(c.label) for c in COLUMNS[report.kind]}
    for line, cells in table.rows:
        result = failed.get(line)
        if result is None:
            continue
        reasons = "; ".join(
            f"{titles.get(column, str(_('Row')))}: {message}" if column else message
            for column, message in result.errors.items()
        )
        writer.writerow([*(_defuse(c) for c in cells), f"{_('Row')} {line}: {reasons}"])
    return "\ufeff" + out.getvalue()


def _defuse(cell: str) -> str:
    """A cell starting with = + - @ would run as a formula when the error file is opened."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def stored_count(kind: str, programme: Programme) -> int:
    """How many records of the kind the programme's municipality holds (for the page)."""
    if kind == Kind.HOUSEHOLDS:
        query = select(func.count(Household.id)).where(
            Household.municipality_id == programme.municipality_id
        )
    else:
        query = (
            select(func.count(Arrear.id))
            .join(UtilityAccount, UtilityAccount.id == Arrear.account_id)
            .join(Household, Household.id == UtilityAccount.household_id)
            .where(Household.municipality_id == programme.municipality_id)
        )
    return db.session.scalar(query) or 0


# --- uploads between the dry run and the import -----------------------------------------------


def store_upload(
    actor: User, programme: Programme, report: ImportReport, content: bytes
) -> ImportUpload:
    """Keep the file and its dry run until the user confirms. The same person's older files
    for the programme are dropped: only the newest can still be imported."""
    return _keep(actor, programme, report.kind, report.filename, content, report.to_json())


def store_unchecked_upload(
    actor: User, programme: Programme, kind: str, filename: str, content: bytes, *, max_bytes: int
) -> ImportUpload:
    """Keep a large file for the worker to check (the report comes with the job)."""
    if kind not in COLUMNS:
        raise ValidationError(_("Choose what the file holds."), "kind")
    _check_size(content, max_bytes)
    return _keep(actor, programme, kind, filename, content, {})


def _keep(
    actor: User,
    programme: Programme,
    kind: str,
    filename: str,
    content: bytes,
    report: dict[str, Any],
) -> ImportUpload:
    if not policies.can_import(actor, programme):
        raise PermissionDenied()
    db.session.execute(
        update(ImportUpload)
        .where(
            ImportUpload.uploaded_by_id == actor.id,
            ImportUpload.programme_id == programme.id,
            ImportUpload.content.is_not(None),
        )
        .values(content=None)
    )
    upload = ImportUpload(
        programme_id=programme.id,
        kind=kind,
        filename=filename[:200],
        sha256=checksum(content),
        size_bytes=len(content),
        content=content,
        uploaded_by_id=actor.id,
        report=report,
    )
    db.session.add(upload)
    db.session.flush()
    return upload


def import_upload(
    actor: User,
    upload: ImportUpload,
    *,
    today: date,
    max_bytes: int,
    max_rows: int,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """The real import of a file whose dry run the user has seen. The rows are checked again
    (the register may have changed since): any failure and nothing is written."""
    if upload.imported_at is not None or upload.content is None:
        raise ConflictError(_("This file has been imported already, or replaced by a newer one."))
    report = run_import(
        actor,
        upload.programme,
        upload.kind,
        upload.filename,
        upload.content,
        dry_run=False,
        today=today,
        max_bytes=max_bytes,
        max_rows=max_rows,
        progress=progress,
    )
    upload.report = report.to_json()
    if report.ok:
        upload.imported_at = utcnow()
        upload.content = None  # personal data from the file is now in the register, or unneeded
    db.session.flush()
    return report


def describe_import(report: ImportReport) -> tuple[str, str]:
    """What a real import tells the person who started it (a message and its kind)."""
    counts = report.counts
    if not report.ok:
        return (
            _(
                "Nothing was imported: %(n)d rows have errors now. Correct them and try again.",
                n=counts["error"],
            ),
            "error",
        )
    if report.imported:
        return (
            _(
                "Imported: %(created)d rows created, %(updated)d updated, %(unchanged)d unchanged.",
                created=counts["create"],
                updated=counts["update"],
                unchanged=counts["unchanged"],
            ),
            "success",
        )
    return _("Every row matches what is stored already: nothing changed."), "info"


def _job_upload(job: Job, progress: Progress) -> ImportUpload:
    upload = db.session.get_one(ImportUpload, job.params["upload_id"])
    if upload.content is None:
        raise ConflictError(_("This file has been imported already, or replaced by a newer one."))
    rows = read_table(upload.filename, upload.content, max_rows=job.params["max_rows"]).rows
    progress.set_total(len(rows))
    return upload


@jobs.handler(JobKind.IMPORT_CHECK)
def check_upload_job(job: Job, progress: Progress) -> Outcome:
    """The dry run of a large upload, as the page runs it for a small one."""
    upload = _job_upload(job, progress)
    report = run_import(
        job.requested_by,
        upload.programme,
        upload.kind,
        upload.filename,
        upload.content or b"",
        dry_run=True,
        today=date.fromisoformat(job.params["today"]),
        max_bytes=job.params["max_bytes"],
        max_rows=job.params["max_rows"],
        progress=progress.advance,
    )
    upload.report = report.to_json()
    return Outcome(_("The file has been checked."), "imports.report", {"upload_id": upload.id})


@jobs.handler(JobKind.IMPORT_APPLY)
def apply_upload_job(job: Job, progress: Progress) -> Outcome:
    """The real import of a large upload: every row or none, like the page's."""
    upload = _job_upload(job, progress)
    report = import_upload(
        job.requested_by,
        upload,
        today=date.fromisoformat(job.params["today"]),
        max_bytes=job.params["max_bytes"],
        max_rows=job.params["max_rows"],
        progress=progress.advance,
    )
    return Outcome(describe_import(report)[0], "imports.report", {"upload_id": upload.id})


def start_job(
    actor: User, upload: ImportUpload, kind: JobKind, *, today: date, max_bytes: int, max_rows: int
) -> Job:
    """Queue the check or the import of ``upload`` for the worker."""
    if not policies.can_import(actor, upload.programme) or upload.uploaded_by_id != actor.id:
        raise PermissionDenied()
    if kind is JobKind.IMPORT_APPLY and (upload.imported_at is not None or upload.content is None):
        raise ConflictError(_("This file has been imported already, or replaced by a newer one."))
    if upload.job is not None and not upload.job.finished:
        return upload.job  # asked twice (a double click): the same job
    upload.job = jobs.enqueue(
        actor,
        kind,
        {
            "upload_id": upload.id,
            "today": today.isoformat(),
            "max_bytes": max_bytes,
            "max_rows": max_rows,
        },
    )
    db.session.flush()
    return upload.job

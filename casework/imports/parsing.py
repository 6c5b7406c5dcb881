"""Reading an import file's rows into typed records, and the reasons a row cannot be read.

Nothing here looks at the register: a row is refused for what it says itself (a date that is
not one, an unknown relation), by the same rules as the forms; ``matching`` compares the
records with what is stored, ``applying`` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from casework import labels
from casework.bounds import MAX_AMOUNT_DENI, too_large_amount
from casework.config import LOCALES
from casework.errors import ValidationError
from casework.formatting import NoSuchDay, no_such_day, parse_day, parse_money
from casework.households import services as household_services
from casework.households.models import Relation
from casework.i18n import language_name
from casework.imports.files import Column, Table, normalise_header
from casework.imports.models import Kind
from casework.organizations.models import Organization
from casework.payments import services as payment_services
from casework.plain_text import control_refused, has_control

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"

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


def keys(columns: tuple[Column, ...]) -> set[str]:
    """The column keys a service's refusal may name (others are reported on a fallback)."""
    return {c.key for c in columns}


@dataclass
class Row:
    line: int
    values: dict[str, str]
    result: RowResult


def _column_label(key: str) -> str:
    return next(
        (str(c.label) for columns in COLUMNS.values() for c in columns if c.key == key), key
    )


def rows_of(table: Table, positions: dict[str, int]) -> list[Row]:
    """The file's rows by column key; a formula fails its cell at once."""
    rows = []
    for line, cells in table.rows:
        values = {
            key: (cells[index] if index < len(cells) else "") for key, index in positions.items()
        }
        row = Row(line, values, RowResult(line))
        for key, value in values.items():
            if value.startswith("="):
                # A formula is not data: its value depends on the file it came from.
                row.result.fail(key, _("A formula is not accepted here: paste the value."))
            elif has_control(value):
                # A NUL byte cannot be stored (PostgreSQL), the others are a broken file's.
                row.result.fail(key, control_refused(_column_label(key)))
        rows.append(row)
    return rows


def day(row: Row, key: str, default: date | None = None) -> date | None:
    raw = row.values.get(key, "")
    if not raw:
        return default
    try:
        return parse_day(raw)
    except NoSuchDay:
        row.result.fail(key, no_such_day(raw))
    except ValueError:
        row.result.fail(key, _("Write the date as 23.11.2026, 2026-11-23 or 23/11/2026."))
    return None


def money(row: Row, key: str) -> int | None:
    raw = row.values.get(key, "")
    if not raw:
        return 0 if key == "penalty" else None
    try:
        amount = parse_money(raw)
    except ValueError:
        row.result.fail(key, _("Write the amount in denars, such as 15.000,00."))
        return None
    if amount > MAX_AMOUNT_DENI:
        label = next(str(c.label) for c in ARREAR_COLUMNS if c.key == key)
        row.result.fail(key, too_large_amount(label))
        return None
    return amount


def national_id(row: Row) -> str:
    """The row's national ID without the spaces a spreadsheet lets in (``""`` when empty)."""
    return "".join(row.values.get("national_id", "").split())


# --- households ----------------------------------------------------------------------------


def vocabulary(table: dict[str, Any], extra: dict[str, str]) -> dict[str, str]:
    """Codes and their labels in every language → code, so ``Дете`` and ``child`` both work."""
    words = {normalise_header(k): k for k in table}
    for locale in LOCALES:
        with force_locale(locale):
            words.update({normalise_header(str(label)): code for code, label in table.items()})
    words.update({normalise_header(k): v for k, v in extra.items()})
    return words


RELATION_WORDS = {
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
SEX_WORDS = {
    "ж": "F",
    "женски": "F",
    "f": "F",
    "femër": "F",
    "м": "M",
    "машки": "M",
    "m": "M",
    "mashkull": "M",
}


def language_codes() -> dict[str, str]:
    """``mk``, ``sq``, ``en`` and each language's own name (``Македонски``) → the code."""
    codes = {normalise_header(code): code for code in LOCALES}
    codes.update({normalise_header(language_name(code)): code for code in LOCALES})
    return codes


@dataclass(frozen=True)
class Words:
    """The words a household file may use for a relation, a sex and a language (→ the code),
    made once per file."""

    relations: dict[str, str]
    sexes: dict[str, str]
    languages: dict[str, str]

    @classmethod
    def build(cls) -> Words:
        return cls(
            relations=vocabulary(labels.RELATION_LABELS, RELATION_WORDS),
            sexes=vocabulary(labels.SEX_LABELS, SEX_WORDS),
            languages=language_codes(),
        )


@dataclass
class Person:
    row: Row
    data: household_services.MemberData


def parse_household_row(row: Row, words: Words, today: date) -> Person | None:
    """The row as member data, checked by the same rules as the member form."""
    values = row.values
    relation = _relation(row, words)
    sex = _sex(row, words)
    if values.get("language") and normalise_header(values["language"]) not in words.languages:
        row.result.fail("language", _("Choose one of the offered languages."))
    birth_date = day(row, "birth_date")
    if row.result.errors:
        return None
    data = household_services.MemberData(
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
        birth_date=birth_date,
        sex=sex,
        relation=relation or Relation.OTHER,
        national_id=values.get("national_id") or None,
    )
    try:
        household_services.check_member(data, today=today)
    except ValidationError as error:
        for name, message in error.errors:
            row.result.fail(name or "", message)
        return None
    return Person(row, data)


def _relation(row: Row, words: Words) -> str | None:
    relation = words.relations.get(normalise_header(row.values.get("relation", "")))
    if relation is None:
        row.result.fail(
            "relation",
            _(
                "Unknown relation “%(value)s”: use head, spouse, child, parent, sibling, "
                "grandchild, grandparent or other.",
                value=row.values.get("relation", ""),
            ),
        )
    return relation


def _sex(row: Row, words: Words) -> str | None:
    if not row.values.get("sex"):
        return None
    sex = words.sexes.get(normalise_header(row.values["sex"]))
    if sex is None:
        row.result.fail("sex", _("Write the sex as F or M."))
    return sex


def household_data(head: Row, municipality_locale: str) -> household_services.HouseholdData:
    """The household's own fields, from its head's row."""
    language = normalise_header(head.values.get("language", ""))
    codes = language_codes()
    return household_services.HouseholdData(
        address=head.values.get("address", ""),
        settlement=head.values.get("settlement", ""),
        phone=head.values.get("phone", ""),
        language=codes.get(language, municipality_locale),
    )


def applied_on(row: Row, today: date) -> date:
    """The day of the application (today when empty); a date that is not one refuses it."""
    applied = day(row, "applied_on", today)
    if applied is None:
        raise ValidationError(row.result.errors["applied_on"], "applied_on")
    return applied


# --- arrears -------------------------------------------------------------------------------


@dataclass
class Statement:
    """One creditor's statement of a customer number's debt, as the row gives it."""

    row: Row
    creditor: Organization
    number: str
    reference: str
    # None when a date or an amount was left empty: the row is then not recorded.
    data: payment_services.ArrearData | None

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.creditor.id, self.number, self.reference)


def parse_statement_row(
    row: Row, creditors: dict[str, Organization], today: date
) -> Statement | None:
    """The row as a statement, or None when a cell of it is refused."""
    values = row.values
    result = row.result
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
    reference = values.get("statement_ref", "").strip()
    data = _figures(row, reference, today)  # its cells are checked in the file's order
    if not reference:
        result.fail("statement_ref", _("Enter the statement or invoice number."))
    if result.errors or creditor is None:
        return None
    return Statement(row, creditor, number, reference, data)


def _figures(row: Row, reference: str, today: date) -> payment_services.ArrearData | None:
    """The statement's period, amounts and day of receipt."""
    period_from = day(row, "period_from")
    period_to = day(row, "period_to")
    received_on = day(row, "received_on", today)
    principal = money(row, "principal")
    penalty = money(row, "penalty")
    if not (period_from and period_to and received_on) or principal is None or penalty is None:
        return None
    return payment_services.ArrearData(
        period_from=period_from,
        period_to=period_to,
        principal_deni=principal,
        penalty_deni=penalty,
        statement_ref=reference,
        received_on=received_on,
    )

"""The household's rows, found by one walk over the model metadata (``household_parts``),
read as JSON-safe values, with readable names for what they point at.

Walking the metadata instead of listing tables means that a table or column added later is
exported without anyone remembering to, and that anonymisation refuses to run until someone
has decided what happens to it (``services.ANONYMISATION``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, and_, false, func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Mapper, aliased

import casework.models  # noqa: F401  (every table in the metadata, so that the walk sees all)
from casework.db import Base, chunked
from casework.enrollment.models import OPEN_STATUSES, Enrollment, EnrollmentEvent, Status
from casework.extensions import db
from casework.households.models import Household
from casework.programmes.models import Programme

# The audit trail is append-only and hash-chained: the export takes the household's events by
# entity (their before/after values describe the family), the walk never enters it, and
# anonymisation never changes it (it destroys the household's key in ``household_keys``
# instead, which is never exported: audit.keys).
AUDIT_TABLES = frozenset({"audit_events", "audit_links", "audit_chain_head", "household_keys"})

# Rows of the household point at staff, programmes, sites, creditors: the export keeps the id
# and adds the first of these columns as a readable name, never the rest of those rows.
LABEL_COLUMNS = ("full_name", "name", "as_of")


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


def table_mappers() -> dict[str, Mapper[Any]]:
    """Each table's mapper, by table name."""
    found: dict[str, Mapper[Any]] = {}
    for mapper in Base.registry.mappers:
        name = getattr(mapper.class_, "__tablename__", None)
        if isinstance(name, str):
            found[name] = mapper
    return found


def entity_type(class_name: str) -> str:
    """The name the audit trail gives a model's rows: ``PaymentRequest`` → ``payment_request``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


# --- reading the rows ----------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def fetch(table: Table, where: ColumnElement[bool]) -> Sequence[RowMapping]:
    statement = select(table).where(where).order_by(*table.primary_key.columns)
    return db.session.execute(statement).mappings().all()


def as_dicts(table: Table, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Every column of every row, by column name, as JSON-safe values."""
    return [{column.name: jsonable(row[column]) for column in table.columns} for row in rows]


def audit_condition(parts: Sequence[Part]) -> ColumnElement[bool]:
    """The audit events whose entity is one of the household's rows."""
    audit = db.metadata.tables["audit_events"]
    by_table = table_mappers()
    clauses = [
        and_(
            audit.c.entity_type == entity_type(by_table[part.table.name].class_.__name__),
            audit.c.entity_id.in_(select(part.table.c.id).where(part.where)),
        )
        for part in parts
        if part.table.name in by_table and "id" in part.table.c
    ]
    return or_(*clauses) if clauses else false()


def references(pointed: Mapping[tuple[str, str], set[Any]]) -> dict[str, dict[str, Any]]:
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
                names[str(value)] = jsonable(text)
    return found


# --- retention -----------------------------------------------------------------------------------


def has_open_enrollment(household_id: int) -> bool:
    """Whether the household is still in a programme (applied, active, ...)."""
    return (
        db.session.scalar(
            select(Enrollment.id)
            .where(Enrollment.household_id == household_id, Enrollment.status.in_(OPEN_STATUSES))
            .limit(1)
        )
        is not None
    )


def enrollment_ends(ended: Sequence[Status]) -> list[tuple[int, date | None, int]]:
    """Each enrollment of a household not anonymised and no longer in any programme: its
    household, the day it ended (``ended_on``, else its last step into one of ``ended``, else
    None) and its programme's retention period in years."""
    # Ended states are final, so an enrollment has at most one step into one of them.
    ended_step = (
        select(
            EnrollmentEvent.enrollment_id,
            func.max(EnrollmentEvent.effective_on).label("effective_on"),
        )
        .where(EnrollmentEvent.to_status.in_(ended))
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
    )
    return [(household_id, end, years) for household_id, end, years in rows]


def households_by_id(ids: Sequence[int]) -> list[Household]:
    households: list[Household] = []
    for chunk in chunked(list(ids)):
        households.extend(db.session.scalars(select(Household).where(Household.id.in_(chunk))))
    return households

"""The declarative base, shared column types and the SQLite connection settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from flask import g, has_app_context
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound=StrEnum)

# Stable constraint names, so Alembic can alter and drop them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Money is an integer number of deni; BigInteger on PostgreSQL, plain INTEGER (64-bit) on SQLite
# so that SQLite keeps its rowid semantics where this type is a primary key.
Deni = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always returned timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EnumText(TypeDecorator[E]):
    """A status or kind: stored as its text (a VARCHAR, most with a CHECK from ``enum_check``,
    so the migrations and other readers see plain words), read back as the enum member. Code then
    compares and passes members, never strings; an unknown value is refused before it is
    sent to the database."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 20) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)

    @property
    def python_type(self) -> type[E]:
        return self.enum


def utcnow() -> datetime:
    return datetime.now(UTC)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# Set while a request or job only reads (a progress poll, /readyz): on SQLite its transactions
# then begin DEFERRED, so that they read under WAL while another connection holds the write
# lock (a long import), instead of queueing for that lock as every writer must.
_read_only: ContextVar[bool] = ContextVar("casework_read_only", default=False)


def read_only_active() -> bool:
    if _read_only.get():
        return True
    return has_app_context() and bool(g.get("casework_read_only", False))


@contextmanager
def read_only() -> Iterator[None]:
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


def read_only_view(view: F) -> F:
    """Marks a view whose request only reads (a progress poll, ``/readyz``): web.py then
    runs it without queueing for SQLite's write lock, and without touching the session."""
    view.read_only = True  # type: ignore[attr-defined]
    return view


def mark_read_only() -> None:
    """For the rest of this request (``g`` lives as long as the request's app context)."""
    g.casework_read_only = True


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL for concurrent readers, a busy timeout instead of instant 'database is locked',
    enforced foreign keys, Unicode-aware lower(), and BEGIN IMMEDIATE so that write
    transactions serialise up front instead of failing on lock upgrade."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's own lower() folds ASCII only; names here are Cyrillic and Albanian.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if read_only_active() else "BEGIN IMMEDIATE")


def enum_check(column: str, values: Any) -> str:
    """SQL for a CHECK constraint that keeps ``column`` within a StrEnum's values."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


# A list of ids goes into ``IN (...)`` this many at a time: SQLite allows 32.766 bound
# parameters in a statement and PostgreSQL 65.535, and a national programme has more families.
IN_CHUNK = 5_000


def chunked(values: Sequence[T], size: int | None = None) -> Iterator[Sequence[T]]:
    size = size or IN_CHUNK  # read when called, so a test can make the chunks small
    for start in range(0, len(values), size):
        yield values[start : start + size]

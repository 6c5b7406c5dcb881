"""Domain errors raised by services, the request id, and what the server log keeps of an
unexpected error. The handlers that answer them are in casework.error_handlers: this module
imports nothing of the app, so every layer can raise its errors."""

from __future__ import annotations

import re
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from flask import g, request
from flask_babel import gettext

T = TypeVar("T")


class DomainError(Exception):
    """A rule of the domain refused an action. ``field`` names the input at fault, if any.

    ``errors`` holds every ``(field, message)`` refused at once (a form with four mistakes
    reports four); ``message`` and ``field`` are the first of them, for a single refusal."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: list[tuple[str | None, str]] = [(field, message)]

    @property
    def field(self) -> str | None:
        return self.errors[0][0]

    @field.setter
    def field(self, name: str | None) -> None:
        self.errors[0] = (name, self.errors[0][1])

    def rename(self, rename: Callable[[str | None], str | None]) -> None:
        """Name every refused field as the caller sent it (``amount`` → ``amount_deni``)."""
        self.errors = [(rename(name), message) for name, message in self.errors]


class ValidationError(DomainError):
    """Input that can never be accepted as given."""

    @classmethod
    def of(cls, errors: Sequence[tuple[str | None, str]]) -> ValidationError:
        """One refusal carrying several ``(field, message)`` pairs, the first one leading."""
        field, message = errors[0]
        error = cls(message, field)
        error.errors = list(errors)
        return error


class Checks:
    """The refusals of one input, collected so that all of them are reported at once, then
    raised together as one ``ValidationError`` (``with checking() as checks: ...``).

    A field refused once is not checked further (``ok(field)``): its second message would
    only repeat the first."""

    def __init__(self) -> None:
        self.errors: list[tuple[str | None, str]] = []

    def refuse(self, message: str, field: str | None = None) -> None:
        self.errors.append((field, message))

    def ok(self, *fields: str) -> bool:
        """None of these fields has been refused yet (a rule that reads them may run)."""
        return not any(name in fields for name, _ in self.errors)

    def run(self, check: Callable[[], T]) -> T | None:
        """A check that raises (a shared helper): its refusals are kept, ``None`` returned."""
        try:
            return check()
        except ValidationError as error:
            self.errors.extend(error.errors)
            return None

    def raise_any(self) -> None:
        if self.errors:
            raise ValidationError.of(self.errors)


@contextmanager
def checking() -> Iterator[Checks]:
    """Collect the refusals of the block and raise them together when it ends (a refusal
    raised inside the block joins those collected before it)."""
    checks = Checks()
    try:
        yield checks
    except ValidationError as error:
        checks.errors.extend(error.errors)
    checks.raise_any()


class ConflictError(DomainError):
    """The action does not fit the record's current state (already approved, ...)."""


class PermissionDenied(DomainError):
    """The acting user may not do this."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or gettext("You may not do this."))


def new_request_id() -> str:
    return uuid.uuid4().hex


# A request id handed in by a proxy is kept only if it looks like one: it is shown on the error
# page and written to the logs and the audit trail, so it may carry no markup or line breaks.
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,36}")


def current_request_id() -> str:
    """This request's id, assigned on first use (an error raised before the app's own
    ``before_request`` hooks ran, such as a refused CSRF token or a body too large, has one too)."""
    if "request_id" not in g:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID_RE.fullmatch(given) else new_request_id()
    return str(g.request_id)


def describe_exception(exc: BaseException) -> str:
    """What the server log keeps of an unexpected error: the types of the exception and of its
    causes, and where each was raised (file, line, function), innermost frame last.

    Never the message, the source lines or the local variables: a database error's message
    holds the SQL and the values bound to it (PostgreSQL repeats a duplicate national ID in
    its DETAIL line), and other messages may hold a name. The request id ties the entry to the
    page the user saw; the frames say where to look, and the code says what was there."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        parts.append(f"{kind.__module__}.{kind.__qualname__}")
        parts.extend(
            f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}'
            for frame in traceback.extract_tb(current.__traceback__)
        )
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
        if current is not None:
            parts.append("caused by:")
    return "\n".join(parts)


def exc_kind(exc: BaseException) -> str:
    """The exception's type only: a driver's message may hold the statement's values."""
    return f"{type(exc).__module__}.{type(exc).__qualname__}"

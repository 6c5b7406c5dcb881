"""Domain errors raised by services, the request id, and what the server log keeps of an
unexpected error. The handlers that answer them are in casework.error_handlers: this module
imports nothing of the app, so every layer can raise its errors."""

from __future__ import annotations

import re
import traceback
import uuid

from flask import g, request
from flask_babel import gettext


class DomainError(Exception):
    """A rule of the domain refused an action. ``field`` names the input at fault, if any."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    """Input that can never be accepted as given."""


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

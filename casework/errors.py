"""Domain errors raised by services, and the error pages that show them without leaking."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


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

    def __init__(self, message: str = "You may not do this.") -> None:
        super().__init__(message)


def new_request_id() -> str:
    return uuid.uuid4().hex


def register_error_handlers(app: Flask) -> None:
    @app.before_request
    def _assign_request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id", "")[:36] or new_request_id()

    def _render(status: int) -> tuple[str, int]:
        return render_template(
            "errors/error.html", status=status, request_id=g.get("request_id")
        ), status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
        if exc.code is None or exc.code < 400:
            return exc
        return _render(exc.code)

    @app.errorhandler(PermissionDenied)
    def _denied(exc: PermissionDenied) -> tuple[str, int]:
        return _render(403)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[str, int]:
        # The traceback goes to the server log with the request id; the page shows only the id.
        log.exception("unhandled error, request id %s", g.get("request_id"))
        return _render(500)

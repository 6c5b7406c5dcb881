"""Domain errors raised by services, and the error pages that show them without leaking."""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
import uuid

from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

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


def _wants_json() -> bool:
    """A client that asks for JSON (the API, a field device) gets the error as JSON."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def register_error_handlers(app: Flask) -> None:
    from casework.api.views import (
        domain_error_response,
        error_response,
        http_error_response,
        is_api_request,
    )

    @app.before_request
    def _assign_request_id() -> None:
        current_request_id()

    def _render(status: int) -> Response:
        request_id = current_request_id()
        if _wants_json():
            response = jsonify(
                status=status, error=HTTP_STATUS_CODES.get(status, ""), request_id=request_id
            )
        else:
            response = Response(
                render_template("errors/error.html", status=status, request_id=request_id),
                mimetype="text/html",
            )
        response.status_code = status
        response.headers["X-Request-Id"] = request_id
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if exc.code is None or exc.code < 400:
            return exc
        if is_api_request():
            return http_error_response(exc)
        response = _render(exc.code)
        for name, value in exc.get_headers():  # Allow on a 405, Retry-After, ...
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(DomainError)
    def _refused(exc: DomainError) -> Response:
        """A service's refusal that no page caught: the API's 403/409/422, or a page's 403."""
        from casework.extensions import db

        db.session.rollback()
        if is_api_request():
            return domain_error_response(exc)
        if isinstance(exc, PermissionDenied):
            return _render(403)
        return _unexpected(exc)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(exc: Exception) -> Response:
        """The database is down, restarting, unreachable or (SQLite) busy past the timeout: a
        503 that asks to try again. The pool checks each connection before use, so the app
        recovers by itself once the database answers again."""
        from casework.extensions import db, login_manager

        request_id = current_request_id()
        log.warning("database unavailable, request id %s: %s", request_id, exc_kind(exc))
        with contextlib.suppress(Exception):  # the connection is gone; the pool replaces it
            db.session.rollback()
        # The page must not ask the database again: an anonymous visitor renders it.
        g._login_user = login_manager.anonymous_user()
        if is_api_request():
            response = error_response(
                503, "The database is unavailable for a moment. Please try again shortly."
            )
            response.headers["X-Request-Id"] = request_id
        else:
            response = _render(503)
        response.headers["Retry-After"] = "10"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The server log gets the request id, the exception's types and frames, never its
        # message (see describe_exception); the page shows only the id.
        from casework.extensions import db

        request_id = current_request_id()
        log.error("unhandled error, request id %s: %s", request_id, describe_exception(exc))
        try:
            db.session.rollback()  # a failed flush leaves the session unusable for the page
            if is_api_request():
                response = error_response(500, "Something went wrong.")
                response.headers["X-Request-Id"] = request_id
                return response
            return _render(500)
        except Exception as again:  # the database itself is gone: a page without the layout
            log.error(
                "the error page failed too, request id %s: %s",
                request_id,
                describe_exception(again),
            )
            try:
                text = _("Something went wrong. Reference: %(id)s", id=request_id)
            except Exception:  # the locale is looked up through the user, in the database
                text = f"Something went wrong. Reference: {request_id}"
            response = Response(text, status=500, mimetype="text/plain")
            response.headers["X-Request-Id"] = request_id
            return response

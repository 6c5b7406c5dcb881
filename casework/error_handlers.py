"""The app's error handlers: the error pages that show an error without leaking, and the API's
error envelope (casework.api.errors) for every error under /api/."""

from __future__ import annotations

import contextlib
import logging

from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from casework.api.errors import (
    domain_error_response,
    error_response,
    http_error_response,
    is_api_request,
)
from casework.errors import (
    DomainError,
    PermissionDenied,
    current_request_id,
    describe_exception,
    exc_kind,
)
from casework.extensions import db, login_manager

# The log keeps the name it had when the handlers lived in casework.errors: what reads the
# server log (alerts, filters) looks for it.
log = logging.getLogger("casework.errors")


def _wants_json() -> bool:
    """A client that asks for JSON (the API, a field device) gets the error as JSON."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def register_error_handlers(app: Flask) -> None:
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
        request_id = current_request_id()
        log.warning("database unavailable, request id %s: %s", request_id, exc_kind(exc))
        with contextlib.suppress(Exception):  # the connection is gone; the pool replaces it
            db.session.rollback()
        # The page must not ask the database again: an anonymous visitor renders it.
        g._login_user = login_manager.anonymous_user()
        if is_api_request():
            response = error_response(
                503,
                _(
                    "The database does not answer just now. Nothing you sent was lost or "
                    "stored twice: wait a minute and try again."
                ),
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
        request_id = current_request_id()
        log.error("unhandled error, request id %s: %s", request_id, describe_exception(exc))
        try:
            db.session.rollback()  # a failed flush leaves the session unusable for the page
            if is_api_request():
                response = error_response(
                    500, _("Something went wrong. Reference: %(id)s", id=request_id)
                )
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

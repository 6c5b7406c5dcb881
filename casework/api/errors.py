"""The API's error shape: ``{"error": {"code", "message", "fields"}}`` for every refusal under
/api/. The app's error handlers (casework.error_handlers) call these; nothing here handles an
error itself, so the domain errors (casework.errors) never need the API to be imported."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from casework.api.messages import translated
from casework.errors import ConflictError, DomainError, PermissionDenied
from casework.i18n import gettext_noop

API_PREFIX = "/api/v1"

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
}


def is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def error_response(
    status: int,
    message: str,
    fields: dict[str, str] | None = None,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code or ERROR_CODES.get(status, "error"), "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, str]:
    """webargs' nested messages ({"json": {"members": {"0": {"first_name": [...]}}}}) as
    ``{"members.0.first_name": "..."}``, each in the request's language."""
    if isinstance(messages, list):
        return {prefix or "_": " ".join(translated(str(m)) for m in messages)}
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key)
            if not prefix and name in ("json", "query", "headers", "form", "view_args"):
                name = ""
            flat.update(flatten_messages(value, f"{prefix}.{name}" if prefix and name else name))
    return flat


class ErrorBody(ma.Schema):
    code = ma.fields.String(required=True)
    message = ma.fields.String(
        required=True, metadata={"description": "Every refusal, one sentence each"}
    )
    # "fields" is taken on a Schema: the attribute is named otherwise, the key is "fields".
    fields_ = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        data_key="fields",
        metadata={"description": "Every field at fault and why, all at once (_: the request)"},
    )


class ErrorEnvelope(ma.Schema):
    """``{"error": {"code": "...", "message": "...", "fields": {"name": "reason"}}}``"""

    error = ma.fields.Nested(ErrorBody, required=True)


def http_error_response(exc: HTTPException) -> Response:
    """An HTTP error under /api/ in the API's shape; webargs' validation messages become
    ``fields``. Malformed JSON is a 400, well-formed but invalid input a 422."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    fields = flatten_messages(data.get("messages")) if data.get("messages") else None
    response = error_response(status, _http_message(status), fields)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _http_message(status: int) -> str:
    """The API's words for an HTTP error, translated like the error pages' (whose sentences
    it shares where they fit; werkzeug's own descriptions are English only)."""
    messages = {
        400: gettext_noop("The request is malformed (is the body valid JSON?)."),
        403: gettext_noop("Your role does not allow this page or action."),
        404: gettext_noop("There is nothing here, or it is not yours to see."),
        405: gettext_noop("This method is not allowed here."),
        413: gettext_noop("What you sent is larger than the system accepts."),
        422: gettext_noop("Some fields are not valid."),
    }
    if status in messages:
        return _(messages[status])
    return _("Request not understood") if status < 500 else _("Something went wrong")


def domain_error_response(exc: DomainError) -> Response:
    """A service's refusal: a conflict with the record's state is a 409, a forbidden action a
    403, anything else a 422 naming every field at fault (``message`` says all of it)."""
    if isinstance(exc, PermissionDenied):
        return error_response(403, exc.message)
    if isinstance(exc, ConflictError):
        return error_response(409, exc.message, {exc.field: exc.message} if exc.field else None)
    return error_response(422, " ".join(_messages(exc)), refused_fields(exc))


def _messages(exc: DomainError) -> list[str]:
    return list(dict.fromkeys(message for _name, message in exc.errors))


def refused_fields(exc: DomainError) -> dict[str, str]:
    """Every refused field and why (``"_"`` for the request as a whole); two refusals of one
    field are joined, as webargs joins a field's messages."""
    fields: dict[str, str] = {}
    for name, message in exc.errors:
        key = name or "_"
        fields[key] = f"{fields[key]} {message}" if key in fields else message
    return fields

"""The API's frame: the OpenAPI document, token authentication, the error shape, paging and
idempotent writes. Each area's ``api.py`` holds its operations; none holds a rule.

flask-smorest builds the OpenAPI 3 document from the schemas and decorators on the views, so
the document cannot drift from the code; webargs and marshmallow validate what comes in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar, cast

import marshmallow as ma
from flask import Flask, Response, current_app, g, jsonify, make_response, request
from flask_login import current_user
from flask_smorest import Api, Blueprint
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from casework.api import services
from casework.api.schemas import MeSchema
from casework.db import utcnow
from casework.errors import ConflictError, DomainError, PermissionDenied
from casework.extensions import csrf, db

API_PREFIX = "/api/v1"
PUBLIC_API_ENDPOINTS = frozenset({"api-docs.openapi_json"})

F = TypeVar("F", bound=Callable[..., Any])

# Ids the database can hold: a larger one is a 404 (path) or a 422 (body), never an overflow.
MAX_ID = 2**63 - 1
ID = ma.validate.Range(min=1, max=MAX_ID)
ID_IN_PATH = f"int(min=1, max={MAX_ID})"


class CaseworkApi(Api):
    ERROR_SCHEMA: type[ma.Schema] | None = None  # set below: ErrorEnvelope

    def _register_error_handlers(self) -> None:
        """casework.errors answers every error, in the API's shape under /api/."""


API_DESCRIPTION = (
    "The casework API: the same services, permissions and audit trail as the pages. Money in "
    "deni (fields ending _deni), durations in minutes (fields ending _minutes), dates as "
    "YYYY-MM-DD."
)

# --- errors are documented once, as the default response of every operation

# Shared by every area's api module: one blueprint per area keeps the code beside its area.
me_blp = Blueprint("api_me", __name__, url_prefix=API_PREFIX, description="The caller")


# --- errors --------------------------------------------------------------------------------------

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
    ``{"members.0.first_name": "..."}``."""
    if isinstance(messages, list):
        return {prefix or "_": " ".join(str(m) for m in messages)}
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key)
            if not prefix and name in ("json", "query", "headers", "form", "view_args"):
                name = ""
            flat.update(flatten_messages(value, f"{prefix}.{name}" if prefix and name else name))
    return flat


@contextmanager
def fields_renamed(names: Mapping[str, str]) -> Iterator[None]:
    """A service's refusal names the page's form field (``amount``); rename it to the field
    the API's caller sent (``amount_deni``)."""
    try:
        yield
    except DomainError as error:
        if error.field is not None and error.field in names:
            error.field = names[error.field]
        raise


class ErrorBody(ma.Schema):
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    # "fields" is taken on a Schema: the attribute is named otherwise, the key is "fields".
    fields_ = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), data_key="fields")


class ErrorEnvelope(ma.Schema):
    """``{"error": {"code": "...", "message": "...", "fields": {"name": "reason"}}}``"""

    error = ma.fields.Nested(ErrorBody, required=True)


def http_error_response(exc: HTTPException) -> Response:
    """An HTTP error under /api/ in the API's shape; webargs' validation messages become
    ``fields``. Malformed JSON is a 400, well-formed but invalid input a 422."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    fields = flatten_messages(data.get("messages")) if data.get("messages") else None
    message = {
        400: "The request is malformed (is the body valid JSON?).",
        404: "Not found.",
        403: "You may not do this.",
        405: "This method is not allowed here.",
        413: "The request is too large.",
        422: "Some fields are not valid.",
    }.get(status, exc.description or "Error.")
    response = error_response(status, message, fields)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def domain_error_response(exc: DomainError) -> Response:
    """A service's refusal: a conflict with the record's state is a 409, a forbidden action a
    403, anything else a 422 naming the field at fault."""
    if isinstance(exc, PermissionDenied):
        return error_response(403, exc.message)
    if isinstance(exc, ConflictError):
        return error_response(409, exc.message, {exc.field: exc.message} if exc.field else None)
    return error_response(422, exc.message, {exc.field or "_": exc.message})


CaseworkApi.ERROR_SCHEMA = ErrorEnvelope


# --- paging ------------------------------------------------------------------------------------


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    per_page = ma.fields.Integer(load_default=25, validate=ma.validate.Range(min=1, max=100))


def page_schema(item: type[ma.Schema]) -> type[ma.Schema]:
    """``{"items": [...], "page": n, "pages": n, "total": n}`` around ``item``."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item), required=True),
            "page": ma.fields.Integer(required=True),
            "pages": ma.fields.Integer(required=True),
            "total": ma.fields.Integer(required=True),
        },
        name=f"{item.__name__.removesuffix('Schema')}Page",
    )


def paginate(query: Select[Any], page: int, per_page: int) -> dict[str, Any]:
    """One page of a scoped query and its total, as the API's list shape."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    pages = max(1, -(-total // per_page))
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return {"items": items, "page": page, "pages": pages, "total": total}


# --- writes ------------------------------------------------------------------------------------


def write(view: F) -> F:
    """Commit a write as one transaction; with an ``Idempotency-Key``, remember its response
    in that same transaction. The same key and body get the first response back and nothing
    is done again; the same key with another body is a 409."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        fingerprint = ""
        if key is not None:
            if not 1 <= len(key) <= 200:
                return error_response(400, "The Idempotency-Key header has 1 to 200 characters.")
            fingerprint = services.fingerprint(
                request.method, request.path, request.get_json(silent=True)
            )
            seen = services.remembered(current_user, key)
            if seen is not None:
                return _replay(seen, fingerprint)
        try:
            response = make_response(view(*args, **kwargs))
        except BaseException:
            db.session.rollback()
            raise
        if key is not None and 200 <= response.status_code < 300:
            services.remember(
                current_user, key, fingerprint, response.status_code, response.get_json()
            )
        try:
            db.session.commit()
        except IntegrityError:
            # The same key arrived twice at once and the other copy committed first: undo
            # this one and answer as the first did.
            db.session.rollback()
            seen = services.remembered(current_user, key) if key is not None else None
            if seen is None:
                raise
            return _replay(seen, fingerprint)
        return response

    return cast(F, wrapper)


def _replay(seen: Any, fingerprint: str) -> Response:
    if seen.fingerprint != fingerprint:
        return error_response(
            409,
            "This Idempotency-Key was used with a different request.",
            code="idempotency_conflict",
        )
    response = jsonify(seen.body)
    response.status_code = seen.status_code
    response.headers["Idempotent-Replayed"] = "true"
    return response


# --- authentication ----------------------------------------------------------------------------


def _authenticate() -> Response | None:
    """Every API request but the document carries a personal token; each counts against the
    user's limit per minute (kept in the database, so every worker counts the same)."""
    if not is_api_request() or request.endpoint in PUBLIC_API_ENDPOINTS:
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    now = utcnow()
    user = services.user_for_token(secret.strip(), now=now) if scheme.lower() == "bearer" else None
    if user is None:
        db.session.rollback()
        return error_response(
            401,
            "Send a valid token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    count = services.count_request(user, now=now)
    db.session.commit()
    limit = current_app.config["CASEWORK"].api_requests_per_minute
    if count > limit:
        return error_response(
            429,
            f"More than {limit} requests in a minute: wait a little.",
            headers={"Retry-After": str(60 - now.second)},
        )
    g._login_user = user  # Flask-Login's current_user for this request: the token's user
    return None


# --- the caller ----------------------------------------------------------------------------------


@me_blp.route("/me")
@me_blp.response(200, MeSchema)
@me_blp.alt_response(401, schema=ErrorEnvelope, description="No or bad token")
def me() -> Any:
    """The token's user, its roles and municipalities."""
    return current_user


def init_app(app: Flask, blueprints: list[Blueprint]) -> None:
    app.config.setdefault("API_TITLE", "casework")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = CaseworkApi(spec_kwargs={"info": {"description": API_DESCRIPTION}})  # one per app
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearerAuth": []}]
    for blueprint in [me_blp, *blueprints]:
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # a token in a header is not sent by a browser on its own
    app.before_request(_authenticate)

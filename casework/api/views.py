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
from flask import Flask, Response, current_app, jsonify, make_response, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Api, Blueprint
from sqlalchemy import Select, func, select

from casework.api import services
from casework.api.errors import API_PREFIX, ErrorEnvelope, error_response, is_api_request
from casework.api.schemas import MeSchema
from casework.bounds import MAX_ID
from casework.db import utcnow
from casework.errors import DomainError
from casework.extensions import csrf, db, login_manager
from casework.plain_text import JSON_SCHEMA_PATTERN, control_refused, first_control, has_control
from casework.security.models import User

# Each area's api module imports these from here, beside the rest of the API's frame.
__all__ = [
    "API_PREFIX",
    "ID",
    "ID_IN_PATH",
    "PUBLIC_API_ENDPOINTS",
    "ErrorEnvelope",
    "PageArgs",
    "fields_renamed",
    "is_api_request",
    "page_schema",
    "paginate",
    "write",
]

PUBLIC_API_ENDPOINTS = frozenset({"api-docs.openapi_json"})

F = TypeVar("F", bound=Callable[..., Any])

# Ids the database can hold (an INTEGER column): a larger one is a 404 (path) or a 422
# (body), never an overflow.
ID = ma.validate.Range(min=1, max=MAX_ID)
ID_IN_PATH = f"int(min=1, max={MAX_ID})"


class CaseworkApi(Api):
    ERROR_SCHEMA: type[ma.Schema] | None = None  # set below: ErrorEnvelope

    def _register_error_handlers(self) -> None:
        """casework.error_handlers answers every error, in the API's shape under /api/."""


API_DESCRIPTION = (
    "The casework API: the same services, permissions and audit trail as the pages. Money in "
    "deni (fields ending _deni), durations in minutes (fields ending _minutes), dates as "
    "YYYY-MM-DD, times of day as HH:MM. Every message, refusals included, is in the language "
    "the request's Accept-Language asks for (mk, sq or en), else in the caller's own (its "
    "profile, then its municipality's). A work log is sent from start_time to end_time, as "
    "on the page, so that two overlapping shifts of one member are refused; a duration alone "
    "(minutes) is deprecated. No text may hold a control character (C0 but tab, line feed "
    "and carriage return, or DEL; each text field's pattern): a body holding one is a 422 "
    "naming the field, and a query string's are dropped."
)

# --- errors are documented once, as the default response of every operation

# Shared by every area's api module: one blueprint per area keeps the code beside its area.
me_blp = Blueprint("api_me", __name__, url_prefix=API_PREFIX, description="The caller")


# --- errors ------------------------------------------------------------------------------------


@contextmanager
def fields_renamed(names: Mapping[str, str]) -> Iterator[None]:
    """A service's refusal names the page's form field (``amount``); rename it to the field
    the API's caller sent (``amount_deni``)."""
    try:
        yield
    except DomainError as error:
        error.rename(lambda name: names.get(name, name) if name is not None else None)
        raise


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
    """Commit a write as one transaction; with an ``Idempotency-Key``, claim the key first and
    remember the response in that same transaction. The same key and body get the first
    response back and nothing is done again, also when sent at the same moment (the copy
    waits for the first to commit); the same key with another body is a 409."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        claimed = None
        if key is not None:
            if not 1 <= len(key) <= 200 or has_control(key):
                return error_response(400, _("The Idempotency-Key header has 1 to 200 characters."))
            fingerprint = services.fingerprint(
                request.method, request.path, request.get_json(silent=True)
            )
            claimed = services.claim(current_user, key, fingerprint)
            if claimed is None:  # a copy came first (or at the same moment, and has committed)
                return _replay(services.remembered(current_user, key), fingerprint)
        try:
            response = make_response(view(*args, **kwargs))
        except BaseException:
            db.session.rollback()
            raise
        if claimed is not None:
            services.remember(claimed, response.status_code, response.get_json())
        db.session.commit()
        return response

    return cast(F, wrapper)


def _replay(seen: Any, fingerprint: str) -> Response:
    if seen is None:  # pragma: no cover - claimed and committed, never deleted since
        raise RuntimeError("an Idempotency-Key was taken, yet nothing is remembered for it")
    if seen.fingerprint != fingerprint:
        return error_response(
            409,
            _("This Idempotency-Key was used with a different request."),
            code="idempotency_conflict",
        )
    response = jsonify(seen.body)
    response.status_code = seen.status_code
    response.headers["Idempotent-Replayed"] = "true"
    return response


# --- authentication ----------------------------------------------------------------------------


def _is_token_request() -> bool:
    """Every API request but the document carries a personal token."""
    return is_api_request() and request.endpoint not in PUBLIC_API_ENDPOINTS


def load_token_user(_request: Any) -> User | None:
    """Flask-Login's request loader: under /api/ the user is the one of the bearer token (the
    session's loader answers no API request, so a browser's cookie opens no API operation)."""
    if not _is_token_request():
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return services.user_for_token(secret.strip(), now=utcnow())


def _authenticate() -> Response | None:
    """A request without a valid token is a 401. Each one counts against the user's limit per
    minute (kept in the database, so every worker counts the same)."""
    if not _is_token_request():
        return None
    if not current_user.is_authenticated:  # loading it asks load_token_user
        db.session.rollback()
        return error_response(
            401,
            _("Send a valid token: Authorization: Bearer <token>."),
            headers={"WWW-Authenticate": "Bearer"},
        )
    now = utcnow()
    count = services.count_request(current_user, now=now)
    db.session.commit()
    limit = current_app.config["CASEWORK"].api_requests_per_minute
    if count > limit:
        return error_response(
            429,
            _("More than %(limit)s requests in a minute: wait a little.", limit=limit),
            headers={"Retry-After": str(60 - now.second)},
        )
    return None


def _plain_text_body() -> Response | None:
    """A body holding a control character anywhere (a NUL byte: PostgreSQL cannot store it)
    is a 422 naming the field, before any operation reads it (``casework.plain_text``)."""
    if not _is_token_request() or not request.is_json:
        return None
    found = first_control(request.get_json(silent=True))
    if found is None:
        return None
    message = control_refused(found)
    return error_response(422, message, {found: message})


# --- the caller ----------------------------------------------------------------------------------


@me_blp.route("/me")
@me_blp.response(200, MeSchema)
@me_blp.alt_response(401, schema=ErrorEnvelope, description="No or bad token")
def me() -> Any:
    """The token's user, its roles and municipalities."""
    return current_user


def plain_text_pattern(_converter: Any, field: ma.fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec's attribute function: every free text property of a body (not an enumeration
    or a date) states the plain-text rule as its ``pattern``, as the body check applies it
    (``_plain_text_body``). A query string's control characters are dropped, not refused
    (``PlainTextRequest``): its parameters (``PageArgs`` and its kin) carry no pattern."""
    ret = kwargs["ret"]
    if isinstance(field.parent, PageArgs):
        return {}
    if ret.get("type") == "string" and not {"enum", "format", "pattern"} & set(ret):
        return {"pattern": JSON_SCHEMA_PATTERN}
    return {}


def init_app(app: Flask, blueprints: list[Blueprint]) -> None:
    app.config.setdefault("API_TITLE", "casework")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = CaseworkApi(spec_kwargs={"info": {"description": API_DESCRIPTION}})  # one per app
    api.init_app(app)
    api.ma_plugin.converter.add_attribute_function(plain_text_pattern)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearerAuth": []}]
    for blueprint in [me_blp, *blueprints]:
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # a token in a header is not sent by a browser on its own
    login_manager.request_loader(load_token_user)
    app.before_request(_authenticate)
    app.before_request(_plain_text_body)

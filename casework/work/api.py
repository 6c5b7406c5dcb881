"""API: work sites, logging hours (and withdrawing one's own), and confirming, rejecting or
correcting them at the site.

The same loading, scope and permission checks as the pages in ``work/views.py``, then one
service call each: every cap, date and who-may-work rule is ``casework.work.services``'.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import time
from typing import Any

import marshmallow as ma
from flask import Response, jsonify
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from casework import clock
from casework.actions import allow, recorded, visible
from casework.api.schemas import RecordSchema
from casework.api.views import (
    API_PREFIX,
    ID,
    ID_IN_PATH,
    ErrorEnvelope,
    PageArgs,
    fields_renamed,
    page_schema,
    paginate,
    write,
)
from casework.audit.services import log_households_seen
from casework.households import queries as household_queries
from casework.households.models import Household
from casework.households.queries import household_visibility
from casework.security import policies
from casework.work import queries, services
from casework.work.models import LogStatus, WorkLog, WorkSite

blp = Blueprint(
    "api_work",
    __name__,
    url_prefix=API_PREFIX,
    description="Work sites and community work hours (times of day as HH:MM, durations in minutes)",
)


# The services name the fields of the logging page's form: the API's from–to are the form's
# ``start_time`` and ``end_time``; its deprecated duration is ``minutes``, the form's ``duration``.
SERVICE_FIELDS = {"duration": "minutes"}


def api_fields() -> AbstractContextManager[None]:
    return fields_renamed(SERVICE_FIELDS)


# --- schemas -----------------------------------------------------------------------------------


class WorkSiteSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    place = ma.fields.String(required=True)
    kind_of_work = ma.fields.String(required=True)
    municipality_id = ma.fields.Integer(required=True)
    enterprise_id = ma.fields.Integer(required=True)
    enterprise = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True)
    may_log = ma.fields.Boolean(required=True, metadata={"description": "The caller logs here"})
    may_verify = ma.fields.Boolean(
        required=True, metadata={"description": "The caller confirms hours here"}
    )


class WorkLogIn(ma.Schema):
    member_id = ma.fields.Integer(required=True, strict=True, validate=ID)
    site_id = ma.fields.Integer(required=True, strict=True, validate=ID)
    work_date = ma.fields.Date(required=True)
    start_time = ma.fields.Time(
        load_default=None,
        metadata={
            "description": "When the shift began (HH:MM), the form's From",
            "example": "08:00",
        },
    )
    end_time = ma.fields.Time(
        load_default=None,
        metadata={"description": "When the shift ended (HH:MM), the form's To", "example": "10:30"},
    )
    minutes = ma.fields.Integer(
        load_default=None,
        strict=True,
        metadata={
            "deprecated": True,
            "description": "Deprecated: send start_time and end_time. A duration alone is "
            "still taken, as the form's 'or how long', but no overlap with another shift can "
            "be checked for it; beside the times it must equal their difference.",
        },
    )
    task = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


class WorkLogListArgs(PageArgs):
    household_id = ma.fields.Integer(validate=ID)
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in LogStatus]))


class WorkLogReasonIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))


class WorkLogSchema(RecordSchema):
    id = ma.fields.Integer(required=True)
    member_id = ma.fields.Integer(required=True)
    member_name = ma.fields.Function(lambda log: log.member.full_name, required=True)
    household_id = ma.fields.Integer(required=True)
    site_id = ma.fields.Integer(required=True)
    work_date = ma.fields.Date(required=True)
    start_time = ma.fields.Function(
        lambda log: _time_of_day(log.start_minute),
        allow_none=True,
        metadata={"description": "HH:MM; null for a duration logged alone or a correction"},
    )
    end_time = ma.fields.Function(
        lambda log: _time_of_day(log.end_minute), allow_none=True, metadata={"description": "HH:MM"}
    )
    minutes = ma.fields.Integer(
        required=True, metadata={"description": "Negative on a correcting entry"}
    )
    task = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": [s.value for s in LogStatus]})
    rejection_reason = ma.fields.String(required=True)
    reverses_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "The log this correcting entry cancels"}
    )
    corrected_by_id = ma.fields.Function(
        lambda log: log.reversed_by.id if log.reversed_by is not None else None,
        allow_none=True,
        metadata={"description": "The correcting entry that cancels this log"},
    )
    logged_by_id = ma.fields.Integer(required=True)
    decided_by_id = ma.fields.Integer(allow_none=True)
    withdrawn_by_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "Whoever logged it, when it was withdrawn"}
    )
    withdrawn_at = ma.fields.DateTime(allow_none=True)
    withdrawal_reason = ma.fields.String(required=True)


WorkLogPage = page_schema(WorkLogSchema)


def _time_of_day(minute: int | None) -> str | None:
    return None if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


def _minute(value: time | None) -> int | None:
    return None if value is None else value.hour * 60 + value.minute


def _shift(args: dict[str, Any]) -> services.Shift:
    """The form's shift: from–to, or (deprecated) a duration alone."""
    return services.Shift(
        work_date=args["work_date"],
        start_minute=_minute(args["start_time"]),
        end_minute=_minute(args["end_time"]),
        duration_minutes=args["minutes"],
    )


# --- sites -------------------------------------------------------------------------------------


@blp.route("/sites")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(WorkSiteSchema))
@blp.alt_response(403, schema=ErrorEnvelope)
def list_sites(args: dict[str, Any]) -> dict[str, Any]:
    """The sites where the caller logs hours (social workers, coordinators) or confirms them
    (the enterprise's supervisors, coordinators)."""
    for_logging = {s.id for s in queries.sites_for_logging(current_user)}
    to_verify = {s.id for s in queries.sites_to_verify(current_user)}
    allow(policies.can_log_work_anywhere(current_user) or bool(to_verify))
    query = (
        select(WorkSite)
        .where(WorkSite.id.in_(for_logging | to_verify))
        .options(selectinload(WorkSite.enterprise))
        .order_by(WorkSite.name, WorkSite.id)
    )
    page = paginate(query, args["page"], args["per_page"])
    page["items"] = [
        {
            "id": site.id,
            "name": site.name,
            "place": site.place,
            "kind_of_work": site.kind_of_work,
            "municipality_id": site.municipality_id,
            "enterprise_id": site.enterprise_id,
            "enterprise": site.enterprise.name,
            "active": site.active,
            "may_log": site.id in for_logging,
            "may_verify": site.id in to_verify,
        }
        for site in page["items"]
    ]
    return page


# --- work logs ---------------------------------------------------------------------------------


@blp.route("/work-logs", methods=["POST"])
@write
@blp.arguments(WorkLogIn)
@blp.response(201, WorkLogSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def log_work(args: dict[str, Any]) -> WorkLog:
    """Hours a member worked at a site on a day, from start_time to end_time (social workers
    for their caseload, coordinators), under the form's rules: the daily and weekly caps, and no
    two overlapping shifts of one member. They count once the site confirms them.

    Sending only ``minutes`` (a duration, the API's former shape) is deprecated: it is still
    taken, as the form's "or how long", but no overlap can be checked for it."""
    allow(policies.can_log_work_anywhere(current_user))
    member = visible(household_queries.get_visible_member(current_user, args["member_id"]))
    site = visible(queries.get_site(args["site_id"]))
    with api_fields():
        return services.log_work(
            current_user, member, site, _shift(args), args["task"], today=clock.today()
        )


@blp.route("/work-logs")
@blp.arguments(WorkLogListArgs, location="query")
@blp.response(200, WorkLogPage)
def list_work_logs(args: dict[str, Any]) -> Response:
    """Logs of the households the caller sees and of the sites where it confirms hours,
    newest first."""
    visible = select(Household.id).where(household_visibility(current_user))
    sites = [s.id for s in queries.sites_to_verify(current_user)]
    query = select(WorkLog).where(
        or_(WorkLog.household_id.in_(visible), WorkLog.site_id.in_(sites))
    )
    if args.get("household_id") is not None:
        query = query.where(WorkLog.household_id == args["household_id"])
    if args.get("status"):
        query = query.where(WorkLog.status == args["status"])
    query = query.options(selectinload(WorkLog.member), selectinload(WorkLog.reversed_by)).order_by(
        WorkLog.work_date.desc(), WorkLog.id.desc()
    )
    page = paginate(query, args["page"], args["per_page"])
    body = jsonify(WorkLogPage().dump(page))
    if not page["items"]:
        return body
    # Members' names are personal data: who read them is logged, as for the pages' lists,
    # once the answer is made (a failed one leaves no entry).
    logs = ", ".join(str(log.id) for log in page["items"])
    return recorded(
        body,
        lambda: log_households_seen(
            current_user,
            (log.household_id for log in page["items"]),
            f"api work logs page {page['page']} (logs {logs})",
        ),
    )


@blp.route(f"/work-logs/<{ID_IN_PATH}:log_id>/verify", methods=["POST"])
@write
@blp.response(200, WorkLogSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
def verify_log(log_id: int) -> WorkLog:
    """Confirm the hours were worked (the site's supervisors, coordinators)."""
    log = visible(queries.get_visible_log(current_user, log_id))
    allow(policies.can_decide_log(current_user, log))
    return services.verify(current_user, log, today=clock.today())


@blp.route(f"/work-logs/<{ID_IN_PATH}:log_id>/reject", methods=["POST"])
@write
@blp.arguments(WorkLogReasonIn)
@blp.response(200, WorkLogSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def reject_log(args: dict[str, Any], log_id: int) -> WorkLog:
    """Refuse logged hours, with the reason for the social worker (the site's supervisors,
    coordinators)."""
    log = visible(queries.get_visible_log(current_user, log_id))
    allow(policies.can_decide_log(current_user, log))
    return services.reject(current_user, log, args["reason"], today=clock.today())


@blp.route(f"/work-logs/<{ID_IN_PATH}:log_id>/reverse", methods=["POST"])
@write
@blp.arguments(WorkLogReasonIn)
@blp.response(201, WorkLogSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def reverse_log(args: dict[str, Any], log_id: int) -> WorkLog:
    """Cancel verified hours with a correcting entry of the opposite minutes, which is
    returned; the original log stays as it was."""
    log = visible(queries.get_visible_log(current_user, log_id))
    allow(policies.can_decide_log(current_user, log, correcting=True))
    return services.correct(current_user, log, args["reason"], today=clock.today())


@blp.route(f"/work-logs/<{ID_IN_PATH}:log_id>/withdraw", methods=["POST"])
@write
@blp.arguments(WorkLogReasonIn)
@blp.response(200, WorkLogSchema)
@blp.alt_response(422, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(403, schema=ErrorEnvelope)
def withdraw_log(args: dict[str, Any], log_id: int) -> WorkLog:
    """Take back hours one logged oneself, before anyone decided them (whoever logged them):
    the log is kept as withdrawn, with the reason, and counts nowhere."""
    log = visible(queries.get_visible_log(current_user, log_id))
    allow(policies.can_withdraw_log(current_user, log))
    return services.withdraw_log(current_user, log, args["reason"], today=clock.today())

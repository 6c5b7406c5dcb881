"""API: programmes, their settings and their report (the same figures as the report page)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from casework import clock
from casework.actions import visible
from casework.api.views import (
    API_PREFIX,
    ID_IN_PATH,
    ErrorEnvelope,
    PageArgs,
    page_schema,
    paginate,
)
from casework.programmes import queries
from casework.programmes.models import Programme
from casework.reports import queries as report_queries
from casework.reports.services import check_period

blp = Blueprint("api_programmes", __name__, url_prefix=API_PREFIX, description="Programmes")


class ProgrammeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    municipality_id = ma.fields.Integer(required=True)
    municipality = ma.fields.Function(lambda p: p.municipality.name, required=True)
    donor = ma.fields.String(required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(allow_none=True)
    budget_deni = ma.fields.Integer(required=True)
    committed_deni = ma.fields.Integer(required=True)
    hourly_value_deni = ma.fields.Integer(required=True)
    approval_threshold_deni = ma.fields.Integer(required=True)
    daily_cap_minutes = ma.fields.Integer(required=True)
    weekly_cap_minutes = ma.fields.Integer(required=True)
    work_deadline_days = ma.fields.Integer(required=True)
    tolerance_minutes = ma.fields.Integer(required=True)
    schedule = ma.fields.String(attribute="check_schedule", required=True)
    timezone = ma.fields.String(required=True)
    debt_period_from = ma.fields.Date(allow_none=True)
    debt_period_to = ma.fields.Date(allow_none=True)
    retention_years = ma.fields.Integer(required=True)


class ReportArgs(ma.Schema):
    period_from = ma.fields.Date()
    period_to = ma.fields.Date()


class CreditorTotal(ma.Schema):
    creditor = ma.fields.String(required=True)
    paid_deni = ma.fields.Integer(required=True)


class FiguresSchema(ma.Schema):
    """What a report counts, over its whole period and month by month."""

    activated = ma.fields.Integer(required=True)
    completed = ma.fields.Integer(required=True)
    closed_early = ma.fields.Integer(
        required=True, metadata={"description": "ended with hours owed: not completions"}
    )
    paid_deni = ma.fields.Integer(required=True)
    owed_minutes = ma.fields.Integer(required=True)
    verified_minutes = ma.fields.Integer(required=True)


class MonthSchema(FiguresSchema):
    month = ma.fields.Date(required=True)


class TargetsSchema(ma.Schema):
    families = ma.fields.Integer(allow_none=True)
    debt_deni = ma.fields.Integer(allow_none=True)
    minutes = ma.fields.Integer(allow_none=True)


class ReportSchema(FiguresSchema):
    programme_id = ma.fields.Integer(required=True)
    period_from = ma.fields.Date(required=True)
    period_to = ma.fields.Date(required=True)
    active_now = ma.fields.Integer(required=True)
    beyond_minutes = ma.fields.Integer(
        required=True,
        metadata={"description": "minutes worked beyond what is owed, at the period's end"},
    )
    completion_rate = ma.fields.Integer(allow_none=True, metadata={"description": "percent"})
    average_days_to_complete = ma.fields.Integer(allow_none=True)
    by_creditor = ma.fields.List(ma.fields.Nested(CreditorTotal), required=True)
    months = ma.fields.List(ma.fields.Nested(MonthSchema), required=True)
    targets = ma.fields.Nested(TargetsSchema, required=True)


@blp.route("/programmes")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(ProgrammeSchema))
def list_programmes(args: dict[str, Any]) -> dict[str, Any]:
    """The programmes of the caller's municipalities."""
    return paginate(queries.visible_programmes(current_user), args["page"], args["per_page"])


@blp.route(f"/programmes/<{ID_IN_PATH}:programme_id>")
@blp.response(200, ProgrammeSchema)
@blp.alt_response(404, schema=ErrorEnvelope)
def get_programme(programme_id: int) -> Programme:
    """A programme's settings."""
    return visible(queries.get_visible_programme(current_user, programme_id))


@blp.route(f"/programmes/<{ID_IN_PATH}:programme_id>/report")
@blp.arguments(ReportArgs, location="query")
@blp.response(200, ReportSchema)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def get_report(args: dict[str, Any], programme_id: int) -> dict[str, Any]:
    """Results over a period (the programme's start until today by default), beside targets."""
    programme = visible(queries.get_budget_programme(current_user, programme_id))
    today = clock.today()
    period_from = args.get("period_from") or programme.starts_on
    period_to = args.get("period_to") or max(period_from, min(today, programme.ends_on or today))
    check_period(period_from, period_to)
    figures = report_queries.indicators(programme, period_from, period_to)
    return {
        "programme_id": programme.id,
        "period_from": figures.period_from,
        "period_to": figures.period_to,
        "activated": figures.activated,
        "completed": figures.completed,
        "closed_early": figures.closed_early,
        "active_now": figures.active_now,
        "beyond_minutes": figures.beyond_minutes,
        "paid_deni": figures.paid_deni,
        "owed_minutes": figures.owed_minutes,
        "verified_minutes": figures.verified_minutes,
        "completion_rate": figures.completion_rate,
        "average_days_to_complete": figures.average_days_to_complete,
        "by_creditor": [{"creditor": n, "paid_deni": d} for n, d in figures.by_creditor],
        "months": figures.months,
        "targets": {
            "families": programme.target_families,
            "debt_deni": programme.target_debt_deni,
            "minutes": programme.target_minutes,
        },
    }

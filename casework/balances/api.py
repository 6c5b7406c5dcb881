"""API: a household's balance of hours, and running a programme's balance check on demand.

The figures come from the same functions as the pages and the scheduled check
(``work.queries.balances``, ``balances.services.expected_minutes`` and ``status_of``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import jsonify
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from casework import clock
from casework.actions import allow, recorded, visible
from casework.api.views import API_PREFIX, ID_IN_PATH, ErrorEnvelope, fields_renamed, write
from casework.balances import services
from casework.balances.models import BalanceRun, BalanceSnapshot, CheckStatus
from casework.enrollment import queries as enrollment_queries
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.households.models import Household
from casework.households.queries import get_visible_household
from casework.payments.services import record_money_view
from casework.programmes import queries as programme_queries
from casework.security import policies
from casework.work import queries as work_queries

blp = Blueprint("api_balances", __name__, url_prefix=API_PREFIX, description="Balances of hours")


# Ids beyond a 64-bit integer are not routed (a 404), never passed to the database.


class BalanceSchema(ma.Schema):
    owed_minutes = ma.fields.Integer(required=True)
    verified_minutes = ma.fields.Integer(required=True)
    pending_minutes = ma.fields.Integer(
        required=True, metadata={"description": "logged, not yet verified: never counts as done"}
    )
    remaining_minutes = ma.fields.Integer(required=True)
    expected_minutes = ma.fields.Integer(
        required=True, metadata={"description": "what a family on pace would have verified"}
    )
    status = ma.fields.String(required=True, metadata={"enum": [s.value for s in CheckStatus]})
    as_of = ma.fields.Date(required=True)


class CheckArgs(ma.Schema):
    as_of = ma.fields.Date(metadata={"description": "the day checked; today when left out"})


class RunSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    programme_id = ma.fields.Integer(required=True)
    as_of = ma.fields.Date(required=True)
    trigger = ma.fields.String(required=True)
    started_at = ma.fields.DateTime(required=True)
    households = ma.fields.Integer(required=True, metadata={"description": "households checked"})
    counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "households by status: " + ", ".join(CheckStatus)},
    )
    errors = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata={"description": "households whose check failed: household_id and error type"},
    )


def household_balance(
    household: Household, as_of: date, enrollments: list[Enrollment] | None = None
) -> dict[str, Any]:
    """A household's balance as of a day, with the status a balance check would give it
    (``enrollments``: the household's, newest first, when the caller has them already)."""
    balance = work_queries.balances([household.id], as_of)[household.id]
    dues = [
        services.Due(o.minutes, o.starts_on, o.due_on)
        for o in work_queries.obligations_of(household)
        if o.starts_on <= as_of  # as the check counts them
    ]
    if enrollments is None:
        enrollments = enrollment_queries.enrollments_of(household)
    current = next((e for e in enrollments if e.is_open), enrollments[0] if enrollments else None)
    tolerance = current.programme.tolerance_minutes if current is not None else 0
    return {
        "owed_minutes": balance.owed,
        "verified_minutes": balance.verified,
        "pending_minutes": balance.pending,
        "remaining_minutes": balance.remaining,
        "expected_minutes": services.expected_minutes(dues, as_of),
        "status": services.status_of(dues, balance.verified, as_of, tolerance),
        "as_of": as_of,
    }


@blp.route(f"/households/<{ID_IN_PATH}:household_id>/balance")
@blp.response(200, BalanceSchema)
@blp.alt_response(404, schema=ErrorEnvelope)
def get_balance(household_id: int) -> Response:
    """Minutes owed, verified, pending, left and expected by today, and the status."""
    household = visible(get_visible_household(current_user, household_id))
    allow(policies.can_view_money(current_user, household))
    body = BalanceSchema().dump(household_balance(household, clock.today()))
    # As the money page: who looked at a family's hours owed is in the access log.
    return recorded(jsonify(body), lambda: record_money_view(current_user, household))


def _run_body(run: BalanceRun) -> dict[str, Any]:
    counts = dict.fromkeys((s.value for s in CheckStatus), 0)
    for status, n in db.session.execute(
        select(BalanceSnapshot.status, func.count())
        .where(BalanceSnapshot.run_id == run.id)
        .group_by(BalanceSnapshot.status)
    ):
        counts[status] = n
    return {
        "id": run.id,
        "programme_id": run.programme_id,
        "as_of": run.as_of,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "households": run.households,
        "counts": counts,
        "errors": run.errors,
    }


@blp.route(f"/programmes/<{ID_IN_PATH}:programme_id>/balance-checks", methods=["POST"])
@write
@blp.arguments(CheckArgs, required=False)  # as_of is optional, and so the body
@blp.response(201, RunSchema, description="The check ran now")
@blp.alt_response(200, schema=RunSchema, description="The check had run for that day already")
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def run_check(args: dict[str, Any], programme_id: int) -> tuple[dict[str, Any], int]:
    """Check every active household of the programme as of a day. A check runs once per
    programme and day: asking again returns the stored run (200) and changes nothing."""
    programme = visible(programme_queries.get_budget_programme(current_user, programme_id))
    allow(policies.can_manage_programme(current_user, programme))
    today = clock.today()
    with fields_renamed({"date": "as_of"}):
        result = services.run_check(
            programme, args.get("as_of") or today, today=today, actor=current_user
        )
    return _run_body(result.run), 201 if result.created else 200

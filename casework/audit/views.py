"""Searching the audit trail and the access log: auditors and admins, in their municipalities."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from casework.actions import allow
from casework.audit import queries
from casework.audit.forms import ACCESS_ACTIONS, LogSearchForm
from casework.security import policies

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
def search() -> str:
    allow(policies.can_search_audit(current_user))
    scope = policies.audit_municipalities(current_user)
    form = LogSearchForm(request.args)
    flt = queries.LogFilter()
    if form.validate():
        flt = queries.LogFilter(
            username=(form.username.data or "").strip(),
            household=(form.household.data or "").strip(),
            action=(form.action.data or "").strip(),
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
    page = request.args.get("page", 1, type=int) or 1
    if form.log.data == "access":
        found = queries.search_access(scope, flt, page=page)
        cases = queries.case_numbers(r.household_id for r in found.items)
    else:
        found = queries.search_events(scope, flt, page=page)
        cases = {}
    return render_template(
        "audit/search.html",
        form=form,
        found=found,
        cases=cases,
        access_actions=ACCESS_ACTIONS,
        query_args={k: v for k, v in request.args.items() if k != "page"},
    )

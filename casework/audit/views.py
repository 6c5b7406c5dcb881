"""Searching the audit trail and the access log: auditors and admins, in their municipalities."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from casework.actions import allow, recorded
from casework.audit import queries
from casework.audit.forms import ACCESS_ACTIONS, LogSearchForm
from casework.audit.readable import ReadableEvent, readable_events
from casework.audit.services import log_households_seen
from casework.bounds import query_int
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
    page = request.args.get("page", 1, type=query_int) or 1
    events: list[ReadableEvent] = []
    shown: set[int] = set()
    if form.log.data == "access":
        found = queries.search_access(scope, flt, page=page)
        cases = queries.case_numbers(r.household_id for r in found.items)
    else:
        found = queries.search_events(scope, flt, page=page)
        events, shown = readable_events(found.items, current_user)
        cases = queries.case_numbers(shown)
    rendered = render_template(
        "audit/search.html",
        form=form,
        found=found,
        events=events,
        cases=cases,
        access_actions=ACCESS_ACTIONS,
        query_args={k: v for k, v in request.args.items() if k != "page"},
    )
    if not shown:
        return rendered
    # A coordinator read families' names and addresses in their events: the access log says so,
    # one row per family (with its municipality), as every list does.
    return recorded(
        rendered, lambda: log_households_seen(current_user, shown, f"audit page {found.page}")
    )

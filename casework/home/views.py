"""Each role's home page: the first thing a person sees after logging in."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, cast

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from casework import clock
from casework.actions import allow, recorded
from casework.audit import queries as audit_queries
from casework.audit.services import log_households_seen
from casework.balances import queries as balance_queries
from casework.extensions import db
from casework.households import queries as household_queries
from casework.households.models import Household
from casework.payments import queries as payment_queries
from casework.programmes.models import Programme
from casework.programmes.queries import visible_programmes
from casework.reports import queries as report_queries
from casework.reports import services as report_services
from casework.security import policies
from casework.security.models import Role
from casework.security.queries import manageable_users
from casework.work import queries as work_queries

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> Response:
    role = current_user.primary_role()
    if role is None:
        abort(403)
    return redirect(url_for("home.role_home", role=role.value))


@bp.get("/home/<role>")
def role_home(role: str) -> str:
    try:
        chosen = Role(role)
    except ValueError:
        abort(404)
    allow(policies.can_open_home(current_user, chosen))
    programmes = list(db.session.scalars(visible_programmes(current_user)))
    context: dict[str, object] = {
        "role": chosen,
        "roles": sorted(current_user.role_names(), key=lambda r: list(Role).index(r)),
        "programmes": programmes,
    }
    context.update(_ROLE_PANELS[chosen](_own(programmes, chosen), clock.today()))
    page = render_template(f"home/{chosen.value}.html", **context)
    return recorded(
        page,
        lambda: log_households_seen(current_user, _families_named(context), f"{role} home page"),
    )


def _families_named(context: dict[str, object]) -> list[int]:
    """The families a home page names: its alerts, the households that need attention, the
    social worker's caseload (the access log records each)."""
    named: list[int] = []
    for panel, id_of in (
        ("alerts", "household_id"),
        ("attention", "household_id"),
        ("caseload", "id"),
    ):
        named += [getattr(item, id_of) for item in cast(Iterable[Any], context.get(panel, ()))]
    return named


# Each role's panels, from the programmes of the municipalities where the user holds it.
Panels = dict[str, object]


def _household_count() -> Panels:
    visible = household_queries.household_visibility(current_user)
    return {
        "household_count": db.session.scalar(
            select(func.count()).select_from(Household).where(visible)
        )
    }


def _coordinator(own: list[Programme], today: date) -> Panels:
    ids = [p.id for p in own]
    statuses = report_queries.latest_statuses(ids)
    return {
        **_household_count(),
        "alerts": balance_queries.alerts_for(current_user),
        "status_counts": report_queries.status_counts(statuses),
        "attention": [
            snapshot for snapshot, _run in statuses if snapshot.status in ("overdue", "behind")
        ][:15],
        "waiting_logs": report_queries.waiting_logs(ids),
        "rejected_requests": payment_queries.count_returned_requests(current_user),
        "weekly": report_queries.weekly_verified_minutes(ids, today),
        "monthly": report_queries.monthly_paid(ids, today),
    }


def _officer(own: list[Programme], _today: date) -> Panels:
    return {
        **_household_count(),
        "queue_count": len(payment_queries.officer_queue(current_user)),
        "to_record": payment_queries.count_payments_to_record(current_user),
        "budgets": [payment_queries.programme_budget(p) for p in own],
    }


def _social_worker(_own: list[Programme], _today: date) -> Panels:
    # Its own families, the most urgent first (overdue, behind, then the most hours left).
    caseload = work_queries.listed(
        db.session.execute(
            household_queries.household_list(
                current_user, household_queries.ListFilter(worker_id=current_user.id)
            )
        )
    )
    return {
        **_household_count(),
        "caseload": caseload,
        "alerts": balance_queries.alerts_for(current_user),
    }


def _supervisor(_own: list[Programme], _today: date) -> Panels:
    sites = work_queries.sites_to_verify(current_user)
    return {"sites": sites, "pending": work_queries.pending_by_site([s.id for s in sites])}


def _auditor(own: list[Programme], today: date) -> Panels:
    locale = str(get_locale() or "mk")
    return {
        "indicators": [
            (
                p,
                report_services.report_facts(
                    report_queries.indicators(p, p.starts_on, min(today, p.ends_on or today)),
                    locale,
                ),
            )
            for p in own
        ],
        "events": audit_queries.recent_events(
            policies.home_municipalities(current_user, Role.AUDITOR), limit=20
        ),
    }


def _admin(_own: list[Programme], _today: date) -> Panels:
    return {"users": manageable_users(current_user)}


_ROLE_PANELS: dict[Role, Callable[[list[Programme], date], Panels]] = {
    Role.COORDINATOR: _coordinator,
    Role.OFFICER: _officer,
    Role.SOCIAL_WORKER: _social_worker,
    Role.SUPERVISOR: _supervisor,
    Role.AUDITOR: _auditor,
    Role.ADMIN: _admin,
}


def _own(programmes: list[Programme], role: Role) -> list[Programme]:
    """The programmes of the municipalities where the user holds this role."""
    places = policies.home_municipalities(current_user, role)
    return [p for p in programmes if p.municipality_id in places]

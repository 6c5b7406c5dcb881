"""Each role's home page: the first thing a person sees after logging in."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from casework.audit import queries as audit_queries
from casework.balances import queries as balance_queries
from casework.extensions import db
from casework.households import queries as household_queries
from casework.households.models import Household
from casework.payments import queries as payment_queries
from casework.payments.models import RequestStatus
from casework.programmes.models import Programme
from casework.programmes.queries import visible_programmes
from casework.reports import queries as report_queries
from casework.reports import services as report_services
from casework.security import policies
from casework.security.models import Role
from casework.security.queries import all_users
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
    if not policies.can_open_home(current_user, chosen):
        abort(403)
    programmes = list(db.session.scalars(visible_programmes(current_user)))
    context: dict[str, object] = {
        "role": chosen,
        "roles": sorted(current_user.role_names(), key=lambda r: list(Role).index(r)),
        "programmes": programmes,
    }
    if chosen in (Role.COORDINATOR, Role.OFFICER, Role.SOCIAL_WORKER):
        visible = household_queries.household_visibility(current_user)
        context["household_count"] = db.session.scalar(
            select(func.count()).select_from(Household).where(visible)
        )
    if chosen is Role.SOCIAL_WORKER:
        caseload = db.session.scalars(
            household_queries.visible_households(current_user).where(
                Household.assigned_worker_id == current_user.id
            )
        ).all()
        context["caseload"] = caseload
        context["balances"] = work_queries.balances(h.id for h in caseload)
    if chosen in (Role.COORDINATOR, Role.SOCIAL_WORKER):
        context["alerts"] = balance_queries.alerts_for(current_user)
    if chosen is Role.SUPERVISOR:
        sites = work_queries.sites_to_verify(current_user)
        context["sites"] = sites
        context["pending"] = work_queries.pending_by_site([s.id for s in sites])
    today = date.today()
    if chosen is Role.COORDINATOR:
        ids = [p.id for p in _own(programmes, chosen)]
        statuses = report_queries.latest_statuses(ids)
        context["status_counts"] = report_queries.status_counts(statuses)
        context["attention"] = [
            snapshot for snapshot, _run in statuses if snapshot.status in ("overdue", "behind")
        ][:15]
        context["waiting_logs"] = report_queries.waiting_logs(ids)
        context["rejected_requests"] = report_queries.requests_in(ids, RequestStatus.REJECTED)
        context["weekly"] = report_queries.weekly_verified_minutes(ids, today)
        context["monthly"] = report_queries.monthly_paid(ids, today)
    if chosen is Role.OFFICER:
        own = _own(programmes, chosen)
        context["queue_count"] = len(payment_queries.officer_queue(current_user))
        context["to_record"] = report_queries.requests_in(
            [p.id for p in own], RequestStatus.APPROVED
        )
        context["budgets"] = [payment_queries.programme_budget(p) for p in own]
    if chosen is Role.AUDITOR:
        context["indicators"] = [
            (
                p,
                report_services.report_facts(
                    report_queries.indicators(p, p.starts_on, min(today, p.ends_on or today)),
                    str(get_locale() or "mk"),
                ),
            )
            for p in _own(programmes, chosen)
        ]
        context["events"] = audit_queries.recent_events(
            current_user.municipalities_as(chosen), limit=20
        )
    if chosen is Role.ADMIN:
        users = db.session.scalars(all_users()).all()
        context["users"] = [u for u in users if policies.can_manage_user(current_user, u)]
    return render_template(f"home/{chosen.value}.html", **context)


def _own(programmes: list[Programme], role: Role) -> list[Programme]:
    """The programmes of the municipalities where the user holds this role."""
    places = current_user.municipalities_as(role)
    return [p for p in programmes if p.municipality_id in places]

"""Each role's home page: the first thing a person sees after logging in."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from casework.balances import queries as balance_queries
from casework.extensions import db
from casework.households import queries as household_queries
from casework.households.models import Household
from casework.payments import queries as payment_queries
from casework.programmes.queries import visible_programmes
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
    context: dict[str, object] = {
        "role": chosen,
        "roles": sorted(current_user.role_names(), key=lambda r: list(Role).index(r)),
        "programmes": db.session.scalars(visible_programmes(current_user)).all(),
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
    if chosen is Role.OFFICER:
        context["queue_count"] = len(payment_queries.officer_queue(current_user))
    if chosen is Role.ADMIN:
        context["users"] = db.session.scalars(all_users()).all()
    return render_template(f"home/{chosen.value}.html", **context)

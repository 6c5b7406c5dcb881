"""Logging hours (phone first), the weekly timesheet of a site, corrections, and sites."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.errors import DomainError
from casework.extensions import db
from casework.forms_common import show_domain_error
from casework.households.models import Member
from casework.households.queries import get_visible_household
from casework.organizations.models import Organization, OrganizationKind
from casework.security import policies
from casework.security.models import Role
from casework.urls import safe_next
from casework.work import queries, services
from casework.work.forms import ActionForm, LogForm, ReasonForm, SiteForm
from casework.work.models import WorkLog, WorkSite

bp = Blueprint("work", __name__, url_prefix="/work")


def _today() -> date:
    return date.today()


def _minutes(value: object) -> int | None:
    return None if value is None else value.hour * 60 + value.minute  # type: ignore[attr-defined]


@bp.route("/log", methods=["GET", "POST"])
def log() -> str | Response:
    today = _today()
    members = queries.members_who_may_work(current_user, today)
    sites = queries.sites_for_logging(current_user)
    if not policies.can_log_work_anywhere(current_user):
        abort(403)
    form = LogForm()
    form.member_id.choices = [(m.id, f"{m.full_name} · {m.household.case_number}") for m in members]
    form.site_id.choices = [(s.id, str(s)) for s in sites]
    if request.method == "GET":
        form.work_date.data = today
        chosen = request.args.get("member", type=int)
        if chosen:
            form.member_id.data = chosen
    if form.validate_on_submit():
        # The member may not be on today's list (an earlier date): load it within the scope.
        member = db.session.get(Member, form.member_id.data)
        site = db.session.get(WorkSite, form.site_id.data)
        if (
            member is None
            or site is None
            or get_visible_household(current_user, member.household_id) is None
        ):
            abort(404)
        shift = services.Shift(
            work_date=form.work_date.data,
            start_minute=_minutes(form.start_time.data),
            end_minute=_minutes(form.end_time.data),
            duration_minutes=form.duration.data,
        )
        try:
            services.log_work(current_user, member, site, shift, form.task.data or "", today=today)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Hours logged for %(name)s.", name=member.full_name), "success")
            return redirect(url_for("work.log", member=member.id))
    return render_template("work/log.html", form=form, has_members=bool(members))


def _load_log(log_id: int) -> WorkLog:
    found = queries.get_log(log_id)
    if found is None:
        abort(404)
    site = found.site
    may_see = get_visible_household(current_user, found.household_id) is not None
    if not may_see and not policies.can_verify_at(
        current_user, site.municipality_id, site.enterprise_id
    ):
        abort(404)
    return found


def _back(log: WorkLog) -> Response:
    if request.form.get("next"):
        return redirect(safe_next(request.form.get("next")))
    return redirect(url_for("households.detail", household_id=log.household_id))


def _act(log: WorkLog, action: str, form: ActionForm | ReasonForm) -> Response:
    site = log.site
    may = policies.can_verify_at(current_user, site.municipality_id, site.enterprise_id) or (
        action == "correct" and policies.can_log_work(current_user, log.household)
    )
    if not may:
        abort(403)  # confirming is the site's; correcting also the household's NGO staff
    if not form.validate_on_submit():
        flash(_("Give the reason."), "error")
        return _back(log)
    try:
        if action == "verify":
            services.verify(current_user, log, today=_today())
        elif action == "reject":
            services.reject(current_user, log, form.reason.data or "", today=_today())
        else:
            services.correct(current_user, log, form.reason.data or "", today=_today())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Recorded."), "success")
    return _back(log)


@bp.post("/logs/<int:log_id>/verify")
def verify(log_id: int) -> Response:
    return _act(_load_log(log_id), "verify", ActionForm())


@bp.post("/logs/<int:log_id>/reject")
def reject(log_id: int) -> Response:
    return _act(_load_log(log_id), "reject", ReasonForm())


@bp.post("/logs/<int:log_id>/correct")
def correct(log_id: int) -> Response:
    return _act(_load_log(log_id), "correct", ReasonForm())


def _monday(value: str | None) -> date:
    try:
        day = date.fromisoformat(value) if value else _today()
    except ValueError:
        day = _today()
    return day - timedelta(days=day.weekday())


@bp.route("/sites/<int:site_id>/week", methods=["GET", "POST"])
def week(site_id: int) -> str | Response:
    site = db.session.get(WorkSite, site_id)
    if site is None or not policies.can_verify_at(
        current_user, site.municipality_id, site.enterprise_id
    ):
        abort(404)
    monday = _monday(request.values.get("start"))
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            count = services.verify_week(current_user, site, monday, today=_today())
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("%(count)d logs confirmed.", count=count), "success")
        return redirect(url_for("work.week", site_id=site.id, start=monday.isoformat()))
    return render_template(
        "work/week.html",
        sheet=queries.timesheet(site, monday),
        form=form,
        reason_form=ReasonForm(formdata=None),
        previous=(monday - timedelta(days=7)).isoformat(),
        following=(monday + timedelta(days=7)).isoformat(),
    )


@bp.route("/sites", methods=["GET", "POST"])
def sites() -> str | Response:
    managed = current_user.municipalities_as(Role.COORDINATOR, Role.ADMIN)
    verifiable = queries.sites_to_verify(current_user)
    if not managed and not verifiable:
        abort(403)
    form = SiteForm()
    enterprises = db.session.scalars(
        db.select(Organization)
        .where(
            Organization.kind == OrganizationKind.PUBLIC_ENTERPRISE.value,
            Organization.municipality_id.in_(managed),
        )
        .order_by(Organization.name)
    ).all()
    form.enterprise_id.choices = [(e.id, str(e)) for e in enterprises]
    if managed and form.validate_on_submit():
        enterprise = db.session.get(Organization, form.enterprise_id.data)
        if enterprise is None:
            abort(400)
        try:
            services.add_site(
                current_user,
                enterprise,
                form.name.data or "",
                form.place.data or "",
                form.kind_of_work.data or "",
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Work site added."), "success")
            return redirect(url_for("work.sites"))
    return render_template("work/sites.html", sites=verifiable, form=form if managed else None)

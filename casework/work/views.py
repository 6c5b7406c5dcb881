"""Logging hours (phone first), the weekly timesheet of a site, corrections, and sites."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from casework import clock, formatting
from casework.actions import allow, chosen, perform, recorded, submit, visible
from casework.audit.services import log_households_seen
from casework.bounds import query_int
from casework.forms_common import CHOOSE, named_errors
from casework.households import queries as household_queries
from casework.households.models import Member
from casework.security import policies
from casework.urls import safe_next
from casework.work import queries, services
from casework.work.forms import NOBODY, ActionForm, LogForm, ReasonForm, SiteForm
from casework.work.models import WorkLog

bp = Blueprint("work", __name__, url_prefix="/work")


def _minutes(value: object) -> int | None:
    return None if value is None else value.hour * 60 + value.minute  # type: ignore[attr-defined]


def _shift(form: LogForm) -> services.Shift:
    return services.Shift(
        work_date=form.work_date.data,
        start_minute=_minutes(form.start_time.data),
        end_minute=_minutes(form.end_time.data),
        duration_minutes=form.duration.data,
    )


@bp.route("/log", methods=["GET", "POST"])
def log() -> str | Response:
    allow(policies.can_log_work_anywhere(current_user))
    today = clock.today()
    members = queries.members_who_may_work(current_user, today)
    form = LogForm()
    form.member_id.choices = [
        (NOBODY, str(CHOOSE)),
        *((m.id, f"{m.full_name} · {m.household.case_number}") for m in members),
    ]
    form.site_id.choices = [(s.id, str(s)) for s in queries.sites_for_logging(current_user)]
    if request.method == "GET":
        form.work_date.data = today
        form.member_id.data = request.args.get("member", type=query_int) or form.member_id.data

    def _log() -> WorkLog:
        # The member may not be on today's list (an earlier date): loaded within the scope.
        member = visible(household_queries.get_visible_member(current_user, form.member_id.data))
        site = visible(queries.get_site(form.site_id.data))
        return services.log_work(
            current_user, member, site, _shift(form), form.task.data or "", today=today
        )

    return submit(
        form,
        _log,
        # Back to an empty choice (the next person is chosen, not assumed), today's entries below.
        then=lambda _made: redirect(url_for("work.log", _anchor="today")),
        success=_logged,
    ) or _log_page(form, members, today)


def _log_page(form: LogForm, members: list[Member], today: date) -> str:
    """The form, and below it what the user logged today, each entry it may still take back
    with its own "Withdraw"."""
    entries = queries.entries_of_today(current_user, today, _start_of(today))
    return recorded(
        render_template(
            "work/log.html",
            form=form,
            has_members=bool(members),
            entries=entries,
            withdrawable={e.id for e in entries if policies.log_is_withdrawable(current_user, e)},
        ),
        lambda: log_households_seen(
            current_user, (m.household_id for m in members), "log hours: members who may work"
        ),
    )


def _start_of(day: date) -> datetime:
    """The first moment of the programme's ``day``, as stored (UTC)."""
    return datetime.combine(day, time(0), clock.zone()).astimezone(UTC)


def _time_of_day(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _logged(made: WorkLog) -> str:
    """The confirmation repeats what was stored, so a slip (the day, the hours, the site)
    is seen while the family is still there."""
    locale = str(get_locale())
    when = formatting.day(made.work_date, locale)
    if made.start_minute is not None and made.end_minute is not None:
        when += f", {_time_of_day(made.start_minute)}–{_time_of_day(made.end_minute)}"
    return _(
        "Hours logged for %(name)s: %(when)s, %(hours)s at %(site)s.",
        name=made.member.full_name,
        when=when,
        hours=formatting.hours(made.minutes, locale),
        site=made.site.name,
    )


@bp.post("/logs/<int:log_id>/withdraw")
def withdraw(log_id: int) -> Response:
    """Its author takes back an entry nobody has decided yet, from the log page."""
    log = visible(queries.get_visible_log(current_user, log_id))
    allow(policies.can_withdraw_log(current_user, log))
    form = ReasonForm()
    back = redirect(url_for("work.log"))
    if not form.validate_on_submit():
        for refusal in named_errors(form):
            flash(refusal, "error")
        return back
    return perform(
        lambda: services.withdraw_log(
            current_user, log, form.reason.data or "", today=clock.today()
        ),
        then=lambda _log: back,
        back=lambda: back,
        success=lambda made: _(
            "Entry withdrawn for %(name)s: it counts nowhere.", name=made.member.full_name
        ),
    )


def _back(log: WorkLog) -> Response:
    if request.form.get("next"):
        return redirect(safe_next(request.form.get("next")))
    return redirect(url_for("households.detail", household_id=log.household_id))


def _decide(log_id: int, form: ActionForm | ReasonForm, action: str) -> Response:
    log = visible(queries.get_visible_log(current_user, log_id))
    allow(policies.can_decide_log(current_user, log, correcting=action == "correct"))
    back = _back(log)
    if not form.validate_on_submit():
        flash(_("Give the reason."), "error")
        return back
    reason = getattr(getattr(form, "reason", None), "data", None) or ""
    today = clock.today()
    acts = {
        "verify": lambda: services.verify(current_user, log, today=today),
        "reject": lambda: services.reject(current_user, log, reason, today=today),
        "correct": lambda: services.correct(current_user, log, reason, today=today),
    }
    return perform(acts[action], then=lambda _done: back, back=lambda: back, success=_done(action))


def _done(action: str) -> Callable[[WorkLog], str]:
    """The supervisor's confirmation names whose hours and how many; the other steps say done."""
    if action == "verify":
        return lambda log: _(
            "Confirmed %(hours)s for %(name)s.",
            hours=formatting.clock_hours(log.minutes),
            name=log.member.full_name,
        )
    return lambda _log: _("Recorded.")


@bp.post("/logs/<int:log_id>/verify")
def verify(log_id: int) -> Response:
    return _decide(log_id, ActionForm(), "verify")


@bp.post("/logs/<int:log_id>/reject")
def reject(log_id: int) -> Response:
    return _decide(log_id, ReasonForm(), "reject")


@bp.post("/logs/<int:log_id>/correct")
def correct(log_id: int) -> Response:
    return _decide(log_id, ReasonForm(), "correct")


def _day(value: str | None) -> date:
    """The day asked for (any day of a week opens that week, on that day), else today."""
    try:
        return date.fromisoformat(value) if value else clock.today()
    except ValueError:
        return clock.today()


def _monday(value: str | None) -> date:
    day = _day(value)
    return day - timedelta(days=day.weekday())


@bp.route("/sites/<int:site_id>/week", methods=["GET", "POST"])
def week(site_id: int) -> str | Response:
    site = visible(queries.get_verifiable_site(current_user, site_id))
    day = _day(request.values.get("start"))
    monday = _monday(request.values.get("start"))
    form = ActionForm()
    this_week = redirect(url_for("work.week", site_id=site.id, start=day.isoformat()))
    if request.method == "POST" and form.validate_on_submit():
        return perform(
            lambda: services.verify_week(current_user, site, monday, today=clock.today()),
            then=lambda _count: this_week,
            back=lambda: this_week,
            success=lambda count: _("%(count)d logs confirmed.", count=count),
        )
    sheet = queries.timesheet(site, monday)
    page = render_template(
        "work/week.html",
        sheet=sheet,
        day=day,
        form=form,
        reason_form=ReasonForm(formdata=None),
        previous=(monday - timedelta(days=7)).isoformat(),
        following=(monday + timedelta(days=7)).isoformat(),
    )
    return recorded(
        page,
        lambda: log_households_seen(
            current_user,
            (member.household_id for member, _days in sheet.rows),
            f"timesheet of site {site.id}, week of {monday.isoformat()}",
        ),
    )


@bp.route("/sites", methods=["GET", "POST"])
def sites() -> str | Response:
    managed = bool(policies.site_municipalities(current_user))
    verifiable = queries.sites_to_verify(current_user)
    allow(managed or bool(verifiable))
    form = SiteForm()
    form.enterprise_id.choices = [
        (e.id, str(e)) for e in queries.enterprises_for_sites(current_user)
    ]
    done = managed and submit(
        form,
        lambda: services.add_site(
            current_user,
            chosen(queries.get_enterprise(form.enterprise_id.data)),
            form.name.data or "",
            form.place.data or "",
            form.kind_of_work.data or "",
        ),
        then=lambda _site: redirect(url_for("work.sites")),
        success=_("Work site added."),
    )
    return done or render_template(
        "work/sites.html",
        sites=verifiable,
        waiting=queries.waiting_at([s.id for s in verifiable]),
        form=form if managed else None,
    )

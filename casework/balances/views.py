"""A programme's balance checks (with a button to run one now) and reading alerts."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user
from werkzeug.wrappers import Response

from casework import clock, formatting
from casework.actions import allow, perform, visible
from casework.balances import queries, services
from casework.db import utcnow
from casework.forms_common import KeyedForm
from casework.programmes import queries as programme_queries
from casework.security import policies
from casework.urls import safe_next

bp = Blueprint("balances", __name__)


class ActionForm(KeyedForm):
    """A button that only needs the CSRF token."""


@bp.route("/programmes/<int:programme_id>/checks", methods=["GET", "POST"])
def checks(programme_id: int) -> str | Response:
    programme = visible(programme_queries.get_budget_programme(current_user, programme_id))
    form = ActionForm()
    may_run = policies.can_manage_programme(current_user, programme)
    if request.method == "POST":
        allow(may_run)
        here = redirect(url_for("balances.checks", programme_id=programme.id))
        if not form.validate_on_submit():
            return here
        return perform(
            lambda: services.start_check(current_user, programme, today=clock.today()),
            then=lambda job: redirect(url_for("jobs.show", job_id=job.id)),
            back=lambda: here,
        )
    return render_template(
        "balances/checks.html",
        programme=programme,
        schedule=formatting.schedule(programme.check_schedule, str(get_locale() or "mk")),
        runs=queries.runs_of(programme),
        form=form,
        may_run=may_run,
    )


@bp.post("/alerts/<int:alert_id>/read")
def read_alert(alert_id: int) -> Response:
    alert = visible(queries.get_visible_alert(current_user, alert_id))
    back = redirect(safe_next(request.form.get("next")))
    if not ActionForm().validate_on_submit():
        return back
    return perform(
        lambda: services.mark_read(current_user, alert, now=utcnow()),
        then=lambda _read: back,
        back=lambda: back,
    )


@bp.post("/alerts/read")
def read_all_alerts() -> Response:
    """ "Mark all as read": one button for every alert the page showed."""
    allow(policies.can_read_alerts(current_user))
    back = redirect(safe_next(request.form.get("next")))
    if not ActionForm().validate_on_submit():
        return back
    up_to = request.form.get("up_to", type=int)
    household_id = request.form.get("household_id", type=int)
    return perform(
        lambda: services.mark_all_read(
            current_user, up_to=up_to, now=utcnow(), household_id=household_id
        ),
        then=lambda _marked: back,
        back=lambda: back,
    )

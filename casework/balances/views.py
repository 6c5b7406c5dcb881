"""A programme's balance checks (with a button to run one now) and reading alerts."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from casework.balances import queries, services
from casework.balances.models import Alert
from casework.db import utcnow
from casework.errors import DomainError
from casework.extensions import db
from casework.programmes.models import Programme
from casework.security import policies
from casework.urls import safe_next

bp = Blueprint("balances", __name__)


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""


@bp.route("/programmes/<int:programme_id>/checks", methods=["GET", "POST"])
def checks(programme_id: int) -> str | Response:
    programme = db.session.get(Programme, programme_id)
    if programme is None or not policies.can_view_budget(current_user, programme):
        abort(404)
    form = ActionForm()
    may_run = policies.can_manage_programme(current_user, programme)
    if request.method == "POST":
        if not may_run:
            abort(403)
        if form.validate_on_submit():
            try:
                job = services.start_check(current_user, programme, today=date.today())
            except DomainError as error:
                db.session.rollback()
                flash(error.message, "error")
            else:
                started = redirect(url_for("jobs.show", job_id=job.id))  # before the commit:
                db.session.commit()  # a read after it waits for the lock the worker takes
                return started
        return redirect(url_for("balances.checks", programme_id=programme.id))
    return render_template(
        "balances/checks.html",
        programme=programme,
        runs=queries.runs_of(programme),
        form=form,
        may_run=may_run,
    )


@bp.post("/alerts/<int:alert_id>/read")
def read_alert(alert_id: int) -> Response:
    alert = db.session.get(Alert, alert_id)
    if alert is None or alert.user_id != current_user.id:
        abort(404)
    if ActionForm().validate_on_submit():
        services.mark_read(current_user, alert, now=utcnow())
        db.session.commit()
    return redirect(safe_next(request.form.get("next")))

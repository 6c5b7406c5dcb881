"""Pages for each step of an enrollment, and for a programme's commission."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.enrollment import queries, services
from casework.enrollment.forms import (
    AgreementForm,
    ApplyForm,
    CloseForm,
    CommissionMemberForm,
    DecisionForm,
    vote_choices,
)
from casework.enrollment.models import Enrollment
from casework.errors import DomainError
from casework.extensions import db
from casework.forms_common import show_domain_error
from casework.households.queries import get_visible_household
from casework.payments.queries import household_money
from casework.programmes.models import Programme
from casework.security import policies

bp = Blueprint("enrollment", __name__)


def _today() -> date:
    return date.today()


def _load(enrollment_id: int) -> Enrollment:
    enrollment = queries.get_visible_enrollment(current_user, enrollment_id)
    if enrollment is None:
        abort(404)
    if not policies.can_manage_household(current_user, enrollment.household):
        abort(403)
    return enrollment


def _back(enrollment: Enrollment) -> Response:
    return redirect(url_for("households.detail", household_id=enrollment.household_id))


@bp.route("/households/<int:household_id>/apply", methods=["GET", "POST"])
def apply(household_id: int) -> str | Response:
    household = get_visible_household(current_user, household_id)
    if household is None:
        abort(404)
    if not policies.can_manage_household(current_user, household):
        abort(403)
    programmes = queries.programmes_open_to(household)
    form = ApplyForm()
    form.programme_id.choices = [(p.id, p.name) for p in programmes]
    if request.method == "GET":
        form.applied_on.data = _today()
    if form.validate_on_submit():
        programme = db.session.get(Programme, form.programme_id.data)
        try:
            if programme is None:
                abort(400)
            services.apply(
                current_user, household, programme, applied_on=form.applied_on.data, today=_today()
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Application registered."), "success")
            return redirect(url_for("households.detail", household_id=household.id))
    eligibility = [(p, household_money(household, p)) for p in programmes]
    return render_template(
        "enrollment/apply.html", form=form, household=household, eligibility=eligibility
    )


@bp.route("/enrollments/<int:enrollment_id>/decision", methods=["GET", "POST"])
def decision(enrollment_id: int) -> str | Response:
    enrollment = _load(enrollment_id)
    members = services.commission_of(enrollment.programme)
    form = DecisionForm()
    if request.method == "GET":
        form.decided_on.data = _today()
    votes = {m.id: request.form.get(f"vote-{m.id}", "") for m in members}
    if form.validate_on_submit():
        data = services.DecisionData(
            decided_on=form.decided_on.data,
            outcome=form.outcome.data or "",
            votes={member_id: vote for member_id, vote in votes.items() if vote},
            reference=form.reference.data or "",
            reason=form.reason.data or "",
        )
        try:
            services.record_decision(current_user, enrollment, data, today=_today())
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("The commission's decision is recorded."), "success")
            return _back(enrollment)
    return render_template(
        "enrollment/decision.html",
        form=form,
        enrollment=enrollment,
        members=members,
        votes=votes,
        vote_choices=vote_choices(),
    )


@bp.route("/enrollments/<int:enrollment_id>/agreement", methods=["GET", "POST"])
def agreement(enrollment_id: int) -> str | Response:
    enrollment = _load(enrollment_id)
    form = AgreementForm()
    today = _today()
    form.signatories.choices = [
        (m.id, f"{m.full_name} ({m.age_on(today)})") for m in enrollment.household.members
    ]
    if request.method == "GET":
        form.signed_on.data = today
    if form.validate_on_submit():
        try:
            services.sign_agreement(
                current_user,
                enrollment,
                signed_on=form.signed_on.data,
                reference=form.reference.data or "",
                signatory_ids=form.signatories.data or [],
                today=today,
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Agreement recorded: the enrollment is active."), "success")
            return _back(enrollment)
    return render_template("enrollment/agreement.html", form=form, enrollment=enrollment)


def _close(enrollment_id: int, action: str) -> str | Response:
    enrollment = _load(enrollment_id)
    form = CloseForm()
    if request.method == "GET":
        form.effective_on.data = _today()
    if form.validate_on_submit():
        step = services.withdraw if action == "withdraw" else services.complete
        try:
            step(
                current_user,
                enrollment,
                on=form.effective_on.data,
                reason=form.reason.data or "",
                today=_today(),
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Enrollment closed."), "success")
            return _back(enrollment)
    return render_template("enrollment/close.html", form=form, enrollment=enrollment, action=action)


@bp.route("/enrollments/<int:enrollment_id>/withdraw", methods=["GET", "POST"])
def withdraw(enrollment_id: int) -> str | Response:
    return _close(enrollment_id, "withdraw")


@bp.route("/enrollments/<int:enrollment_id>/complete", methods=["GET", "POST"])
def complete(enrollment_id: int) -> str | Response:
    return _close(enrollment_id, "complete")


@bp.route("/programmes/<int:programme_id>/commission", methods=["GET", "POST"])
def commission(programme_id: int) -> str | Response:
    programme = db.session.get(Programme, programme_id)
    if programme is None or not policies.can_view_programme(current_user, programme):
        abort(404)
    if not policies.can_manage_programme(current_user, programme):
        abort(403)
    form = CommissionMemberForm()
    if form.validate_on_submit():
        try:
            services.add_commission_member(
                current_user, programme, form.name.data or "", form.seat.data or ""
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Commission member added."), "success")
            return redirect(url_for("enrollment.commission", programme_id=programme.id))
    return render_template(
        "enrollment/commission.html",
        form=form,
        programme=programme,
        members=queries.commission(programme),
    )

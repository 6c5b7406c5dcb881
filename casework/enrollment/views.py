"""Pages for each step of an enrollment, and for a programme's commission."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from casework import clock
from casework.actions import allow, recorded, submit, visible
from casework.enrollment import queries, services
from casework.enrollment.forms import (
    AgreementForm,
    ApplyForm,
    CloseEarlyForm,
    CloseForm,
    CommissionMemberForm,
    DecisionForm,
    ReopenForm,
    vote_choices,
)
from casework.enrollment.models import Enrollment, Vote
from casework.households.queries import get_visible_household
from casework.households.services import record_view
from casework.payments.queries import household_money
from casework.payments.services import record_money_view
from casework.programmes import queries as programme_queries
from casework.programmes.models import Programme
from casework.security import policies

bp = Blueprint("enrollment", __name__)


def _managed(enrollment_id: int) -> Enrollment:
    """Every step's page: the enrollment within the household scope (404), for its
    household's coordinators (403)."""
    enrollment = visible(queries.get_visible_enrollment(current_user, enrollment_id))
    allow(policies.can_manage_enrollment(current_user, enrollment))
    return enrollment


def _back(enrollment: Enrollment) -> Response:
    return redirect(url_for("households.detail", household_id=enrollment.household_id))


def _programme(programme_id: int) -> Programme:
    """The programme chosen in the form (its choices are the household's municipality's)."""
    programme = programme_queries.get_programme(programme_id)
    if programme is None:
        abort(400)
    return programme


@bp.route("/households/<int:household_id>/apply", methods=["GET", "POST"])
def apply(household_id: int) -> str | Response:
    household = visible(get_visible_household(current_user, household_id))
    allow(policies.can_manage_household(current_user, household))
    programmes = queries.programmes_open_to(household)
    form = ApplyForm()
    form.programme_id.choices = [(p.id, p.name) for p in programmes]
    today = clock.today()
    if request.method == "GET":
        form.applied_on.data = today
    return submit(
        form,
        lambda: services.apply(
            current_user,
            household,
            _programme(form.programme_id.data),
            applied_on=form.applied_on.data,
            today=today,
        ),
        then=_back,
        success=_("Application registered."),
    ) or recorded(
        render_template(
            "enrollment/apply.html",
            form=form,
            household=household,
            eligibility=[(p, household_money(household, p)) for p in programmes],
        ),
        lambda: record_money_view(current_user, household),
    )


@bp.route("/enrollments/<int:enrollment_id>/decision", methods=["GET", "POST"])
def decision(enrollment_id: int) -> str | Response:
    enrollment = _managed(enrollment_id)
    members = services.commission_of(enrollment.programme)
    form = DecisionForm()
    today = clock.today()
    if request.method == "GET":
        form.decided_on.data = today
    # Present and for, at first: a usual unanimous decision is recorded without a change.
    votes = {
        m.id: request.form.get(f"vote-{m.id}", "") if request.method == "POST" else Vote.FOR
        for m in members
    }
    return submit(
        form,
        lambda: services.record_decision(
            current_user,
            enrollment,
            services.DecisionData(
                decided_on=form.decided_on.data,
                outcome=form.outcome.data or "",
                votes={member_id: vote for member_id, vote in votes.items() if vote},
                reference=form.reference.data or "",
                reason=form.reason.data or "",
            ),
            today=today,
        ),
        then=lambda _decision: _back(enrollment),
        success=_("The commission's decision is recorded."),
    ) or render_template(
        "enrollment/decision.html",
        form=form,
        enrollment=enrollment,
        members=members,
        votes=votes,
        vote_choices=vote_choices(),
    )


@bp.route("/enrollments/<int:enrollment_id>/agreement", methods=["GET", "POST"])
def agreement(enrollment_id: int) -> str | Response:
    enrollment = _managed(enrollment_id)
    form = AgreementForm()
    today = clock.today()
    on = form.signed_on.data or today
    # Only adults on the agreement's day are offered; the service refuses a minor all the same.
    form.signatories.choices = [
        (m.id, f"{m.full_name} ({m.age_on(on)})")
        for m in enrollment.household.members
        if m.age_on(on) >= services.ADULT_AGE
    ]
    if request.method == "GET":
        form.signed_on.data = today
    return submit(
        form,
        lambda: services.sign_agreement(
            current_user,
            enrollment,
            signed_on=form.signed_on.data,
            reference=form.reference.data or "",
            signatory_ids=form.signatories.data or [],
            today=today,
        ),
        then=lambda _agreement: _back(enrollment),
        success=_("Agreement recorded: the enrollment is active."),
    ) or recorded(
        render_template("enrollment/agreement.html", form=form, enrollment=enrollment),
        lambda: record_view(current_user, enrollment.household),
    )


def _close(enrollment_id: int, action: str) -> str | Response:
    enrollment = _managed(enrollment_id)
    form = CloseForm()
    today = clock.today()
    if request.method == "GET":
        form.effective_on.data = today
    step = services.withdraw if action == "withdraw" else services.complete
    return submit(
        form,
        lambda: step(
            current_user,
            enrollment,
            on=form.effective_on.data,
            reason=form.reason.data or "",
            today=today,
        ),
        then=_back,
        success=_("Enrollment closed."),
    ) or render_template(
        "enrollment/close.html",
        form=form,
        enrollment=enrollment,
        action=action,
        balance=services.balance_of(enrollment),
    )


@bp.route("/enrollments/<int:enrollment_id>/withdraw", methods=["GET", "POST"])
def withdraw(enrollment_id: int) -> str | Response:
    return _close(enrollment_id, "withdraw")


@bp.route("/enrollments/<int:enrollment_id>/complete", methods=["GET", "POST"])
def complete(enrollment_id: int) -> str | Response:
    return _close(enrollment_id, "complete")


@bp.route("/enrollments/<int:enrollment_id>/close-early", methods=["GET", "POST"])
def close_early(enrollment_id: int) -> str | Response:
    """Ending an enrollment with hours still owed: the page shows the balance, asks for the
    reason and a confirmation."""
    enrollment = visible(queries.get_visible_enrollment(current_user, enrollment_id))
    allow(policies.can_close_enrollment_early(current_user, enrollment))
    form = CloseEarlyForm()
    today = clock.today()
    if request.method == "GET":
        form.effective_on.data = today
    # A date the form refused stands in as today, so that only the form names it.
    closing = services.EarlyClosing(
        on=form.effective_on.data or today,
        reason=form.close_reason.data or "",
        note=form.note.data or "",
    )
    return submit(
        form,
        lambda: services.close_early(current_user, enrollment, closing, today=today),
        then=_back,
        success=_("Enrollment closed early."),
        also=lambda: services.check_early_closing(enrollment, closing, today=today),
    ) or render_template(
        "enrollment/close_early.html",
        form=form,
        enrollment=enrollment,
        balance=services.balance_of(enrollment),
    )


@bp.route("/enrollments/<int:enrollment_id>/reopen", methods=["GET", "POST"])
def reopen(enrollment_id: int) -> str | Response:
    enrollment = visible(queries.get_visible_enrollment(current_user, enrollment_id))
    allow(policies.can_reopen_enrollment(current_user, enrollment))
    form = ReopenForm()
    return submit(
        form,
        lambda: services.reopen(
            current_user, enrollment, reason=form.reason.data or "", today=clock.today()
        ),
        then=_back,
        success=_("Enrollment reopened."),
    ) or render_template(
        "enrollment/reopen.html",
        form=form,
        enrollment=enrollment,
        returns_to=services.status_before_closing(enrollment),
        balance=services.balance_of(enrollment),
    )


@bp.route("/programmes/<int:programme_id>/commission", methods=["GET", "POST"])
def commission(programme_id: int) -> str | Response:
    programme = visible(programme_queries.get_visible_programme(current_user, programme_id))
    allow(policies.can_manage_programme(current_user, programme))
    form = CommissionMemberForm()
    return submit(
        form,
        lambda: services.add_commission_member(
            current_user, programme, form.name.data or "", form.seat.data or ""
        ),
        then=lambda _member: redirect(url_for("enrollment.commission", programme_id=programme.id)),
        success=_("Commission member added."),
    ) or render_template(
        "enrollment/commission.html",
        form=form,
        programme=programme,
        members=queries.commission(programme),
    )

"""The household register: list, detail, and the forms that change it.

Each view loads the object through a scoped query (outside the scope is a 404), checks the
policy, calls one service, commits, and redirects.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.audit.models import AccessAction
from casework.audit.services import log_access
from casework.balances import queries as balance_queries
from casework.enrollment import queries as enrollment_queries
from casework.enrollment import services as enrollment_services
from casework.errors import DomainError
from casework.extensions import db
from casework.forms_common import show_domain_error
from casework.households import queries, services
from casework.households.forms import (
    DuplicateForm,
    ExemptionForm,
    HouseholdForm,
    MemberForm,
    NewHouseholdForm,
    NoteForm,
    RevealForm,
)
from casework.households.models import Household, Member
from casework.organizations.models import Municipality
from casework.security import policies
from casework.security.models import User
from casework.work import queries as work_queries

bp = Blueprint("households", __name__, url_prefix="/households")


def _today() -> date:
    return date.today()


def _load_household(household_id: int) -> Household:
    household = queries.get_visible_household(current_user, household_id)
    if household is None:
        abort(404)
    return household


def _household_data(form: HouseholdForm) -> services.HouseholdData:
    return services.HouseholdData(
        address=form.address.data or "",
        settlement=form.settlement.data or "",
        phone=form.phone.data or "",
        language=form.language.data or "mk",
        consent_on=form.consent_on.data,
    )


def _member_data(fields: object, relation: str) -> services.MemberData:
    return services.MemberData(
        first_name=fields.first_name.data or "",  # type: ignore[attr-defined]
        last_name=fields.last_name.data or "",  # type: ignore[attr-defined]
        national_id=fields.national_id.data or None,  # type: ignore[attr-defined]
        birth_date=fields.birth_date.data,  # type: ignore[attr-defined]
        sex=fields.sex.data or None,  # type: ignore[attr-defined]
        relation=relation,
    )


def _worker_choices(municipality_id: int) -> list[tuple[int, str]]:
    workers = db.session.scalars(queries.social_workers_of(municipality_id)).all()
    return [(0, "—"), *((w.id, w.full_name) for w in workers)]


@bp.get("/")
def index() -> str:
    if not policies.can_list_households(current_user):
        abort(403)
    q = request.args.get("q", "")[:100]
    page = request.args.get("page", 1, type=int)
    pagination = db.paginate(
        queries.visible_households(current_user, q),
        page=page,
        per_page=current_app.config["CASEWORK"].page_size,
        error_out=False,
    )
    rendered = render_template(
        "households/index.html",
        pagination=pagination,
        balances=work_queries.balances(h.id for h in pagination.items),
        q=q,
        can_create=bool(policies.municipalities_for_new_households(current_user)),
    )
    cases = ", ".join(h.case_number for h in pagination.items)
    log_access(current_user, AccessAction.VIEW_LIST, detail=f"page {pagination.page}: {cases}")
    db.session.commit()
    return rendered


@bp.get("/<int:household_id>")
def detail(household_id: int) -> str:
    household = _load_household(household_id)
    today = _today()
    enrollments = enrollment_queries.enrollments_of(household)
    current = next((e for e in enrollments if e.is_open), None)
    can_manage = policies.can_manage_household(current_user, household)
    rendered = render_template(
        "households/detail.html",
        household=household,
        today=today,
        can_manage=can_manage,
        can_write_note=policies.can_write_note(current_user, household),
        enrollments=enrollments,
        current=current,
        work_refusals={
            m.id: enrollment_services.work_refusal(m, current, today) for m in household.members
        },
        notes=queries.notes_for(current_user, household),
        history=queries.caseload_history(household) if can_manage else [],
        reviews=queries.duplicate_reviews(household) if can_manage else [],
        note_form=NoteForm(formdata=None, written_on=today),
        balance=work_queries.balances([household.id])[household.id],
        member_totals=work_queries.member_totals(household),
        logs=work_queries.logs_of(household),
        check_history=balance_queries.history_of(household),
        can_log_work=policies.can_log_work(current_user, household),
        can_export_data=policies.can_export_household_data(current_user, household),
        duplicate_form=DuplicateForm(formdata=None),
        can_reveal=policies.can_reveal_national_id(current_user, household),
    )
    # Written after rendering: a page that failed to render was not seen.
    log_access(
        current_user,
        AccessAction.VIEW_HOUSEHOLD,
        household_id=household.id,
        municipality_id=household.municipality_id,
    )
    db.session.commit()
    return rendered


@bp.route("/new", methods=["GET", "POST"])
def create() -> str | Response:
    allowed = policies.municipalities_for_new_households(current_user)
    if not allowed:
        abort(403)
    municipalities = db.session.scalars(
        db.select(Municipality).where(Municipality.id.in_(allowed)).order_by(Municipality.name)
    ).all()
    form = NewHouseholdForm()
    form.municipality_id.choices = [(m.id, m.name) for m in municipalities]
    chosen = form.municipality_id.data if form.municipality_id.data in allowed else None
    form.assigned_worker_id.choices = _worker_choices(chosen or municipalities[0].id)
    if request.method == "GET":
        form.language.data = municipalities[0].default_locale
    if form.validate_on_submit():
        municipality = db.session.get(Municipality, form.municipality_id.data)
        try:
            if municipality is None:
                abort(400)
            household = services.create_household(
                current_user,
                municipality,
                _household_data(form),
                _member_data(form.head, "head"),
                today=_today(),
            )
            if form.assigned_worker_id.data:
                worker = db.session.get(User, form.assigned_worker_id.data)
                services.assign_worker(current_user, household, worker)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form.head, form)
        else:
            db.session.commit()
            flash(_("Household %(case)s registered.", case=household.case_number), "success")
            return redirect(url_for("households.detail", household_id=household.id))
    return render_template("households/new.html", form=form)


@bp.route("/<int:household_id>/edit", methods=["GET", "POST"])
def edit(household_id: int) -> str | Response:
    household = _load_household(household_id)
    if not policies.can_manage_household(current_user, household):
        abort(403)
    form = HouseholdForm(obj=household)
    form.assigned_worker_id.choices = _worker_choices(household.municipality_id)
    if request.method == "GET":
        form.assigned_worker_id.data = household.assigned_worker_id or 0
    if form.validate_on_submit():
        worker_id = form.assigned_worker_id.data or None
        worker = db.session.get(User, worker_id) if worker_id else None
        try:
            services.update_household(current_user, household, _household_data(form))
            services.assign_worker(current_user, household, worker)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Changes saved."), "success")
            return redirect(url_for("households.detail", household_id=household.id))
    return render_template("households/edit.html", form=form, household=household)


@bp.route("/<int:household_id>/members/new", methods=["GET", "POST"])
def add_member(household_id: int) -> str | Response:
    household = _load_household(household_id)
    if not policies.can_manage_household(current_user, household):
        abort(403)
    form = MemberForm()
    if form.validate_on_submit():
        try:
            member = services.add_member(
                current_user,
                household,
                _member_data(form, form.relation.data or ""),
                today=_today(),
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("%(name)s added to the household.", name=member.full_name), "success")
            return redirect(url_for("households.detail", household_id=household.id))
    return render_template(
        "households/member_form.html", form=form, household=household, member=None
    )


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
def edit_member(member_id: int) -> str | Response:
    member: Member | None = queries.get_visible_member(current_user, member_id)
    if member is None:
        abort(404)
    household = member.household
    if not policies.can_manage_household(current_user, household):
        abort(403)
    form = MemberForm(obj=member)
    if request.method == "GET":
        form.national_id.data = ""  # never sent to the browser; blank keeps the stored one
    if form.validate_on_submit():
        try:
            services.update_member(
                current_user, member, _member_data(form, form.relation.data or ""), today=_today()
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Changes saved."), "success")
            return redirect(url_for("households.detail", household_id=household.id))
    return render_template(
        "households/member_form.html", form=form, household=household, member=member
    )


@bp.route("/members/<int:member_id>/exemptions/new", methods=["GET", "POST"])
def add_exemption(member_id: int) -> str | Response:
    member = queries.get_visible_member(current_user, member_id)
    if member is None:
        abort(404)
    if not policies.can_manage_household(current_user, member.household):
        abort(403)
    form = ExemptionForm()
    if request.method == "GET":
        form.starts_on.data = _today()
    if form.validate_on_submit():
        try:
            services.add_exemption(
                current_user,
                member,
                form.reason.data or "",
                form.document_ref.data or "",
                form.starts_on.data,
                form.ends_on.data,
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Exemption recorded."), "success")
            return redirect(url_for("households.detail", household_id=member.household_id))
    return render_template("households/exemption_form.html", form=form, member=member)


@bp.post("/<int:household_id>/notes")
def add_note(household_id: int) -> str | Response:
    household = _load_household(household_id)
    if not policies.can_write_note(current_user, household):
        abort(403)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            services.add_note(
                current_user,
                household,
                form.text.data or "",
                form.visibility.data or "",
                written_on=form.written_on.data,
                today=_today(),
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Note saved."), "success")
            return redirect(url_for("households.detail", household_id=household.id) + "#notes")
    flash(
        " ".join(str(e) for errors in form.errors.values() for e in errors)
        or " ".join(form.form_errors),
        "error",
    )
    return redirect(url_for("households.detail", household_id=household.id) + "#notes")


@bp.post("/duplicates/<int:review_id>")
def decide_duplicate(review_id: int) -> Response:
    review = queries.get_visible_duplicate_review(current_user, review_id)
    if review is None:
        abort(404)
    if not policies.can_manage_household(current_user, review.household):
        abort(403)
    form = DuplicateForm()
    if form.validate_on_submit():
        try:
            services.decide_duplicate(
                current_user, review, form.decision.data or "", today=_today()
            )
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("Decision on the possible duplicate recorded."), "success")
    return redirect(url_for("households.detail", household_id=review.household_id))


@bp.route("/members/<int:member_id>/national-id", methods=["GET", "POST"])
def reveal_national_id(member_id: int) -> str:
    member = queries.get_visible_member(current_user, member_id)
    if member is None:
        abort(404)
    if not policies.can_reveal_national_id(current_user, member.household):
        abort(403)
    form = RevealForm()
    revealed = None
    if form.validate_on_submit():
        try:
            revealed = services.reveal_national_id(current_user, member, form.reason.data or "")
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
    return render_template(
        "households/national_id.html", member=member, form=form, revealed=revealed
    )

"""The household register: list, detail, and the forms that change it.

Each view loads the object within the user's scope (outside it is a 404), checks the policy
(a 403), and hands the form to one service call in one unit of work (``casework.actions``).
"""

from __future__ import annotations

import dataclasses

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from casework import clock
from casework.actions import allow, perform, recorded, submit, visible
from casework.balances import queries as balance_queries
from casework.bounds import query_int
from casework.enrollment import queries as enrollment_queries
from casework.enrollment import services as enrollment_services
from casework.enrollment.models import Status as EnrollmentStatus
from casework.extensions import db
from casework.forms_common import named_errors
from casework.households import queries, services
from casework.households.forms import (
    DuplicateForm,
    ExemptionForm,
    HouseholdForm,
    ListFilterForm,
    MemberForm,
    NewHouseholdForm,
    NoteForm,
    RevealForm,
)
from casework.households.models import Relation
from casework.labels import CHECK_STATUS_LABELS, ENROLLMENT_STATUS_LABELS, label
from casework.organizations.models import Municipality
from casework.programmes.queries import visible_programmes
from casework.security import policies
from casework.work import queries as work_queries

bp = Blueprint("households", __name__, url_prefix="/households")


def _to_detail(household_id: int, anchor: str = "") -> Response:
    return redirect(url_for("households.detail", household_id=household_id) + anchor)


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


def _chosen_municipality(municipality_id: int) -> Municipality:
    """The form's choices hold only the user's municipalities: anything else is a bad request."""
    municipality = queries.get_municipality(municipality_id)
    if municipality is None:
        abort(400)
    return municipality


def _status_choices() -> list[tuple[str, str]]:
    return [
        ("", _("Any")),
        (queries.NOT_ENROLLED, _("not enrolled")),
        *((s.value, label(ENROLLMENT_STATUS_LABELS, s.value)) for s in EnrollmentStatus),
    ]


def _check_choices() -> list[tuple[str, str]]:
    return [
        ("", _("Any")),
        (queries.LATE, _("behind or overdue")),
        *((code, label(CHECK_STATUS_LABELS, code)) for code in ("behind", "overdue")),
    ]


def _list_filter_form() -> ListFilterForm:
    """The list's filters from the URL, offering only what lies in the user's scope."""
    form = ListFilterForm(request.args)
    workers = queries.list_workers(current_user)
    form.status.choices = _status_choices()
    form.worker_id.choices = [
        ("", _("Any")),
        *([(str(queries.UNASSIGNED), _("no social worker"))] if workers else []),
        *((str(w.id), w.full_name) for w in workers),
    ]
    form.settlement.choices = [
        ("", _("Any")),
        *((s, s) for s in queries.list_settlements(current_user)),
    ]
    form.programme_id.choices = [
        ("", _("Any")),
        *((str(p.id), p.name) for p in db.session.scalars(visible_programmes(current_user))),
    ]
    form.check.choices = _check_choices()
    form.sort.choices = [
        ("urgency", _("urgency")),
        ("case", _("Case number")),
        ("name", _("Head of household")),
    ]
    return form


def _as_int(value: str | None) -> int | None:
    return int(value) if value is not None else None


def list_filter_of(form: ListFilterForm, q: str) -> queries.ListFilter:
    chosen = form.chosen()
    return queries.ListFilter(
        q=q,
        status=chosen["status"],
        worker_id=_as_int(chosen["worker_id"]),
        settlement=chosen["settlement"],
        programme_id=_as_int(chosen["programme_id"]),
        check=chosen["check"],
        sort=chosen["sort"] or "urgency",
    )


def _filter_args(wanted: queries.ListFilter) -> dict[str, object]:
    """The chosen filters as URL parameters: for the pager, the export and the way back."""
    args = {
        "q": wanted.q,
        "status": wanted.status,
        "worker_id": wanted.worker_id,
        "settlement": wanted.settlement,
        "programme_id": wanted.programme_id,
        "check": wanted.check,
    }
    return {k: v for k, v in args.items() if v not in (None, "")}


@bp.get("/")
def index() -> str:
    allow(policies.can_list_households(current_user))
    q = request.args.get("q", "")[:100]
    national_id = queries.national_id_searched(q)
    page = request.args.get("page", 1, type=query_int)
    form = _list_filter_form()
    wanted = list_filter_of(form, q)
    pagination = queries.paginate_rows(
        queries.household_list(current_user, wanted),
        page=page or 1,
        per_page=current_app.config["CASEWORK"].page_size,
    )
    households = [row[0] for row in pagination.items]
    # A national ID searched for is never shown back: not in the search box, nor in the
    # pager, nor in the language switch's way back to this page.
    shown_q = "" if national_id else q
    form.q.data = shown_q
    filters = _filter_args(dataclasses.replace(wanted, q=shown_q))
    rendered = render_template(
        "households/index.html",
        pagination=pagination,
        rows=work_queries.listed(pagination.items),
        form=form,
        refused=form.refused(),
        filters=filters,
        sort=wanted.sort,
        filtered=bool(filters) or national_id is not None,
        q=shown_q,
        by_national_id=national_id is not None,
        language_next=url_for("households.index") if national_id else None,
        can_create=policies.can_create_households(current_user),
    )
    return recorded(
        rendered,
        lambda: services.record_list_view(
            current_user, households, f"households page {pagination.page}", national_id
        ),
    )


@bp.get("/<int:household_id>")
def detail(household_id: int) -> str:
    household = visible(queries.get_visible_household(current_user, household_id))
    today = clock.today()
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
        can_reopen=bool(enrollments)
        and enrollments[0].is_reopenable
        and policies.can_reopen_enrollment(current_user, enrollments[0]),
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
    return recorded(rendered, lambda: services.record_view(current_user, household))


@bp.route("/new", methods=["GET", "POST"])
def create() -> str | Response:
    allow(policies.can_create_households(current_user))
    municipalities = queries.municipalities_for_new_households(current_user)
    allowed = {m.id for m in municipalities}
    form = NewHouseholdForm()
    form.municipality_id.choices = [(m.id, m.name) for m in municipalities]
    chosen = form.municipality_id.data if form.municipality_id.data in allowed else None
    form.assigned_worker_id.choices = _worker_choices(chosen or municipalities[0].id)
    if request.method == "GET":
        form.language.data = municipalities[0].default_locale
    return submit(
        form,
        lambda: services.register_household(
            current_user,
            _chosen_municipality(form.municipality_id.data),
            _household_data(form),
            _member_data(form.head, Relation.HEAD),
            worker_id=form.assigned_worker_id.data or None,
            today=clock.today(),
        ),
        then=lambda household: _to_detail(household.id),
        success=lambda household: _("Household %(case)s registered.", case=household.case_number),
        forms=(form.head,),
        also=lambda: services.check_registration(
            _household_data(form), _member_data(form.head, Relation.HEAD), today=clock.today()
        ),
    ) or render_template("households/new.html", form=form)


@bp.route("/<int:household_id>/edit", methods=["GET", "POST"])
def edit(household_id: int) -> str | Response:
    household = visible(queries.get_visible_household(current_user, household_id))
    allow(policies.can_manage_household(current_user, household))
    form = HouseholdForm(obj=household)
    form.assigned_worker_id.choices = _worker_choices(household.municipality_id)
    if request.method == "GET":
        form.assigned_worker_id.data = household.assigned_worker_id or 0
    return submit(
        form,
        lambda: services.edit_household(
            current_user,
            household,
            _household_data(form),
            form.assigned_worker_id.data or None,
            today=clock.today(),
        ),
        then=lambda _household: _to_detail(household.id),
        success=_("Changes saved."),
        also=lambda: services.check_household(_household_data(form), today=clock.today()),
    ) or recorded(
        render_template("households/edit.html", form=form, household=household),
        lambda: services.record_view(current_user, household),
    )


@bp.route("/<int:household_id>/members/new", methods=["GET", "POST"])
def add_member(household_id: int) -> str | Response:
    household = visible(queries.get_visible_household(current_user, household_id))
    allow(policies.can_manage_household(current_user, household))
    form = MemberForm()
    return submit(
        form,
        lambda: services.add_member(
            current_user,
            household,
            _member_data(form, form.relation.data or ""),
            today=clock.today(),
        ),
        then=lambda _member: _to_detail(household.id),
        success=lambda member: _("%(name)s added to the household.", name=member.full_name),
        also=lambda: services.check_member(
            _member_data(form, form.relation.data or ""), today=clock.today()
        ),
    ) or render_template("households/member_form.html", form=form, household=household, member=None)


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
def edit_member(member_id: int) -> str | Response:
    member = visible(queries.get_visible_member(current_user, member_id))
    allow(policies.can_manage_member(current_user, member))
    household = member.household
    form = MemberForm(obj=member)
    if request.method == "GET":
        form.national_id.data = ""  # never sent to the browser; blank keeps the stored one
    return submit(
        form,
        lambda: services.update_member(
            current_user, member, _member_data(form, form.relation.data or ""), today=clock.today()
        ),
        then=lambda _member: _to_detail(household.id),
        success=_("Changes saved."),
    ) or recorded(
        render_template(
            "households/member_form.html", form=form, household=household, member=member
        ),
        lambda: services.record_view(current_user, household),
    )


@bp.route("/members/<int:member_id>/exemptions/new", methods=["GET", "POST"])
def add_exemption(member_id: int) -> str | Response:
    member = visible(queries.get_visible_member(current_user, member_id))
    allow(policies.can_manage_member(current_user, member))
    form = ExemptionForm()
    if request.method == "GET":
        form.starts_on.data = clock.today()
    return submit(
        form,
        lambda: services.add_exemption(
            current_user,
            member,
            form.reason.data or "",
            form.document_ref.data or "",
            form.starts_on.data,
            form.ends_on.data,
        ),
        then=lambda _exemption: _to_detail(member.household_id),
        success=_("Exemption recorded."),
    ) or recorded(
        render_template("households/exemption_form.html", form=form, member=member),
        lambda: services.record_view(current_user, member.household),
    )


@bp.post("/<int:household_id>/notes")
def add_note(household_id: int) -> Response:
    household = visible(queries.get_visible_household(current_user, household_id))
    allow(policies.can_write_note(current_user, household))
    form = NoteForm()
    notes = _to_detail(household.id, "#notes")
    done = submit(
        form,
        lambda: services.add_note(
            current_user,
            household,
            form.text.data or "",
            form.visibility.data or "",
            written_on=form.written_on.data,
            today=clock.today(),
        ),
        then=lambda _note: notes,
        success=_("Note saved."),
    )
    if done is not None:
        return done
    for refusal in named_errors(form):
        flash(refusal, "error")
    return notes


@bp.post("/duplicates/<int:review_id>")
def decide_duplicate(review_id: int) -> Response:
    review = visible(queries.get_visible_duplicate_review(current_user, review_id))
    allow(policies.can_decide_duplicate(current_user, review))
    form = DuplicateForm()
    back = _to_detail(review.household_id)
    if not form.validate_on_submit():
        return back
    return perform(
        lambda: services.decide_duplicate(
            current_user, review, form.decision.data or "", today=clock.today()
        ),
        then=lambda _review: back,
        back=lambda: back,
        success=_("Decision on the possible duplicate recorded."),
    )


@bp.route("/members/<int:member_id>/national-id", methods=["GET", "POST"])
def reveal_national_id(member_id: int) -> Response:
    member = visible(queries.get_visible_member(current_user, member_id))
    allow(policies.can_reveal_national_id(current_user, member.household))
    form = RevealForm()

    def page(revealed: str | None) -> Response:
        return make_response(
            render_template(
                "households/national_id.html", member=member, form=form, revealed=revealed
            )
        )

    return submit(
        form,
        lambda: services.reveal_national_id(current_user, member, form.reason.data or ""),
        then=page,
    ) or recorded(page(None), lambda: services.record_view(current_user, member.household))

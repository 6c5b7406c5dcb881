"""Pages for a household's money, payment requests, the officer's queue, the budget and the
creditors. Each view loads within the user's scope, checks the policy, calls one service."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from casework import clock
from casework.actions import allow, each, recorded, submit, visible
from casework.audit.models import AccessAction
from casework.audit.services import log_households_seen
from casework.bounds import query_int
from casework.households.models import Household
from casework.payments import queries, services
from casework.payments.forms import (
    AccountForm,
    ActionForm,
    ArrearForm,
    CreditorForm,
    CustomerNumberForm,
    EditRequestForm,
    PaymentForm,
    ReasonForm,
    ReplaceArrearForm,
    RequestForm,
    ReversalForm,
)
from casework.payments.models import Arrear, PaymentRequest, UtilityAccount
from casework.programmes import queries as programme_queries
from casework.security import policies
from casework.security.models import User
from casework.security.sessions import reauth_redirect, recent_password_required

bp = Blueprint("payments", __name__)

T = TypeVar("T")


def _chosen(found: T | None) -> T:
    """The row a validated select named; gone since the form was drawn, the request is bad."""
    if found is None:
        abort(400)
    return found


def _to_money(household: Household) -> Callable[[object], Response]:
    return lambda _done: redirect(url_for("payments.money", household_id=household.id))


# --- a household's money -----------------------------------------------------------------------


def _account_form(household: Household) -> AccountForm:
    form = AccountForm(prefix="account")
    form.creditor_id.choices = [
        (c.id, str(c)) for c in queries.creditors(current_user, serving=household)
    ]
    return form


def _arrear_form(accounts: Iterable[UtilityAccount]) -> ArrearForm:
    form = ArrearForm(prefix="arrear")
    form.account_id.choices = [(a.id, f"{a.creditor} · {a.customer_number}") for a in accounts]
    return form


def _request_form(arrears: Iterable[Arrear]) -> RequestForm:
    form = RequestForm(prefix="request")
    form.arrear_id.choices = [(a.id, f"{a.account.creditor} · {a.statement_ref}") for a in arrears]
    return form


def _render_money(household: Household, **forms: object) -> str:
    enrollment = services.active_enrollment_of(household)
    money = queries.household_money(household, enrollment.programme if enrollment else None)
    requestable = [
        line.arrear for line in money.lines if line.requestable > 0 and not line.not_eligible
    ]
    defaults: dict[str, object] = {
        "account_form": _account_form(household),
        "arrear_form": _arrear_form(money.accounts),
        "request_form": _request_form(requestable),
    }
    return render_template(
        "payments/money.html",
        household=household,
        enrollment=enrollment,
        money=money,
        can_record=policies.can_record_arrears(current_user, household),
        **(defaults | {k: v for k, v in forms.items() if v is not None}),
    )


def _recorder_household(household_id: int) -> Household:
    """Accounts, statements and requests are the NGO's side (its coordinators), else a 403."""
    household = visible(queries.get_visible_money(current_user, household_id))
    allow(policies.can_record_arrears(current_user, household))
    return household


@bp.route("/households/<int:household_id>/money")
def money(household_id: int) -> str:
    household = visible(queries.get_visible_money(current_user, household_id))
    page = _render_money(household)
    return recorded(page, lambda: services.record_money_view(current_user, household))


@bp.route("/households/<int:household_id>/accounts", methods=["POST"])
def add_account(household_id: int) -> str | Response:
    household = _recorder_household(household_id)
    form = _account_form(household)
    return submit(
        form,
        lambda: services.open_account(
            current_user,
            household,
            _chosen(queries.get_visible_creditor(current_user, form.creditor_id.data)),
            form.customer_number.data or "",
        ),
        then=_to_money(household),
        success=_("Utility account added."),
    ) or _render_money(household, account_form=form)


def _arrear_draft(form: ArrearForm) -> services.ArrearDraft:
    """What the statement form holds, even where its own fields are refused."""
    return services.ArrearDraft(
        period_from=form.period_from.data,
        period_to=form.period_to.data,
        principal_deni=form.principal.data,
        penalty_deni=form.penalty.data or 0,
        statement_ref=form.statement_ref.data or "",
        received_on=form.received_on.data,
    )


def _arrear_data(form: ArrearForm) -> services.ArrearData:
    """The statement of a validated form: every date is there, an amount left empty is zero."""
    draft = _arrear_draft(form)
    return services.ArrearData(**vars(draft) | {"principal_deni": draft.principal_deni or 0})


@bp.route("/households/<int:household_id>/arrears", methods=["POST"])
def add_arrear(household_id: int) -> str | Response:
    household = _recorder_household(household_id)
    accounts = {a.id: a for a in services.accounts_of(household)}
    form = _arrear_form(accounts.values())

    def _record() -> Arrear:
        account = _chosen(accounts.get(form.account_id.data or 0))
        data = _arrear_data(form)
        return services.record_arrear(current_user, account, data, today=clock.today())

    return submit(
        form,
        _record,
        then=_to_money(household),
        success=_("Debt statement recorded."),
        also=lambda: services.check_arrear(_arrear_draft(form), today=clock.today()),
    ) or _render_money(household, arrear_form=form)


@bp.route("/households/<int:household_id>/requests", methods=["POST"])
def add_request(household_id: int) -> str | Response:
    household = _recorder_household(household_id)
    arrears = {a.id: a for account in services.accounts_of(household) for a in account.arrears}
    form = _request_form(arrears.values())
    return submit(
        form,
        lambda: services.request_payment(
            current_user,
            _chosen(arrears.get(form.arrear_id.data or 0)),
            form.amount.data or 0,
            form.justification.data or "",
            today=clock.today(),
            submit_now=bool(form.submit_now.data),
        ),
        then=_to_money(household),
        success=_("Payment request saved."),
    ) or _render_money(household, request_form=form)


# --- corrections: a statement voided or replaced, a customer number corrected ----------------


def _corrected_arrear(arrear_id: int) -> Arrear:
    arrear = visible(queries.get_visible_arrear(current_user, arrear_id))
    allow(policies.can_correct_arrear(current_user, arrear))
    return arrear


def _render_correction(arrear: Arrear, **forms: object) -> str:
    figures = {
        name: getattr(arrear, name)
        for name in ("period_from", "period_to", "statement_ref", "received_on")
    }
    defaults: dict[str, object] = {
        "void_form": ReasonForm(prefix="void"),
        "replace_form": ReplaceArrearForm(
            prefix="replace",
            data=figures | {"principal": arrear.principal_deni, "penalty": arrear.penalty_deni},
        ),
    }
    return render_template(
        "payments/correct_statement.html",
        arrear=arrear,
        household=arrear.account.household,
        requests=queries.requests_on(arrear),
        outstanding=services.outstanding(arrear),
        **(defaults | {k: v for k, v in forms.items() if v is not None}),
    )


@bp.route("/arrears/<int:arrear_id>/correct")
def correct_arrear(arrear_id: int) -> str:
    arrear = _corrected_arrear(arrear_id)
    page = _render_correction(arrear)
    household = arrear.account.household
    return recorded(page, lambda: services.record_money_view(current_user, household))


@bp.route("/arrears/<int:arrear_id>/void", methods=["POST"])
def void_arrear(arrear_id: int) -> str | Response:
    arrear = _corrected_arrear(arrear_id)
    form = ReasonForm(prefix="void")
    return submit(
        form,
        lambda: services.void_arrear(
            current_user, arrear, form.reason.data or "", today=clock.today()
        ),
        then=_to_money(arrear.account.household),
        success=_("Statement voided; it no longer counts in the family's debt."),
    ) or _render_correction(arrear, void_form=form)


@bp.route("/arrears/<int:arrear_id>/replace", methods=["POST"])
def replace_arrear(arrear_id: int) -> str | Response:
    arrear = _corrected_arrear(arrear_id)
    form = ReplaceArrearForm(prefix="replace")
    return submit(
        form,
        lambda: services.replace_arrear(
            current_user, arrear, _arrear_data(form), form.reason.data or "", today=clock.today()
        ),
        then=_to_money(arrear.account.household),
        success=_("Statement replaced; the corrected one counts in its place."),
    ) or _render_correction(arrear, replace_form=form)


@bp.route("/accounts/<int:account_id>/customer-number", methods=["GET", "POST"])
def correct_account(account_id: int) -> str | Response:
    account = visible(queries.get_visible_account(current_user, account_id))
    allow(policies.can_correct_account(current_user, account))
    household = account.household
    form = CustomerNumberForm()
    answer = submit(
        form,
        lambda: services.correct_customer_number(
            current_user,
            account,
            form.customer_number.data or "",
            form.reason.data or "",
            today=clock.today(),
        ),
        then=_to_money(household),
        success=_("Customer number corrected; the old number stays in the history."),
    )
    if answer is not None:
        return answer
    page = render_template(
        "payments/correct_account.html", account=account, household=household, form=form
    )
    if request.method == "POST":
        return page
    return recorded(page, lambda: services.record_money_view(current_user, household))


# --- one request -------------------------------------------------------------------------------


def _render_request(item: PaymentRequest, **forms: object) -> str:
    today = clock.today()
    defaults: dict[str, object] = {
        "action_form": ActionForm(),
        "reject_form": ReasonForm(prefix="reject"),
        "cancel_form": ReasonForm(prefix="cancel"),
        "payment_form": PaymentForm(
            prefix="payment", data={"paid_on": today, "amount": item.amount_deni}
        ),
        "reversal_form": ReversalForm(prefix="reversal", data={"reversed_on": today}),
        "edit_form": EditRequestForm(
            prefix="edit",
            data={"amount": item.amount_deni, "justification": item.justification},
        ),
    }
    return render_template(
        "payments/request.html",
        item=item,
        household=item.enrollment.household,
        is_officer=policies.can_decide_request(current_user, item),
        may_decide=policies.may_decide_now(current_user, item),
        waits_for_second=policies.has_given_first_approval(current_user, item),
        is_coordinator=policies.can_prepare_request(current_user, item),
        outstanding=services.outstanding(item.arrear),
        **(defaults | {k: v for k, v in forms.items() if v is not None}),
    )


@bp.route("/payments/requests/<int:request_id>")
def request_detail(request_id: int) -> str:
    return _request_page(visible(queries.get_visible_request(current_user, request_id)))


def _request_page(item: PaymentRequest, **forms: object) -> str:
    """The request's page shows the family's name and debts: who opened it is logged."""
    household = item.enrollment.household
    return recorded(
        _render_request(item, **forms), lambda: services.record_money_view(current_user, household)
    )


def _step(
    request_id: int,
    may: Callable[[User, PaymentRequest], bool],
    form_name: str,
    make_form: Callable[[], FlaskForm],
    act: Callable[[PaymentRequest, Any], object],
    done: str,
) -> str | Response:
    """A step on one request. A step of the other side (maker or checker) is refused before
    the form is read; a refusal is shown on the request's page beside its form."""
    item = visible(queries.get_visible_request(current_user, request_id))
    allow(may(current_user, item))
    form = make_form()
    answer = submit(
        form,
        lambda: act(item, form),
        then=lambda _done: redirect(url_for("payments.request_detail", request_id=item.id)),
        success=done,
    )
    if answer is not None:
        return answer
    if not form.errors and not form.form_errors:
        flash(_("The form had expired. Please try again."), "error")
    return _request_page(item, **{form_name: form})


@bp.route("/payments/requests/<int:request_id>/edit", methods=["POST"])
def edit_request(request_id: int) -> str | Response:
    return _step(
        request_id,
        policies.can_prepare_request,
        "edit_form",
        lambda: EditRequestForm(prefix="edit"),
        lambda item, f: services.edit_request(
            current_user,
            item,
            f.amount.data or 0,
            f.justification.data or "",
            today=clock.today(),
        ),
        _("Request changed."),
    )


@bp.route("/payments/requests/<int:request_id>/submit", methods=["POST"])
def submit_request(request_id: int) -> str | Response:
    return _step(
        request_id,
        policies.can_prepare_request,
        "action_form",
        ActionForm,
        lambda item, _f: services.submit(current_user, item, today=clock.today()),
        _("Request submitted to the municipality."),
    )


@bp.route("/payments/requests/<int:request_id>/approve", methods=["POST"])
@recent_password_required
def approve_request(request_id: int) -> str | Response:
    return _step(
        request_id,
        policies.can_decide_request,
        "action_form",
        ActionForm,
        lambda item, _f: services.approve(current_user, item, today=clock.today()),
        _("Approval recorded."),
    )


@bp.route("/payments/requests/<int:request_id>/reject", methods=["POST"])
def reject_request(request_id: int) -> str | Response:
    return _step(
        request_id,
        policies.can_decide_request,
        "reject_form",
        lambda: ReasonForm(prefix="reject"),
        lambda item, f: services.reject(
            current_user, item, f.reason.data or "", today=clock.today()
        ),
        _("Request rejected; the coordinator sees the reason."),
    )


@bp.route("/payments/requests/<int:request_id>/cancel", methods=["POST"])
def cancel_request(request_id: int) -> str | Response:
    return _step(
        request_id,
        policies.can_cancel_request,
        "cancel_form",
        lambda: ReasonForm(prefix="cancel"),
        lambda item, f: services.cancel(
            current_user, item, f.reason.data or "", today=clock.today()
        ),
        _("Request cancelled."),
    )


@bp.route("/payments/requests/<int:request_id>/payment", methods=["POST"])
def record_payment(request_id: int) -> str | Response:
    def act(item: PaymentRequest, form: PaymentForm) -> object:
        data = services.PaymentData(
            paid_on=form.paid_on.data,
            reference=form.reference.data or "",
            amount_deni=form.amount.data or 0,
        )
        return services.record_payment(current_user, item, data, today=clock.today())

    return _step(
        request_id,
        policies.can_decide_request,
        "payment_form",
        lambda: PaymentForm(prefix="payment"),
        act,
        _("Payment recorded; the family's hours are set."),
    )


@bp.route("/payments/requests/<int:request_id>/reverse", methods=["POST"])
def reverse_payment(request_id: int) -> str | Response:
    def act(item: PaymentRequest, form: ReversalForm) -> object:
        payment = visible(item.payment)
        reason = form.reason.data or ""
        return services.reverse_payment(
            current_user, payment, reason, on=form.reversed_on.data, today=clock.today()
        )

    return _step(
        request_id,
        policies.can_decide_request,
        "reversal_form",
        lambda: ReversalForm(prefix="reversal"),
        act,
        _("Payment reversed; its hours are cancelled."),
    )


# --- the officer's queue -----------------------------------------------------------------------


def _approve_each(request_ids: Iterable[int]) -> tuple[int, list[str]]:
    """The queue's approvals, each standing or falling on its own. A request outside the
    scope is passed over."""
    found = (queries.get_visible_request(current_user, i) for i in sorted(request_ids))
    return each(
        (item for item in found if item is not None),
        lambda item: services.approve(current_user, item, today=clock.today()),
        label=lambda item: f"#{item.id}",
    )


@bp.route("/payments/queue", methods=["GET", "POST"])
def queue() -> str | Response:
    allow(policies.can_open_payment_queue(current_user))
    form = ActionForm()
    if request.method == "POST" and (asks := reauth_redirect()) is not None:
        return asks
    if request.method == "POST" and form.validate_on_submit():
        chosen = {int(i) for i in request.form.getlist("request_id") if i.isdigit()}
        approved, refused = _approve_each(chosen)
        if approved:
            flash(_("%(count)d approvals recorded.", count=approved), "success")
        for message in refused:
            flash(message, "error")
        return redirect(url_for("payments.queue"))
    rows = queries.officer_queue(current_user)
    waiting = queries.waiting_for_second_officer(current_user)
    return recorded(
        render_template("payments/queue.html", rows=rows, form=form, waiting=waiting),
        lambda: log_households_seen(
            current_user,
            [row.household.id for row in rows] + [household.id for _r, household in waiting],
            "payment queue",
            AccessAction.VIEW_MONEY,
        ),
    )


# --- work queues: approved requests to pay, rejected requests back with their makers ----------


def _page_number() -> int:
    return request.args.get("page", 1, type=query_int) or 1


@bp.get("/payments/to-record")
def to_record() -> str:
    """The officer's "approved, payment to record": each row links to the request's page,
    where the payment is recorded."""
    allow(policies.can_open_payments_to_record(current_user))
    found = queries.payments_to_record(
        current_user, page=_page_number(), per_page=current_app.config["CASEWORK"].page_size
    )
    return recorded(
        render_template("payments/to_record.html", found=found),
        lambda: log_households_seen(
            current_user,
            (household.id for _item, household in found.items),
            "payments to record",
            AccessAction.VIEW_MONEY,
        ),
    )


@bp.get("/payments/returned")
def returned() -> str:
    """The coordinator's requests rejected back to it, each with the officer's reason."""
    allow(policies.can_open_returned_requests(current_user))
    found = queries.returned_requests(
        current_user, page=_page_number(), per_page=current_app.config["CASEWORK"].page_size
    )
    return recorded(
        render_template("payments/returned.html", found=found),
        lambda: log_households_seen(
            current_user,
            (row[1].id for row in found.items),
            "payment requests returned",
            AccessAction.VIEW_MONEY,
        ),
    )


# --- budget and creditors ----------------------------------------------------------------------


@bp.route("/programmes/<int:programme_id>/budget")
def budget(programme_id: int) -> str:
    programme = visible(programme_queries.get_budget_programme(current_user, programme_id))
    return render_template("payments/budget.html", budget=queries.programme_budget(programme))


@bp.route("/admin/creditors", methods=["GET", "POST"])
def creditors() -> str | Response:
    allow(policies.can_manage_creditors(current_user))
    form = CreditorForm()
    return submit(
        form,
        lambda: services.add_creditor(
            current_user, form.name.data or "", form.short_name.data or ""
        ),
        then=lambda _creditor: redirect(url_for("payments.creditors")),
        success=_("Creditor added."),
    ) or render_template(
        "payments/creditors.html", creditors=queries.creditors(current_user), form=form
    )

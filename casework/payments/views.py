"""Pages for a household's money, payment requests, the officer's queue, the budget and the
creditors. Each view loads within the user's scope, checks the policy, calls one service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from casework.audit.models import AccessAction
from casework.audit.services import log_access
from casework.errors import DomainError
from casework.extensions import db
from casework.forms_common import show_domain_error
from casework.households.models import Household
from casework.households.queries import get_visible_household
from casework.organizations.models import Organization
from casework.payments import queries, services
from casework.payments.forms import (
    AccountForm,
    ActionForm,
    ArrearForm,
    CreditorForm,
    EditRequestForm,
    PaymentForm,
    ReasonForm,
    RequestForm,
    ReversalForm,
)
from casework.payments.models import PaymentRequest, UtilityAccount
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import Role, User
from casework.security.views import fresh_login_required, reauth_redirect

bp = Blueprint("payments", __name__)


def _today() -> date:
    return date.today()


def _household(household_id: int) -> Household:
    household = get_visible_household(current_user, household_id)
    if household is None or not policies.can_view_money(current_user, household):
        abort(404)
    return household


def _run(action: Callable[[], object], *forms: object) -> bool:
    """Call a service inside the request's unit of work: commit on success, roll back and show
    the refusal next to its field on failure."""
    try:
        action()
    except DomainError as error:
        db.session.rollback()
        show_domain_error(error, *forms)
        return False
    db.session.commit()
    return True


def _money_forms(household: Household, money: queries.Money) -> dict[str, object]:
    account_form = AccountForm(prefix="account")
    account_form.creditor_id.choices = [(c.id, str(c)) for c in queries.creditors()]
    arrear_form = ArrearForm(prefix="arrear")
    arrear_form.account_id.choices = [
        (a.id, f"{a.creditor} · {a.customer_number}") for a in money.accounts
    ]
    request_form = RequestForm(prefix="request")
    request_form.arrear_id.choices = [
        (
            line.arrear.id,
            f"{line.arrear.account.creditor} · {line.arrear.statement_ref}",
        )
        for line in money.lines
        if line.requestable > 0 and not line.not_eligible
    ]
    return {
        "account_form": account_form,
        "arrear_form": arrear_form,
        "request_form": request_form,
    }


def _render_money(household: Household, **forms: object) -> str:
    enrollment = queries.active_enrollment_of(household)
    money = queries.household_money(household, enrollment.programme if enrollment else None)
    context = _money_forms(household, money) | {k: v for k, v in forms.items() if v is not None}
    return render_template(
        "payments/money.html",
        household=household,
        enrollment=enrollment,
        money=money,
        can_record=policies.can_record_arrears(current_user, household),
        **context,
    )


@bp.route("/households/<int:household_id>/money")
def money(household_id: int) -> str:
    household = _household(household_id)
    page = _render_money(household)
    log_access(
        current_user,
        AccessAction.VIEW_MONEY,
        household_id=household.id,
        municipality_id=household.municipality_id,
    )
    db.session.commit()
    return page


@bp.route("/households/<int:household_id>/accounts", methods=["POST"])
def add_account(household_id: int) -> str | Response:
    household = _household(household_id)
    if not policies.can_record_arrears(current_user, household):
        abort(403)
    form = AccountForm(prefix="account")
    form.creditor_id.choices = [(c.id, str(c)) for c in queries.creditors()]
    if form.validate_on_submit():
        creditor = db.session.get(Organization, form.creditor_id.data)
        if creditor is None:
            abort(400)
        if _run(
            lambda: services.open_account(
                current_user, household, creditor, form.customer_number.data or ""
            ),
            form,
        ):
            flash(_("Utility account added."), "success")
            return redirect(url_for("payments.money", household_id=household.id))
    return _render_money(household, account_form=form)


@bp.route("/households/<int:household_id>/arrears", methods=["POST"])
def add_arrear(household_id: int) -> str | Response:
    household = _household(household_id)
    if not policies.can_record_arrears(current_user, household):
        abort(403)
    form = ArrearForm(prefix="arrear")
    accounts = {a.id: a for a in household_accounts(household)}
    form.account_id.choices = [
        (a.id, f"{a.creditor} · {a.customer_number}") for a in accounts.values()
    ]
    if form.validate_on_submit():
        account = accounts.get(form.account_id.data or 0)
        if account is None:
            abort(400)
        data = services.ArrearData(
            period_from=form.period_from.data,
            period_to=form.period_to.data,
            principal_deni=form.principal.data or 0,
            penalty_deni=form.penalty.data or 0,
            statement_ref=form.statement_ref.data or "",
            received_on=form.received_on.data,
        )
        if _run(lambda: services.record_arrear(current_user, account, data, today=_today()), form):
            flash(_("Debt statement recorded."), "success")
            return redirect(url_for("payments.money", household_id=household.id))
    return _render_money(household, arrear_form=form)


def household_accounts(household: Household) -> list[UtilityAccount]:
    return list(
        db.session.scalars(
            db.select(UtilityAccount).where(UtilityAccount.household_id == household.id)
        )
    )


@bp.route("/households/<int:household_id>/requests", methods=["POST"])
def add_request(household_id: int) -> str | Response:
    household = _household(household_id)
    if not policies.can_record_arrears(current_user, household):
        abort(403)
    enrollment = queries.active_enrollment_of(household)
    form = RequestForm(prefix="request")
    arrears = {a.id: a for account in household_accounts(household) for a in account.arrears}
    form.arrear_id.choices = [
        (a.id, f"{a.account.creditor} · {a.statement_ref}") for a in arrears.values()
    ]
    if form.validate_on_submit():
        arrear = arrears.get(form.arrear_id.data or 0)
        if arrear is None:
            abort(400)

        def act() -> None:
            if enrollment is None:
                raise DomainError(_("Payments can be requested only for an active enrollment."))
            made = services.create_request(
                current_user,
                enrollment,
                arrear,
                form.amount.data or 0,
                form.justification.data or "",
                today=_today(),
            )
            if form.submit_now.data:
                services.submit(current_user, made, today=_today())

        if _run(act, form):
            flash(_("Payment request saved."), "success")
            return redirect(url_for("payments.money", household_id=household.id))
    return _render_money(household, request_form=form)


# --- one request -------------------------------------------------------------------------------


def _request(request_id: int) -> PaymentRequest:
    found = queries.get_visible_request(current_user, request_id)
    if found is None:
        abort(404)
    return found


def _render_request(item: PaymentRequest, **forms: object) -> str:
    today = _today()
    municipality_id = item.enrollment.household.municipality_id
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
        is_officer=policies.can_decide_payments(current_user, municipality_id),
        is_coordinator=policies.can_record_arrears(current_user, item.enrollment.household),
        outstanding=services.outstanding(item.arrear),
        **(defaults | {k: v for k, v in forms.items() if v is not None}),
    )


@bp.route("/payments/requests/<int:request_id>")
def request_detail(request_id: int) -> str:
    return _render_request(_request(request_id))


def _post_action(
    request_id: int,
    may: Callable[[User, Household], bool],
    form_name: str,
    make_form: Callable[[], FlaskForm],
    action: Callable[[PaymentRequest, Any], object],
    done: str,
) -> str | Response:
    item = _request(request_id)
    if not may(current_user, item.enrollment.household):
        abort(403)  # a step of the other side (maker or checker): refused before the form is read
    form = make_form()
    if form.validate_on_submit() and _run(lambda: action(item, form), form):
        flash(done, "success")
        return redirect(url_for("payments.request_detail", request_id=item.id))
    if not form.errors and not form.form_errors:
        flash(_("The form had expired. Please try again."), "error")
    return _render_request(item, **{form_name: form})


@bp.route("/payments/requests/<int:request_id>/edit", methods=["POST"])
def edit_request(request_id: int) -> str | Response:
    return _post_action(
        request_id,
        policies.can_prepare_payment,
        "edit_form",
        lambda: EditRequestForm(prefix="edit"),
        lambda item, f: services.edit_request(
            current_user,
            item,
            f.amount.data or 0,
            f.justification.data or "",
            today=_today(),
        ),
        _("Request changed."),
    )


@bp.route("/payments/requests/<int:request_id>/submit", methods=["POST"])
def submit_request(request_id: int) -> str | Response:
    return _post_action(
        request_id,
        policies.can_prepare_payment,
        "action_form",
        ActionForm,
        lambda item, _f: services.submit(current_user, item, today=_today()),
        _("Request submitted to the municipality."),
    )


@bp.route("/payments/requests/<int:request_id>/approve", methods=["POST"])
@fresh_login_required
def approve_request(request_id: int) -> str | Response:
    return _post_action(
        request_id,
        policies.can_decide_payment,
        "action_form",
        ActionForm,
        lambda item, _f: services.approve(current_user, item, today=_today()),
        _("Approval recorded."),
    )


@bp.route("/payments/requests/<int:request_id>/reject", methods=["POST"])
def reject_request(request_id: int) -> str | Response:
    return _post_action(
        request_id,
        policies.can_decide_payment,
        "reject_form",
        lambda: ReasonForm(prefix="reject"),
        lambda item, f: services.reject(current_user, item, f.reason.data or "", today=_today()),
        _("Request rejected; the coordinator sees the reason."),
    )


@bp.route("/payments/requests/<int:request_id>/cancel", methods=["POST"])
def cancel_request(request_id: int) -> str | Response:
    return _post_action(
        request_id,
        policies.can_cancel_payment,
        "cancel_form",
        lambda: ReasonForm(prefix="cancel"),
        lambda item, f: services.cancel(current_user, item, f.reason.data or "", today=_today()),
        _("Request cancelled."),
    )


@bp.route("/payments/requests/<int:request_id>/payment", methods=["POST"])
def record_payment(request_id: int) -> str | Response:
    def act(item: PaymentRequest, form: PaymentForm) -> object:
        return services.record_payment(
            current_user,
            item,
            services.PaymentData(
                paid_on=form.paid_on.data,
                reference=form.reference.data or "",
                amount_deni=form.amount.data or 0,
            ),
            today=_today(),
        )

    return _post_action(
        request_id,
        policies.can_decide_payment,
        "payment_form",
        lambda: PaymentForm(prefix="payment"),
        act,
        _("Payment recorded; the family's hours are set."),
    )


@bp.route("/payments/requests/<int:request_id>/reverse", methods=["POST"])
def reverse_payment(request_id: int) -> str | Response:
    def act(item: PaymentRequest, form: ReversalForm) -> object:
        if item.payment is None:
            abort(404)
        return services.reverse_payment(
            current_user,
            item.payment,
            form.reason.data or "",
            on=form.reversed_on.data,
            today=_today(),
        )

    return _post_action(
        request_id,
        policies.can_decide_payment,
        "reversal_form",
        lambda: ReversalForm(prefix="reversal"),
        act,
        _("Payment reversed; its hours are cancelled."),
    )


# --- the officer's queue -----------------------------------------------------------------------


@bp.route("/payments/queue", methods=["GET", "POST"])
def queue() -> str | Response:
    if not current_user.municipalities_as(Role.OFFICER):
        abort(403)
    form = ActionForm()
    if request.method == "POST" and (asks := reauth_redirect()) is not None:
        return asks
    if request.method == "POST" and form.validate_on_submit():
        chosen = {int(i) for i in request.form.getlist("request_id") if i.isdigit()}
        approved, refused = 0, []
        for request_id in sorted(chosen):
            item = queries.get_visible_request(current_user, request_id)
            if item is None:
                continue
            try:
                services.approve(current_user, item, today=_today())
            except DomainError as error:
                db.session.rollback()
                refused.append(f"#{request_id}: {error.message}")
            else:
                db.session.commit()  # each approval stands or falls on its own
                approved += 1
        if approved:
            flash(_("%(count)d approvals recorded.", count=approved), "success")
        for message in refused:
            flash(message, "error")
        return redirect(url_for("payments.queue"))
    return render_template(
        "payments/queue.html", rows=queries.officer_queue(current_user), form=form
    )


# --- budget and creditors ----------------------------------------------------------------------


@bp.route("/programmes/<int:programme_id>/budget")
def budget(programme_id: int) -> str:
    programme = db.session.get(Programme, programme_id)
    if programme is None or not policies.can_view_budget(current_user, programme):
        abort(404)
    return render_template("payments/budget.html", budget=queries.programme_budget(programme))


@bp.route("/admin/creditors", methods=["GET", "POST"])
def creditors() -> str | Response:
    if not policies.can_manage_creditors(current_user):
        abort(403)
    form = CreditorForm()
    if form.validate_on_submit() and _run(
        lambda: services.add_creditor(
            current_user, form.name.data or "", form.short_name.data or ""
        ),
        form,
    ):
        flash(_("Creditor added."), "success")
        return redirect(url_for("payments.creditors"))
    return render_template("payments/creditors.html", creditors=queries.creditors(), form=form)

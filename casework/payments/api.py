"""API: creditors, utility accounts, debt statements, payment requests and their steps.

The same loading, scope and permission checks as the pages in ``payments/views.py``, then one
service call each: outside the caller's scope is a 404, a step of the other side (maker or
checker) a 403, and every rule is the service's.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from typing import Any

import marshmallow as ma
from flask import abort
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from casework.api.views import (
    API_PREFIX,
    ID,
    ID_IN_PATH,
    ErrorEnvelope,
    PageArgs,
    fields_renamed,
    page_schema,
    paginate,
    write,
)
from casework.errors import ConflictError, ValidationError
from casework.extensions import db
from casework.households.models import Household
from casework.households.queries import get_visible_household
from casework.organizations.models import Organization, OrganizationKind
from casework.payments import queries, services
from casework.payments.models import Arrear, Payment, PaymentRequest, RequestStatus, UtilityAccount
from casework.security import policies
from casework.security.models import User

blp = Blueprint(
    "api_payments",
    __name__,
    url_prefix=API_PREFIX,
    description="Creditors, debts, payment requests, approvals and payments (money in deni)",
)


def _today() -> date:
    return date.today()


# The services name the fields of the pages' forms; the API's fields carry their unit.
SERVICE_FIELDS = {
    "amount": "amount_deni",
    "principal": "principal_deni",
    "penalty": "penalty_deni",
}


def api_fields() -> AbstractContextManager[None]:
    return fields_renamed(SERVICE_FIELDS)


# --- schemas -----------------------------------------------------------------------------------


class CreditorSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    short_name = ma.fields.String(allow_none=True)


class UtilityAccountIn(ma.Schema):
    creditor_id = ma.fields.Integer(required=True, validate=ID)
    customer_number = ma.fields.String(required=True, validate=ma.validate.Length(max=40))


class UtilityAccountSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    household_id = ma.fields.Integer(required=True)
    creditor_id = ma.fields.Integer(required=True)
    creditor = ma.fields.Function(lambda a: a.creditor.name, required=True)
    customer_number = ma.fields.String(required=True)


class ArrearIn(ma.Schema):
    period_from = ma.fields.Date(required=True)
    period_to = ma.fields.Date(required=True)
    principal_deni = ma.fields.Integer(required=True, strict=True)
    penalty_deni = ma.fields.Integer(load_default=0, strict=True)
    statement_ref = ma.fields.String(required=True, validate=ma.validate.Length(max=120))
    received_on = ma.fields.Date(
        required=True, metadata={"description": "When the statement reached the NGO"}
    )


class ArrearSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    account_id = ma.fields.Integer(required=True)
    period_from = ma.fields.Date(required=True)
    period_to = ma.fields.Date(required=True)
    principal_deni = ma.fields.Integer(required=True)
    penalty_deni = ma.fields.Integer(required=True)
    total_deni = ma.fields.Integer(required=True)
    statement_ref = ma.fields.String(required=True)
    received_on = ma.fields.Date(required=True)


class PaymentRequestIn(ma.Schema):
    arrear_id = ma.fields.Integer(required=True, validate=ID)
    amount_deni = ma.fields.Integer(required=True, strict=True)
    justification = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class PaymentRequestListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RequestStatus]))


class RejectionIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))


class PaymentIn(ma.Schema):
    paid_on = ma.fields.Date(required=True)
    reference = ma.fields.String(required=True, validate=ma.validate.Length(max=120))
    amount_deni = ma.fields.Integer(required=True, strict=True)


class PaymentReversalIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))
    reversed_on = ma.fields.Date(
        metadata={"description": "The day the payment was reversed; today when left out"}
    )


class PaymentReversalSchema(ma.Schema):
    reversed_on = ma.fields.Date(required=True)
    reason = ma.fields.String(required=True)


class PaymentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    paid_on = ma.fields.Date(required=True)
    reference = ma.fields.String(required=True)
    amount_deni = ma.fields.Integer(required=True)
    obligation_minutes = ma.fields.Function(lambda p: p.obligation.minutes, required=True)
    reversal = ma.fields.Nested(PaymentReversalSchema, allow_none=True)


class ApprovalSchema(ma.Schema):
    officer_id = ma.fields.Integer(required=True)
    round = ma.fields.Integer(required=True)
    approved_on = ma.fields.Date(required=True)


class PaymentRequestSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    household_id = ma.fields.Function(lambda r: r.enrollment.household_id, required=True)
    enrollment_id = ma.fields.Integer(required=True)
    programme_id = ma.fields.Function(lambda r: r.enrollment.programme_id, required=True)
    arrear_id = ma.fields.Integer(required=True)
    amount_deni = ma.fields.Integer(required=True)
    justification = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": [s.value for s in RequestStatus]})
    round = ma.fields.Integer(required=True, metadata={"description": "Submissions so far"})
    approvals_needed = ma.fields.Integer(required=True)
    approvals_count = ma.fields.Integer(
        required=True, metadata={"description": "Approvals in the current round"}
    )
    approvals = ma.fields.List(ma.fields.Nested(ApprovalSchema), required=True)
    rejection_reason = ma.fields.String(required=True)
    approved_on = ma.fields.Date(allow_none=True)
    created_by_id = ma.fields.Integer(required=True)
    payment = ma.fields.Nested(PaymentSchema, allow_none=True)


# --- loading within the caller's scope ---------------------------------------------------------


def _money_household(household_id: int) -> Household:
    """As the money page: a household outside the scope does not exist."""
    household = get_visible_household(current_user, household_id)
    if household is None or not policies.can_view_money(current_user, household):
        abort(404)
    return household


def _recorder_household(household_id: int) -> Household:
    """Accounts, statements and requests: the NGO's side (its coordinators), else a 403."""
    household = _money_household(household_id)
    if not policies.can_record_arrears(current_user, household):
        abort(403)
    return household


def _request(request_id: int) -> PaymentRequest:
    found = queries.get_visible_request(current_user, request_id)
    if found is None:
        abort(404)
    return found


def _request_for(request_id: int, may: Callable[[User, Household], bool]) -> PaymentRequest:
    """A request the caller sees, for a step of its side (``policies.can_prepare_payment``
    for the maker, ``policies.can_decide_payment`` for the checker): otherwise a 403."""
    item = _request(request_id)
    if not may(current_user, item.enrollment.household):
        abort(403)
    return item


def _fresh(item: PaymentRequest) -> PaymentRequest:
    """The request as stored after a step (the services update it behind the ORM's back)."""
    db.session.flush()
    db.session.refresh(item)
    return item


# --- creditors, accounts, statements -----------------------------------------------------------


@blp.route("/creditors")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(CreditorSchema))
def list_creditors(args: dict[str, Any]) -> dict[str, Any]:
    """The utilities and other creditors a household's debts can be owed to."""
    query = (
        select(Organization)
        .where(Organization.kind == OrganizationKind.CREDITOR.value)
        .order_by(Organization.name, Organization.id)
    )
    return paginate(query, args["page"], args["per_page"])


@blp.route(f"/households/<{ID_IN_PATH}:household_id>/accounts", methods=["POST"])
@write
@blp.arguments(UtilityAccountIn)
@blp.response(201, UtilityAccountSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def add_account(args: dict[str, Any], household_id: int) -> UtilityAccount:
    """Register the household's customer number at a creditor (coordinators)."""
    household = _recorder_household(household_id)
    creditor = db.session.get(Organization, args["creditor_id"])
    if creditor is None:
        raise ValidationError(_("Choose a creditor."), "creditor_id")
    return services.open_account(current_user, household, creditor, args["customer_number"])


@blp.route(f"/accounts/<{ID_IN_PATH}:account_id>/arrears", methods=["POST"])
@write
@blp.arguments(ArrearIn)
@blp.response(201, ArrearSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def add_arrear(args: dict[str, Any], account_id: int) -> Arrear:
    """Record a creditor's statement of debt on the account (coordinators)."""
    account = db.session.get(UtilityAccount, account_id)
    if account is None:
        abort(404)
    _recorder_household(account.household_id)
    data = services.ArrearData(
        period_from=args["period_from"],
        period_to=args["period_to"],
        principal_deni=args["principal_deni"],
        penalty_deni=args["penalty_deni"],
        statement_ref=args["statement_ref"],
        received_on=args["received_on"],
    )
    with api_fields():
        return services.record_arrear(current_user, account, data, today=_today())


# --- payment requests --------------------------------------------------------------------------


@blp.route("/payment-requests", methods=["POST"])
@write
@blp.arguments(PaymentRequestIn)
@blp.response(201, PaymentRequestSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def create_request(args: dict[str, Any]) -> PaymentRequest:
    """Propose paying (part of) a debt, as a draft of the household's active enrollment
    (coordinators). Submit it to send it to the municipality."""
    arrear = db.session.get(Arrear, args["arrear_id"])
    if arrear is None:
        abort(404)
    household = _recorder_household(arrear.account.household_id)
    enrollment = queries.active_enrollment_of(household)
    if enrollment is None:
        raise ConflictError(_("Payments can be requested only for an active enrollment."))
    with api_fields():
        made = services.create_request(
            current_user,
            enrollment,
            arrear,
            args["amount_deni"],
            args["justification"],
            today=_today(),
        )
    return _fresh(made)


@blp.route("/payment-requests")
@blp.arguments(PaymentRequestListArgs, location="query")
@blp.response(200, page_schema(PaymentRequestSchema))
def list_requests(args: dict[str, Any]) -> dict[str, Any]:
    """The requests of the households the caller sees, newest first."""
    query = select(PaymentRequest).where(
        PaymentRequest.id.in_(queries._request_visibility(current_user))
    )
    if args.get("status"):
        query = query.where(PaymentRequest.status == args["status"])
    query = query.options(
        selectinload(PaymentRequest.enrollment),
        selectinload(PaymentRequest.approvals),
        selectinload(PaymentRequest.payment).selectinload(Payment.obligation),
        selectinload(PaymentRequest.payment).selectinload(Payment.reversal),
    ).order_by(PaymentRequest.id.desc())
    return paginate(query, args["page"], args["per_page"])


@blp.route(f"/payment-requests/<{ID_IN_PATH}:request_id>")
@blp.response(200, PaymentRequestSchema)
@blp.alt_response(404, schema=ErrorEnvelope)
def get_request(request_id: int) -> PaymentRequest:
    """One request, its approvals and its payment."""
    return _request(request_id)


@blp.route(f"/payment-requests/<{ID_IN_PATH}:request_id>/submit", methods=["POST"])
@write
@blp.response(200, PaymentRequestSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def submit_request(request_id: int) -> PaymentRequest:
    """Send a draft (or a rejected request) to the municipality (coordinators)."""
    item = _request_for(request_id, policies.can_prepare_payment)
    with api_fields():
        services.submit(current_user, item, today=_today())
    return _fresh(item)


@blp.route(f"/payment-requests/<{ID_IN_PATH}:request_id>/approve", methods=["POST"])
@write
@blp.response(200, PaymentRequestSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def approve_request(request_id: int) -> PaymentRequest:
    """One officer's approval (officers; never the request's maker). Above the programme's
    threshold a second officer approves too; the last approval commits the budget."""
    item = _request_for(request_id, policies.can_decide_payment)
    services.approve(current_user, item, today=_today())
    return _fresh(item)


@blp.route(f"/payment-requests/<{ID_IN_PATH}:request_id>/reject", methods=["POST"])
@write
@blp.arguments(RejectionIn)
@blp.response(200, PaymentRequestSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def reject_request(args: dict[str, Any], request_id: int) -> PaymentRequest:
    """Send a submitted request back to its maker with the reason (officers)."""
    item = _request_for(request_id, policies.can_decide_payment)
    services.reject(current_user, item, args["reason"], today=_today())
    return _fresh(item)


@blp.route(f"/payment-requests/<{ID_IN_PATH}:request_id>/payment", methods=["POST"])
@write
@blp.arguments(PaymentIn)
@blp.response(200, PaymentRequestSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def record_payment(args: dict[str, Any], request_id: int) -> PaymentRequest:
    """Record that the utility was paid (officers): the family now owes the hours."""
    item = _request_for(request_id, policies.can_decide_payment)
    data = services.PaymentData(
        paid_on=args["paid_on"], reference=args["reference"], amount_deni=args["amount_deni"]
    )
    with api_fields():
        services.record_payment(current_user, item, data, today=_today())
    return _fresh(item)


@blp.route(f"/payment-requests/<{ID_IN_PATH}:request_id>/reverse", methods=["POST"])
@write
@blp.arguments(PaymentReversalIn)
@blp.response(200, PaymentRequestSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def reverse_payment(args: dict[str, Any], request_id: int) -> PaymentRequest:
    """Cancel a recorded payment and the hours it created (officers). The payment stays on
    record beside its reversal."""
    item = _request_for(request_id, policies.can_decide_payment)
    payment = item.payment
    if payment is None:
        raise ConflictError("No payment has been recorded on this request.")
    today = _today()
    services.reverse_payment(
        current_user, payment, args["reason"], on=args.get("reversed_on") or today, today=today
    )
    return _fresh(item)

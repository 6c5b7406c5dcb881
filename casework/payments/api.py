"""API: creditors, utility accounts, debt statements, payment requests and their steps.

The same loading, scope and permission checks as the pages in ``payments/views.py``, then one
service call each: outside the caller's scope is a 404, a step of the other side (maker or
checker) a 403, and every rule is the service's.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import marshmallow as ma
from flask import Response, jsonify
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from casework import clock
from casework.actions import allow, recorded, visible
from casework.api.schemas import RecordSchema
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
from casework.audit.models import AccessAction
from casework.audit.services import log_households_seen
from casework.bounds import amount_range
from casework.errors import ConflictError, ValidationError
from casework.households.models import Household
from casework.payments import queries, services
from casework.payments.models import Arrear, PaymentRequest, RequestStatus, UtilityAccount
from casework.security import policies

blp = Blueprint(
    "api_payments",
    __name__,
    url_prefix=API_PREFIX,
    description="Creditors, debts, payment requests, approvals and payments (money in deni)",
)

F = TypeVar("F", bound=Callable[..., Any])

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
    creditor_id = ma.fields.Integer(required=True, strict=True, validate=ID)
    customer_number = ma.fields.String(required=True, validate=ma.validate.Length(max=40))


class CustomerNumberCorrectionSchema(ma.Schema):
    old_number = ma.fields.String(required=True)
    new_number = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    corrected_on = ma.fields.Date(required=True)
    corrected_by_id = ma.fields.Integer(required=True)


class UtilityAccountSchema(RecordSchema):
    id = ma.fields.Integer(required=True)
    household_id = ma.fields.Integer(required=True)
    creditor_id = ma.fields.Integer(required=True)
    creditor = ma.fields.Function(lambda a: a.creditor.name, required=True)
    customer_number = ma.fields.String(required=True)


class CorrectedAccountSchema(UtilityAccountSchema):
    corrections = ma.fields.List(
        ma.fields.Nested(CustomerNumberCorrectionSchema),
        required=True,
        metadata={"description": "Earlier customer numbers, corrected, oldest first"},
    )


class CustomerNumberIn(ma.Schema):
    customer_number = ma.fields.String(required=True, validate=ma.validate.Length(max=40))
    reason = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))


class ArrearIn(ma.Schema):
    period_from = ma.fields.Date(required=True)
    period_to = ma.fields.Date(required=True)
    principal_deni = ma.fields.Integer(required=True, strict=True, validate=amount_range())
    penalty_deni = ma.fields.Integer(load_default=0, strict=True, validate=amount_range())
    statement_ref = ma.fields.String(required=True, validate=ma.validate.Length(max=120))
    received_on = ma.fields.Date(
        required=True, metadata={"description": "When the statement reached the NGO"}
    )


class ArrearSchema(RecordSchema):
    id = ma.fields.Integer(required=True)
    account_id = ma.fields.Integer(required=True)
    period_from = ma.fields.Date(required=True)
    period_to = ma.fields.Date(required=True)
    principal_deni = ma.fields.Integer(required=True)
    penalty_deni = ma.fields.Integer(required=True)
    total_deni = ma.fields.Integer(required=True)
    statement_ref = ma.fields.String(required=True)
    received_on = ma.fields.Date(required=True)
    voided_on = ma.fields.Date(
        allow_none=True, metadata={"description": "Set when voided: it then counts nowhere"}
    )
    voided_by_id = ma.fields.Integer(allow_none=True)
    void_reason = ma.fields.String(required=True)
    replaces_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "The voided statement this one replaces"}
    )


class VoidIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))


class ReplacementIn(ArrearIn):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))


class PaymentRequestIn(ma.Schema):
    arrear_id = ma.fields.Integer(required=True, strict=True, validate=ID)
    amount_deni = ma.fields.Integer(required=True, strict=True, validate=amount_range())
    justification = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class PaymentRequestListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RequestStatus]))


class RejectionIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))


class PaymentIn(ma.Schema):
    paid_on = ma.fields.Date(required=True)
    reference = ma.fields.String(required=True, validate=ma.validate.Length(max=120))
    amount_deni = ma.fields.Integer(required=True, strict=True, validate=amount_range())


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


class PaymentRequestSchema(RecordSchema):
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


def _recorder_household(household_id: int) -> Household:
    """Accounts, statements and requests: the NGO's side (its coordinators), else a 403."""
    household = visible(queries.get_visible_money(current_user, household_id))
    allow(policies.can_record_arrears(current_user, household))
    return household


def _step(path: str, body: type[ma.Schema] | None = None) -> Callable[[F], F]:
    """A step of one request (``POST /payment-requests/<id>/<path>``): one transaction,
    answered with the request as stored, or with the refusals every step may meet."""

    def register(view: F) -> F:
        for status in (422, 409, 404, 403):
            view = blp.alt_response(status, schema=ErrorEnvelope)(view)
        view = blp.response(200, PaymentRequestSchema)(view)
        if body is not None:
            view = blp.arguments(body)(view)
        route = blp.route(f"/payment-requests/<{ID_IN_PATH}:request_id>/{path}", methods=["POST"])
        return route(write(view))

    return register


# --- creditors, accounts, statements -----------------------------------------------------------


@blp.route("/creditors")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(CreditorSchema))
def list_creditors(args: dict[str, Any]) -> dict[str, Any]:
    """The utilities and other creditors a household's debts can be owed to: those of the
    user's municipalities and the shared ones."""
    return paginate(queries.creditors_query(current_user), args["page"], args["per_page"])


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
    creditor = queries.get_visible_creditor(current_user, args["creditor_id"])
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
    account = visible(queries.get_visible_account(current_user, account_id))
    allow(policies.can_record_arrears(current_user, account.household))
    with api_fields():
        return services.record_arrear(
            current_user, account, services.ArrearData(**args), today=clock.today()
        )


def _corrected_arrear(arrear_id: int) -> Arrear:
    arrear = visible(queries.get_visible_arrear(current_user, arrear_id))
    allow(policies.can_correct_arrear(current_user, arrear))
    return arrear


@blp.route(f"/arrears/<{ID_IN_PATH}:arrear_id>/void", methods=["POST"])
@write
@blp.arguments(VoidIn)
@blp.response(200, ArrearSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def void_arrear(args: dict[str, Any], arrear_id: int) -> Arrear:
    """Void a statement entered wrongly, with the reason (coordinators): it then counts
    nowhere. Refused while a payment request stands on it (not rejected, cancelled or
    reversed)."""
    arrear = _corrected_arrear(arrear_id)
    return services.void_arrear(current_user, arrear, args["reason"], today=clock.today())


@blp.route(f"/arrears/<{ID_IN_PATH}:arrear_id>/replace", methods=["POST"])
@write
@blp.arguments(ReplacementIn)
@blp.response(201, ArrearSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def replace_arrear(args: dict[str, Any], arrear_id: int) -> Arrear:
    """Void a wrong statement and record the right one in its place, in one step
    (coordinators); the answer is the new statement, pointing at the one it replaces."""
    arrear = _corrected_arrear(arrear_id)
    reason = args.pop("reason")
    with api_fields():
        return services.replace_arrear(
            current_user, arrear, services.ArrearData(**args), reason, today=clock.today()
        )


@blp.route(f"/accounts/<{ID_IN_PATH}:account_id>/customer-number", methods=["POST"])
@write
@blp.arguments(CustomerNumberIn)
@blp.response(200, CorrectedAccountSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def correct_customer_number(args: dict[str, Any], account_id: int) -> UtilityAccount:
    """Correct a customer number entered wrongly, with the reason (coordinators). The account
    keeps its statements and payments; the old number stays in ``corrections``."""
    account = visible(queries.get_visible_account(current_user, account_id))
    allow(policies.can_correct_account(current_user, account))
    return services.correct_customer_number(
        current_user, account, args["customer_number"], args["reason"], today=clock.today()
    )


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
    arrear = visible(queries.get_visible_arrear(current_user, args["arrear_id"]))
    allow(policies.can_record_arrears(current_user, arrear.account.household))
    with api_fields():
        return services.request_payment(
            current_user, arrear, args["amount_deni"], args["justification"], today=clock.today()
        )


PaymentRequestPage = page_schema(PaymentRequestSchema)


@blp.route("/payment-requests")
@blp.arguments(PaymentRequestListArgs, location="query")
@blp.response(200, PaymentRequestPage)
def list_requests(args: dict[str, Any]) -> Response:
    """The requests of the households the caller sees, newest first."""
    status = RequestStatus(args["status"]) if args.get("status") else None
    stmt = queries.visible_requests(current_user, status)
    page = PaymentRequestPage().dump(paginate(stmt, args["page"], args["per_page"]))
    # Families' debts: who read them is logged, as for the pages, once the answer is made.
    return recorded(
        jsonify(page),
        lambda: log_households_seen(
            current_user,
            (item["household_id"] for item in page["items"]),
            f"api payment requests page {page['page']}",
            AccessAction.VIEW_MONEY,
        ),
    )


@blp.route(f"/payment-requests/<{ID_IN_PATH}:request_id>")
@blp.response(200, PaymentRequestSchema)
@blp.alt_response(404, schema=ErrorEnvelope)
def get_request(request_id: int) -> Response:
    """One request, its approvals and its payment."""
    item = visible(queries.get_visible_request(current_user, request_id))
    household = item.enrollment.household
    body = jsonify(PaymentRequestSchema().dump(item))
    return recorded(body, lambda: services.record_money_view(current_user, household))


@_step("submit")
def submit_request(request_id: int) -> PaymentRequest:
    """Send a draft (or a rejected request) to the municipality (coordinators)."""
    item = visible(queries.get_visible_request(current_user, request_id))
    allow(policies.can_prepare_request(current_user, item))
    with api_fields():
        return services.submit(current_user, item, today=clock.today())


@_step("approve")
def approve_request(request_id: int) -> PaymentRequest:
    """One officer's approval (officers; never the request's maker). Above the programme's
    threshold a second officer approves too; the last approval commits the budget."""
    item = visible(queries.get_visible_request(current_user, request_id))
    allow(policies.can_decide_request(current_user, item))
    return services.approve(current_user, item, today=clock.today())


@_step("reject", RejectionIn)
def reject_request(args: dict[str, Any], request_id: int) -> PaymentRequest:
    """Send a submitted request back to its maker with the reason (officers)."""
    item = visible(queries.get_visible_request(current_user, request_id))
    allow(policies.can_decide_request(current_user, item))
    return services.reject(current_user, item, args["reason"], today=clock.today())


@_step("payment", PaymentIn)
def record_payment(args: dict[str, Any], request_id: int) -> PaymentRequest:
    """Record that the utility was paid (officers): the family now owes the hours."""
    item = visible(queries.get_visible_request(current_user, request_id))
    allow(policies.can_decide_request(current_user, item))
    with api_fields():
        services.record_payment(
            current_user, item, services.PaymentData(**args), today=clock.today()
        )
    return item


@_step("reverse", PaymentReversalIn)
def reverse_payment(args: dict[str, Any], request_id: int) -> PaymentRequest:
    """Cancel a recorded payment and the hours it created (officers). The payment stays on
    record beside its reversal."""
    item = visible(queries.get_visible_request(current_user, request_id))
    allow(policies.can_decide_request(current_user, item))
    payment = item.payment
    if payment is None:
        raise ConflictError(_("No payment has been recorded on this request."))
    today = clock.today()
    on = args.get("reversed_on") or today
    services.reverse_payment(current_user, payment, args["reason"], on=on, today=today)
    return item

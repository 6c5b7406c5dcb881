"""API: the household register, its members and their exemptions.

Scoped and checked as the household pages are: a household outside the caller's scope is a
404, an action the caller's role may not take a 403. National IDs leave masked, always.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import jsonify
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from casework import clock
from casework.actions import allow, recorded, visible
from casework.api.schemas import RecordSchema
from casework.api.views import (
    API_PREFIX,
    ID,
    ID_IN_PATH,
    ErrorEnvelope,
    PageArgs,
    page_schema,
    write,
)
from casework.balances.api import BalanceSchema, household_balance
from casework.bounds import MAX_ID
from casework.enrollment import queries as enrollment_queries
from casework.enrollment.api import EnrollmentSchema, EnrollmentSummarySchema
from casework.enrollment.models import Status
from casework.errors import ValidationError
from casework.households import queries, services
from casework.households.models import (
    Exemption,
    ExemptionReason,
    Household,
    Member,
    Relation,
    Sex,
)
from casework.programmes import queries as programme_queries
from casework.security import policies
from casework.work import queries as work_queries

blp = Blueprint("api_households", __name__, url_prefix=API_PREFIX, description="Households")


def _masked(member: Member) -> str | None:
    return services.mask_national_id(member.national_id) if member.national_id else None


# --- what is sent back -------------------------------------------------------------------------


class ExemptionSchema(RecordSchema):
    id = ma.fields.Integer(required=True)
    member_id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True, metadata={"enum": [r.value for r in ExemptionReason]})
    document_ref = ma.fields.String(required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(allow_none=True)


class MemberSchema(RecordSchema):
    id = ma.fields.Integer(required=True)
    household_id = ma.fields.Integer(required=True)
    first_name = ma.fields.String(required=True)
    last_name = ma.fields.String(required=True)
    national_id_masked = ma.fields.Function(
        _masked,
        allow_none=True,
        metadata={"description": "the last four digits only; the whole number never leaves"},
    )
    birth_date = ma.fields.Date(required=True)
    sex = ma.fields.String(required=True, metadata={"enum": [s.value for s in Sex]})
    relation = ma.fields.String(required=True, metadata={"enum": [r.value for r in Relation]})
    is_head = ma.fields.Boolean(required=True)
    exemptions = ma.fields.List(ma.fields.Nested(ExemptionSchema), required=True)


class ListBalanceSchema(ma.Schema):
    owed_minutes = ma.fields.Integer(required=True, attribute="owed")
    verified_minutes = ma.fields.Integer(required=True, attribute="verified")
    pending_minutes = ma.fields.Integer(required=True, attribute="pending")
    remaining_minutes = ma.fields.Integer(required=True, attribute="remaining")


class HouseholdItemSchema(ma.Schema):
    """A row of the list, as the list page shows it."""

    id = ma.fields.Integer(required=True)
    case_number = ma.fields.String(required=True)
    municipality_id = ma.fields.Integer(required=True)
    address = ma.fields.String(required=True)
    settlement = ma.fields.String(required=True)
    head_name = ma.fields.String(allow_none=True)
    members = ma.fields.Integer(required=True, metadata={"description": "how many"})
    assigned_worker_id = ma.fields.Integer(allow_none=True)
    enrollment_status = ma.fields.String(
        allow_none=True,
        metadata={"description": "the shown enrollment's status; null: never enrolled"},
    )
    programme = ma.fields.String(allow_none=True, metadata={"description": "its programme"})
    check_status = ma.fields.String(
        allow_none=True,
        metadata={"description": "the latest balance check while the enrollment is active"},
    )
    balance = ma.fields.Nested(ListBalanceSchema, required=True)


HouseholdPageSchema = page_schema(HouseholdItemSchema)


class HouseholdSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    case_number = ma.fields.String(required=True)
    municipality_id = ma.fields.Integer(required=True)
    address = ma.fields.String(required=True)
    settlement = ma.fields.String(required=True)
    phone = ma.fields.String(required=True)
    language = ma.fields.String(required=True)
    consent_on = ma.fields.Date(allow_none=True)
    assigned_worker_id = ma.fields.Integer(allow_none=True)
    members = ma.fields.List(ma.fields.Nested(MemberSchema), required=True)
    enrollment = ma.fields.Nested(
        EnrollmentSchema,
        allow_none=True,
        metadata={"description": "the open application or enrollment, if any"},
    )
    enrollments = ma.fields.List(
        ma.fields.Nested(EnrollmentSummarySchema),
        required=True,
        metadata={"description": "all of them, newest first"},
    )
    balance = ma.fields.Nested(BalanceSchema, required=True)


# --- what comes in -----------------------------------------------------------------------------


class HouseholdListArgs(PageArgs):
    q = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=100),
        metadata={
            "description": "case number, address, settlement or a member's name (in "
            "Cyrillic or Latin), or a member's whole national ID (all 13 digits)"
        },
    )
    programme_id = ma.fields.Integer(
        validate=ID,
        metadata={
            "description": "households with an enrollment in this programme (the status and "
            "check shown are then that enrollment's)"
        },
    )
    status = ma.fields.String(
        validate=ma.validate.OneOf([queries.NOT_ENROLLED, *(s.value for s in Status)]),
        metadata={
            "description": "the status of the enrollment each row shows (its open one, else "
            f"its latest; in the programme given by programme_id, if any); "
            f"`{queries.NOT_ENROLLED}`: never enrolled"
        },
    )
    worker_id = ma.fields.Integer(
        validate=ma.validate.Range(min=0, max=MAX_ID),
        metadata={"description": "the assigned social worker's user id; 0: none assigned"},
    )
    settlement = ma.fields.String(
        validate=ma.validate.Length(max=120), metadata={"description": "the settlement, exactly"}
    )
    check = ma.fields.String(
        validate=ma.validate.OneOf(queries.CHECK_CHOICES),
        metadata={
            "description": "the latest balance check of an active enrollment: behind, overdue, "
            f"or `{queries.LATE}` (either)"
        },
    )
    sort = ma.fields.String(
        load_default="urgency",
        validate=ma.validate.OneOf(queries.SORTS),
        metadata={
            "description": "urgency (overdue, then behind, then the most hours left), case "
            "(case number) or name (the head's last and first name)"
        },
    )


class MemberInSchema(ma.Schema):
    first_name = ma.fields.String(required=True)
    last_name = ma.fields.String(required=True)
    national_id = ma.fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "ЕМБГ, 13 digits; gives the birth date and sex when left out"},
    )
    birth_date = ma.fields.Date(load_default=None, allow_none=True)
    sex = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.OneOf([s.value for s in Sex])
    )
    relation = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([r.value for r in Relation]),
        metadata={"description": "to the head of the household"},
    )


class NewMemberSchema(MemberInSchema):
    relation = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.OneOf([r.value for r in Relation]),
        metadata={"description": "to the head of the household (the head's own is head)"},
    )
    is_head = ma.fields.Boolean(load_default=False)


class NewHouseholdSchema(ma.Schema):
    """A household, its members and its application to a programme, stored together or not
    at all."""

    programme_id = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ID,
        metadata={
            "description": "the household applies to it; it is registered in its municipality"
        },
    )
    address = ma.fields.String(required=True)
    settlement = ma.fields.String(load_default="")
    phone = ma.fields.String(load_default="")
    language = ma.fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "the municipality's language when left out"},
    )
    consent_on = ma.fields.Date(load_default=None, allow_none=True)
    applied_on = ma.fields.Date(
        load_default=None, allow_none=True, metadata={"description": "today when left out"}
    )
    members = ma.fields.List(
        ma.fields.Nested(NewMemberSchema),
        required=True,
        validate=ma.validate.Length(min=1),
        metadata={"description": "exactly one of them with is_head true"},
    )

    @ma.validates_schema
    def _one_head(self, data: dict[str, Any], **_kwargs: Any) -> None:
        heads = sum(1 for m in data.get("members", []) if m["is_head"])
        if heads != 1:
            raise ma.ValidationError(
                _(
                    "Exactly one member is the head of the household (is_head); %(heads)s are.",
                    heads=heads,
                ),
                "members",
            )


class ExemptionInSchema(ma.Schema):
    reason = ma.fields.String(
        required=True, validate=ma.validate.OneOf([r.value for r in ExemptionReason])
    )
    document_ref = ma.fields.String(
        required=True, metadata={"description": "the supporting document; never a diagnosis"}
    )
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(load_default=None, allow_none=True)


# --- helpers -----------------------------------------------------------------------------------


def _member_data(fields: dict[str, Any], relation: str) -> services.MemberData:
    return services.MemberData(
        first_name=fields["first_name"],
        last_name=fields["last_name"],
        national_id=fields["national_id"] or None,
        birth_date=fields["birth_date"],
        sex=fields["sex"],
        relation=relation,
    )


def _detail(household: Household, today: date) -> dict[str, Any]:
    enrollments = enrollment_queries.enrollments_of(household)
    return {
        "id": household.id,
        "case_number": household.case_number,
        "municipality_id": household.municipality_id,
        "address": household.address,
        "settlement": household.settlement,
        "phone": household.phone,
        "language": household.language,
        "consent_on": household.consent_on,
        "assigned_worker_id": household.assigned_worker_id,
        "members": household.members,
        "enrollment": next((e for e in enrollments if e.is_open), None),
        "enrollments": enrollments,
        "balance": household_balance(household, today, enrollments),
    }


# --- operations --------------------------------------------------------------------------------


@blp.route("/households")
@blp.arguments(HouseholdListArgs, location="query")
@blp.response(200, HouseholdPageSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
def list_households(args: dict[str, Any]) -> Response:
    """The households the caller may see (a social worker: its caseload), as the list page."""
    allow(policies.can_list_households(current_user))
    wanted = queries.ListFilter(
        q=args["q"],
        status=args.get("status"),
        worker_id=args.get("worker_id"),
        settlement=args.get("settlement"),
        programme_id=args.get("programme_id"),
        check=args.get("check"),
        sort=args["sort"],
    )
    pagination = queries.paginate_rows(
        queries.household_list(current_user, wanted), args["page"], args["per_page"]
    )
    rows = work_queries.listed(pagination.items)
    households: list[Household] = [row.household for row in rows]
    page = {
        "page": args["page"],
        "pages": max(1, pagination.pages),
        "total": pagination.total,
        "items": [
            {
                "id": h.id,
                "case_number": h.case_number,
                "municipality_id": h.municipality_id,
                "address": h.address,
                "settlement": h.settlement,
                "head_name": h.head.full_name if h.head else None,
                "members": len(h.members),
                "assigned_worker_id": h.assigned_worker_id,
                "enrollment_status": row.status,
                "programme": row.programme,
                "check_status": row.check,
                "balance": row.balance,
            }
            for h, row in zip(households, rows, strict=True)
        ],
    }
    body = jsonify(HouseholdPageSchema().dump(page))
    return recorded(
        body,
        lambda: services.record_list_view(
            current_user,
            households,
            f"api households page {page['page']}",
            queries.national_id_searched(args["q"]),
        ),
    )


@blp.route("/households", methods=["POST"])
@write
@blp.arguments(NewHouseholdSchema)
@blp.response(201, HouseholdSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def create_household(args: dict[str, Any]) -> dict[str, Any]:
    """Register a household with its members in the programme's municipality, and its
    application to the programme. If anything is refused, nothing is stored."""
    allow(policies.can_create_households(current_user))
    programme = programme_queries.get_visible_programme(current_user, args["programme_id"])
    if programme is None:
        raise ValidationError(_("There is no such programme."), "programme_id")
    today = clock.today()
    household = services.register_applicant(
        current_user,
        programme,
        services.HouseholdData(
            address=args["address"],
            settlement=args["settlement"],
            phone=args["phone"],
            language=args["language"] or "",
            consent_on=args["consent_on"],
        ),
        [_member_data(fields, fields["relation"] or "") for fields in args["members"]],
        head_at=next(i for i, m in enumerate(args["members"]) if m["is_head"]),
        applied_on=args["applied_on"],
        today=today,
    )
    return _detail(household, today)


@blp.route(f"/households/<{ID_IN_PATH}:household_id>")
@blp.response(200, HouseholdSchema)
@blp.alt_response(404, schema=ErrorEnvelope)
def get_household(household_id: int) -> Response:
    """A household: its members (national IDs masked), its enrollment and its balance."""
    household = visible(queries.get_visible_household(current_user, household_id))
    body = jsonify(HouseholdSchema().dump(_detail(household, clock.today())))
    # As the page: written once the answer is made, so a failed one leaves no entry.
    return recorded(body, lambda: services.record_view(current_user, household))


@blp.route(f"/households/<{ID_IN_PATH}:household_id>/members", methods=["POST"])
@write
@blp.arguments(MemberInSchema)
@blp.response(201, MemberSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def add_member(args: dict[str, Any], household_id: int) -> Member:
    """Add a member to a household."""
    household = visible(queries.get_visible_household(current_user, household_id))
    allow(policies.can_manage_household(current_user, household))
    return services.add_member(
        current_user, household, _member_data(args, args["relation"]), today=clock.today()
    )


@blp.route(f"/members/<{ID_IN_PATH}:member_id>/exemptions", methods=["POST"])
@write
@blp.arguments(ExemptionInSchema)
@blp.response(201, ExemptionSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(422, schema=ErrorEnvelope)
def add_exemption(args: dict[str, Any], member_id: int) -> Exemption:
    """Excuse a member from work: a reason and a document reference, never a diagnosis."""
    member = visible(queries.get_visible_member(current_user, member_id))
    allow(policies.can_manage_member(current_user, member))
    return services.add_exemption(
        current_user,
        member,
        args["reason"],
        args["document_ref"],
        args["starts_on"],
        args["ends_on"],
    )

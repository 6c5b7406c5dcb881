"""API: the steps of a household's enrollment, and a programme's commission.

One operation, ``POST /households/{id}/enrollment``, takes the step as ``action``; each step
calls the same service as its page, which holds every rule (state, dates, votes, signatories).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from casework import clock
from casework.actions import allow, visible
from casework.api.schemas import RecordSchema
from casework.api.views import (
    API_PREFIX,
    ID,
    ID_IN_PATH,
    ErrorEnvelope,
    PageArgs,
    fields_renamed,
    page_schema,
    write,
)
from casework.enrollment import queries, services
from casework.enrollment.models import (
    CloseReason,
    CommissionMember,
    Enrollment,
    Seat,
    Status,
    Vote,
)
from casework.errors import ConflictError, ValidationError
from casework.households.models import Household
from casework.households.queries import get_visible_household
from casework.programmes import queries as programme_queries
from casework.security import policies

blp = Blueprint(
    "api_enrollment", __name__, url_prefix=API_PREFIX, description="Enrollment in a programme"
)


# --- what is sent back -------------------------------------------------------------------------


class EventSchema(ma.Schema):
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(required=True)
    effective_on = ma.fields.Date(required=True)
    reason = ma.fields.String(required=True)
    document_ref = ma.fields.String(required=True)
    close_reason = ma.fields.String(
        allow_none=True, metadata={"enum": [r.value for r in CloseReason]}
    )
    actor_id = ma.fields.Integer(required=True)


class DecisionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    decided_on = ma.fields.Date(required=True)
    outcome = ma.fields.String(required=True, metadata={"enum": ["approved", "rejected"]})
    reference = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    votes = ma.fields.Function(
        lambda d: {str(v.commission_member_id): v.vote for v in d.votes},
        required=True,
        metadata={"description": "commission member id → for, against or abstain"},
    )


class AgreementSchema(ma.Schema):
    signed_on = ma.fields.Date(required=True)
    reference = ma.fields.String(required=True)
    signatory_ids = ma.fields.Function(
        lambda a: sorted(s.member_id for s in a.signatories), required=True
    )


class EnrollmentSummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    programme_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"enum": [s.value for s in Status]})
    applied_on = ma.fields.Date(required=True)
    active_since = ma.fields.Date(allow_none=True)
    ended_on = ma.fields.Date(allow_none=True)
    close_reason = ma.fields.String(
        allow_none=True,
        metadata={
            "enum": [r.value for r in CloseReason],
            "description": "why it was closed early (null unless closed_early)",
        },
    )


class EnrollmentSchema(RecordSchema, EnrollmentSummarySchema):
    """The summary's fields, with the household and the record of every step."""

    household_id = ma.fields.Integer(required=True)
    decisions = ma.fields.List(ma.fields.Nested(DecisionSchema), required=True)
    agreement = ma.fields.Nested(AgreementSchema, allow_none=True)
    events = ma.fields.List(ma.fields.Nested(EventSchema), required=True)


class CommissionMemberSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    seat = ma.fields.String(required=True, metadata={"enum": [s.value for s in Seat]})
    active = ma.fields.Boolean(required=True)


# --- what comes in -----------------------------------------------------------------------------

# Ids beyond a 64-bit integer never reach the database: refused as input (422), not routed
# in a path (404).

# The fields each action needs, and the ones it may take besides.
ACTION_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "apply": (frozenset({"programme_id"}), frozenset({"applied_on"})),
    "approve": (frozenset({"decided_on", "votes"}), frozenset({"reference", "reason"})),
    "reject": (frozenset({"decided_on", "votes", "reason"}), frozenset({"reference"})),
    "sign_agreement": (
        frozenset({"signed_on", "agreement_ref", "signatory_ids"}),
        frozenset(),
    ),
    "withdraw": (frozenset({"on", "reason"}), frozenset()),
    "complete": (frozenset({"on"}), frozenset({"reason"})),
    "close_early": (frozenset({"on", "close_reason"}), frozenset({"note"})),
    "reopen": (frozenset({"reason"}), frozenset()),
}


class EnrollmentActionSchema(ma.Schema):
    """One step of an enrollment: ``action`` and the fields that step takes."""

    action = ma.fields.String(required=True, validate=ma.validate.OneOf(list(ACTION_FIELDS)))
    programme_id = ma.fields.Integer(strict=True, validate=ID)
    applied_on = ma.fields.Date()
    decided_on = ma.fields.Date()
    votes = ma.fields.Dict(
        keys=ma.fields.Integer(validate=ID),
        values=ma.fields.String(validate=ma.validate.OneOf([v.value for v in Vote])),
    )
    reference = ma.fields.String(metadata={"description": "the commission's minutes"})
    reason = ma.fields.String()
    signed_on = ma.fields.Date()
    agreement_ref = ma.fields.String()
    signatory_ids = ma.fields.List(ma.fields.Integer(strict=True, validate=ID))
    on = ma.fields.Date(
        metadata={"description": "the day a withdrawal, completion or early closing counts from"}
    )
    close_reason = ma.fields.String(validate=ma.validate.OneOf([r.value for r in CloseReason]))
    note = ma.fields.String(metadata={"description": "why, for an early closing (for other)"})

    @ma.validates_schema
    def _fields_of_the_action(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("action") not in ACTION_FIELDS:
            return  # "action" itself is refused
        needed, optional = ACTION_FIELDS[data["action"]]
        errors: dict[str, list[str]] = {}
        for name in sorted(needed - set(data)):
            errors[name] = [_("Required by the action %(action)s.", action=data["action"])]
        for name in sorted(set(data) - needed - optional - {"action"}):
            errors[name] = [_("Not used by the action %(action)s.", action=data["action"])]
        if errors:
            raise ma.ValidationError(errors)


# --- operations --------------------------------------------------------------------------------


def _apply(household: Household, args: dict[str, Any], today: date) -> Enrollment:
    programme = programme_queries.get_visible_programme(current_user, args["programme_id"])
    if programme is None:
        raise ValidationError(_("There is no such programme."), "programme_id")
    return services.apply(
        current_user, household, programme, applied_on=args.get("applied_on") or today, today=today
    )


def _decide(enrollment: Enrollment, args: dict[str, Any], today: date) -> Enrollment:
    data = services.DecisionData(
        decided_on=args["decided_on"],
        outcome="approved" if args["action"] == "approve" else "rejected",
        votes=args["votes"],
        reference=args.get("reference", ""),
        reason=args.get("reason", ""),
    )
    with fields_renamed({"outcome": "votes"}):
        return services.record_decision(current_user, enrollment, data, today=today).enrollment


def _sign(enrollment: Enrollment, args: dict[str, Any], today: date) -> Enrollment:
    with fields_renamed({"reference": "agreement_ref", "signatories": "signatory_ids"}):
        return services.sign_agreement(
            current_user,
            enrollment,
            signed_on=args["signed_on"],
            reference=args["agreement_ref"],
            signatory_ids=args["signatory_ids"],
            today=today,
        ).enrollment


def _close(enrollment: Enrollment, args: dict[str, Any], today: date) -> Enrollment:
    step = services.withdraw if args["action"] == "withdraw" else services.complete
    with fields_renamed({"effective_on": "on"}):
        return step(
            current_user, enrollment, on=args["on"], reason=args.get("reason", ""), today=today
        )


def _close_early(enrollment: Enrollment, args: dict[str, Any], today: date) -> Enrollment:
    allow(policies.can_close_enrollment_early(current_user, enrollment))
    closing = services.EarlyClosing(
        on=args["on"], reason=args["close_reason"], note=args.get("note", "")
    )
    with fields_renamed({"effective_on": "on"}):
        return services.close_early(current_user, enrollment, closing, today=today)


def _reopen(household: Household, args: dict[str, Any], today: date) -> Enrollment:
    """The household's latest enrollment, closed, taken back to where it was closed from."""
    enrollment = queries.latest_enrollment(household)
    if enrollment is None:
        raise ConflictError(_("This household has never applied: there is nothing to reopen."))
    allow(policies.can_reopen_enrollment(current_user, enrollment))
    return services.reopen(current_user, enrollment, reason=args["reason"], today=today)


# Each action after ``apply``: the service its page calls, on the household's open enrollment.
STEPS: dict[str, Callable[[Enrollment, dict[str, Any], date], Enrollment]] = {
    "approve": _decide,
    "reject": _decide,
    "sign_agreement": _sign,
    "withdraw": _close,
    "complete": _close,
    "close_early": _close_early,
}


def _open_enrollment(household: Household) -> Enrollment:
    """Where the page names the enrollment, the API takes the household's open one."""
    enrollment = queries.open_enrollment(household)
    if enrollment is None:
        raise ConflictError(_("This household has no open application or enrollment."))
    return enrollment


@blp.route(f"/households/<{ID_IN_PATH}:household_id>/enrollment", methods=["POST"])
@write
@blp.arguments(EnrollmentActionSchema)
@blp.response(200, EnrollmentSchema)
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope, description="The step does not fit the state")
@blp.alt_response(422, schema=ErrorEnvelope)
def enrollment_step(args: dict[str, Any], household_id: int) -> Enrollment:
    """Take the household's enrollment one step further; returns the enrollment.

    ``apply`` opens a new application (when the household has no open one); every other
    action acts on the household's open enrollment. The fields of each action:

    - apply: ``programme_id``, optional ``applied_on`` (today when left out)
    - approve: ``decided_on``, ``votes``, optional ``reference`` (the minutes), ``reason``
    - reject: ``decided_on``, ``votes``, ``reason``, optional ``reference``
    - sign_agreement: ``signed_on``, ``agreement_ref``, ``signatory_ids`` (adult members)
    - withdraw: ``on``, ``reason``
    - complete: ``on``, optional ``reason`` (refused while hours are left to work)
    - close_early: ``on``, ``close_reason`` (moved_away, died, unable_to_work,
      commission_decision, other), optional ``note`` (required for other)
    - reopen: ``reason``; takes the household's latest enrollment, if completed, withdrawn or
      closed early, back to the state it was closed from (refused while another is open)

    ``votes`` are the commission members present and how each voted:
    ``{"<commission member id>": "for" | "against" | "abstain"}`` (the ids are listed by
    ``GET /programmes/{id}/commission``). A majority of the commission must be present and
    the outcome must follow the votes. Votes are never assumed: the decision's record says
    who was there and how they voted.
    """
    household = visible(get_visible_household(current_user, household_id))
    allow(policies.can_manage_household(current_user, household))
    today = clock.today()
    if args["action"] == "apply":
        return _apply(household, args, today)
    if args["action"] == "reopen":
        return _reopen(household, args, today)
    return STEPS[args["action"]](_open_enrollment(household), args, today)


@blp.route(f"/programmes/<{ID_IN_PATH}:programme_id>/commission")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(CommissionMemberSchema))
@blp.alt_response(403, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
def list_commission(args: dict[str, Any], programme_id: int) -> dict[str, Any]:
    """The programme's commission: the ids that ``votes`` name."""
    programme = visible(programme_queries.get_visible_programme(current_user, programme_id))
    allow(policies.can_manage_programme(current_user, programme))
    members: list[CommissionMember] = queries.commission(programme)
    page, per_page = args["page"], args["per_page"]
    return {
        "items": members[(page - 1) * per_page : page * per_page],
        "page": page,
        "pages": max(1, -(-len(members) // per_page)),
        "total": len(members),
    }

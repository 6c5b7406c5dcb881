"""The rules of the path into a programme: application → decision → agreement → active.

Each transition is one function. It checks the acting user, the current state and the
documents the step needs, records an ``EnrollmentEvent`` and an audit event, and refuses
anything else with a message that names the field at fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from casework import formatting
from casework.audit.services import record
from casework.enrollment.models import (
    REOPENABLE_STATUSES,
    Agreement,
    AgreementSignatory,
    CloseReason,
    CommissionDecision,
    CommissionMember,
    DecisionVote,
    Enrollment,
    EnrollmentEvent,
    Seat,
    Status,
    Vote,
)
from casework.enrollment.queries import open_enrollment
from casework.errors import Checks, ConflictError, PermissionDenied, ValidationError, checking
from casework.extensions import db
from casework.households.models import DuplicateDecision, DuplicateReview, Household, Member
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import User

if TYPE_CHECKING:
    from casework.work.queries import Balance

ADULT_AGE = 18

# Which state may follow which. Anything else is refused.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.APPLIED: frozenset({Status.APPROVED, Status.REJECTED, Status.WITHDRAWN}),
    Status.APPROVED: frozenset({Status.ACTIVE, Status.WITHDRAWN}),
    Status.ACTIVE: frozenset({Status.COMPLETED, Status.CLOSED_EARLY, Status.WITHDRAWN}),
    # Closed: nothing moves them forward; ``reopen`` alone takes some of them back.
    Status.COMPLETED: frozenset(),
    Status.CLOSED_EARLY: frozenset(),
    Status.WITHDRAWN: frozenset(),
    Status.REJECTED: frozenset(),
}


def _refuse_transition(enrollment: Enrollment, target: Status) -> ConflictError:
    current = enrollment.status
    if target == Status.ACTIVE and current == Status.APPLIED:
        return ConflictError(
            _("This application has not been approved by the commission: it cannot become active.")
        )
    if not TRANSITIONS[current]:
        return ConflictError(_("This enrollment is closed: nothing more can change it."))
    return ConflictError(
        _(
            "An enrollment that is %(current)s cannot become %(target)s.",
            current=_status_name(current),
            target=_status_name(target),
        )
    )


def _status_name(status: Status) -> str:
    from casework.labels import ENROLLMENT_STATUS_LABELS

    return str(ENROLLMENT_STATUS_LABELS[status])


def _check_manage(actor: User, enrollment: Enrollment) -> None:
    if not policies.can_manage_enrollment(actor, enrollment):
        raise PermissionDenied()


def _check_date(day: date, today: date, field: str, *, not_before: date | None = None) -> None:
    if day > today:
        raise ValidationError(_("The date cannot be in the future."), field)
    if not_before is not None and day < not_before:
        raise ValidationError(
            _("The date cannot be before %(date)s.", date=not_before.strftime("%d.%m.%Y")), field
        )


def _move(
    actor: User,
    enrollment: Enrollment,
    target: Status,
    effective_on: date,
    *,
    reason: str = "",
    document_ref: str = "",
    close_reason: CloseReason | None = None,
    changes: Mapping[str, object] | None = None,
) -> EnrollmentEvent:
    if target not in TRANSITIONS[enrollment.status]:
        raise _refuse_transition(enrollment, target)
    return _step(
        actor,
        enrollment,
        target,
        effective_on,
        reason=reason,
        document_ref=document_ref,
        close_reason=close_reason,
        changes=changes,
    )


def _step(
    actor: User,
    enrollment: Enrollment,
    target: Status,
    effective_on: date,
    *,
    reason: str = "",
    document_ref: str = "",
    close_reason: CloseReason | None = None,
    action: str = "",
    changes: Mapping[str, object] | None = None,
) -> EnrollmentEvent:
    """Record one step of the history (event and audit, ``enrollment.<action>``, by default
    the new status) once its rules have passed."""
    current = enrollment.status
    enrollment.status = target
    event = EnrollmentEvent(
        enrollment=enrollment,
        from_status=current,
        to_status=target,
        effective_on=effective_on,
        reason=reason,
        document_ref=document_ref,
        close_reason=close_reason,
        actor_id=actor.id,
    )
    db.session.add(event)
    db.session.flush()
    record(
        actor,
        f"enrollment.{action or target}",
        "enrollment",
        enrollment.id,
        municipality_id=enrollment.household.municipality_id,
        changes={
            "status": [current, target],
            "effective_on": effective_on,
            "reason": reason,
            "document_ref": document_ref,
            **({"close_reason": close_reason} if close_reason is not None else {}),
            **(changes or {}),
        },
    )
    return event


def apply(
    actor: User, household: Household, programme: Programme, *, applied_on: date, today: date
) -> Enrollment:
    """Register a household's application to a programme of its own municipality."""
    if not policies.can_manage_household(actor, household):
        raise PermissionDenied()
    if programme.municipality_id != household.municipality_id:
        raise ValidationError(_("The programme belongs to another municipality."), "programme_id")
    _check_date(applied_on, today, "applied_on", not_before=programme.starts_on)
    if programme.ends_on is not None and applied_on > programme.ends_on:
        raise ValidationError(_("The programme had ended on that date."), "applied_on")
    if open_enrollment(household) is not None:
        raise ConflictError(_("This household already has an open application or enrollment."))
    enrollment = Enrollment(household=household, programme=programme, applied_on=applied_on)
    db.session.add(enrollment)
    try:
        db.session.flush()
    except IntegrityError:
        # Another request enrolled the same household a moment ago: the index refused this one.
        raise ConflictError(
            _("This household already has an open application or enrollment.")
        ) from None
    db.session.add(
        EnrollmentEvent(
            enrollment=enrollment,
            from_status=None,
            to_status=Status.APPLIED,
            effective_on=applied_on,
            actor_id=actor.id,
        )
    )
    db.session.flush()
    record(
        actor,
        "enrollment.applied",
        "enrollment",
        enrollment.id,
        municipality_id=household.municipality_id,
        changes={
            "household_id": household.id,
            "programme_id": programme.id,
            "applied_on": applied_on,
        },
    )
    return enrollment


def add_commission_member(
    actor: User, programme: Programme, name: str, seat: str
) -> CommissionMember:
    if not policies.can_manage_programme(actor, programme):
        raise PermissionDenied()
    if not name.strip():
        raise ValidationError(_("Enter the commission member's name."), "name")
    if seat not in frozenset(Seat):
        raise ValidationError(_("Choose the member's seat on the commission."), "seat")
    member = CommissionMember(programme_id=programme.id, name=name.strip()[:120], seat=Seat(seat))
    db.session.add(member)
    db.session.flush()
    record(
        actor,
        "commission.add_member",
        "commission_member",
        member.id,
        municipality_id=programme.municipality_id,
        changes={"programme_id": programme.id, "name": member.name, "seat": seat},
    )
    return member


def commission_of(programme: Programme) -> list[CommissionMember]:
    return list(
        db.session.scalars(
            select(CommissionMember)
            .where(CommissionMember.programme_id == programme.id, CommissionMember.active.is_(True))
            .order_by(CommissionMember.id)
        )
    )


def pending_duplicates(household: Household) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(DuplicateReview)
            .where(
                DuplicateReview.household_id == household.id,
                DuplicateReview.decision == DuplicateDecision.PENDING.value,
            )
        )
        or 0
    )


@dataclass(frozen=True)
class DecisionData:
    decided_on: date
    outcome: str  # "approved" or "rejected"
    votes: Mapping[int, str]  # commission member id → vote, for the members present
    reference: str = ""
    reason: str = ""


OUTCOMES = {"approved": Status.APPROVED, "rejected": Status.REJECTED}


def _count_votes(votes: Mapping[int, str], commission: Iterable[int]) -> tuple[int, int]:
    """The votes for and against, once the voters are known to be a present majority of the
    commission (``commission``: its members' ids)."""
    members = set(commission)
    if not members:
        raise ValidationError(
            _("The programme has no commission yet: add its members first."), "votes"
        )
    if set(votes) - members:
        raise ValidationError(_("Only members of this programme's commission can vote."), "votes")
    if any(v not in frozenset(Vote) for v in votes.values()):
        raise ValidationError(_("A vote is for, against or abstain."), "votes")
    present = len(votes)
    if present * 2 <= len(members):
        raise ValidationError(
            _(
                "Only %(present)d of %(total)d commission members were present: a decision needs a "
                "majority of the commission.",
                present=present,
                total=len(members),
            ),
            "votes",
        )
    votes_for = sum(1 for v in votes.values() if v == Vote.FOR)
    votes_against = sum(1 for v in votes.values() if v == Vote.AGAINST)
    return votes_for, votes_against


def _check_outcome(
    enrollment: Enrollment, target: Status, data: DecisionData, checks: Checks
) -> None:
    """The outcome follows the votes, a rejection says why, and an approval waits for the
    household's possible duplicates to be decided."""
    commission = [m.id for m in commission_of(enrollment.programme)]
    counted = checks.run(lambda: _count_votes(data.votes, commission))
    if counted is not None and (target == Status.APPROVED) != (counted[0] > counted[1]):
        checks.refuse(
            _(
                "The outcome does not follow the votes (%(for)d for, %(against)d against).",
                **{"for": counted[0], "against": counted[1]},
            ),
            "outcome",
        )
    if target == Status.REJECTED and not data.reason.strip():
        checks.refuse(_("Give the reason for the rejection."), "reason")
    if not checks.errors and target == Status.APPROVED and pending_duplicates(enrollment.household):
        raise ConflictError(
            _("A possible duplicate of this household is still to be checked: decide it first.")
        )


def record_decision(
    actor: User, enrollment: Enrollment, data: DecisionData, *, today: date
) -> CommissionDecision:
    """The commission approves or rejects an application; a majority must be present."""
    _check_manage(actor, enrollment)
    target = OUTCOMES.get(data.outcome)
    if target is None:
        raise ValidationError(_("Choose the commission's decision."), "outcome")
    if target not in TRANSITIONS[enrollment.status]:
        raise _refuse_transition(enrollment, target)
    with checking() as checks:
        checks.run(
            lambda: _check_date(
                data.decided_on, today, "decided_on", not_before=enrollment.applied_on
            )
        )
        _check_outcome(enrollment, target, data, checks)
    decision = CommissionDecision(
        enrollment=enrollment,
        decided_on=data.decided_on,
        outcome=target,
        reference=data.reference.strip()[:120],
        reason=data.reason.strip(),
        recorded_by_id=actor.id,
    )
    decision.votes = [
        DecisionVote(commission_member_id=member_id, vote=Vote(vote))
        for member_id, vote in sorted(data.votes.items())
    ]
    db.session.add(decision)
    _move(
        actor,
        enrollment,
        target,
        data.decided_on,
        reason=data.reason.strip(),
        document_ref=decision.reference,
    )
    return decision


def _check_signatories(enrollment: Enrollment, chosen: set[int], signed_on: date) -> None:
    members = {m.id: m for m in enrollment.household.members}
    if not chosen:
        raise ValidationError(
            _("At least one adult member must sign the agreement."), "signatories"
        )
    if chosen - set(members):
        raise ValidationError(
            _("Only members of this household can sign its agreement."), "signatories"
        )
    minors = [
        members[i].full_name for i in sorted(chosen) if members[i].age_on(signed_on) < ADULT_AGE
    ]
    if minors:
        raise ValidationError(
            _("A minor cannot sign the agreement: %(names)s.", names=", ".join(minors)),
            "signatories",
        )


def sign_agreement(
    actor: User,
    enrollment: Enrollment,
    *,
    signed_on: date,
    reference: str,
    signatory_ids: Iterable[int],
    today: date,
) -> Agreement:
    """The family signs the agreement: the enrollment becomes active from that day."""
    _check_manage(actor, enrollment)
    if Status.ACTIVE not in TRANSITIONS[enrollment.status]:
        raise _refuse_transition(enrollment, Status.ACTIVE)
    approval = next(
        (d for d in reversed(enrollment.decisions) if d.outcome == Status.APPROVED), None
    )
    chosen = set(signatory_ids)
    with checking() as checks:
        checks.run(
            lambda: _check_date(
                signed_on,
                today,
                "signed_on",
                not_before=approval.decided_on if approval else enrollment.applied_on,
            )
        )
        if not reference.strip():
            checks.refuse(_("Enter the agreement's reference number."), "reference")
        checks.run(lambda: _check_signatories(enrollment, chosen, signed_on))
    agreement = Agreement(
        enrollment=enrollment,
        signed_on=signed_on,
        reference=reference.strip()[:120],
        recorded_by_id=actor.id,
    )
    agreement.signatories = [AgreementSignatory(member_id=i) for i in sorted(chosen)]
    db.session.add(agreement)
    enrollment.active_since = signed_on
    _move(actor, enrollment, Status.ACTIVE, signed_on, document_ref=agreement.reference)
    return agreement


def withdraw(
    actor: User, enrollment: Enrollment, *, on: date, reason: str, today: date
) -> Enrollment:
    """The family leaves (or is taken out of) the programme; the reason is kept."""
    _check_manage(actor, enrollment)
    if not reason.strip():
        raise ValidationError(_("Give the reason for the withdrawal."), "reason")
    _check_date(on, today, "effective_on", not_before=enrollment.applied_on)
    enrollment.ended_on = on
    _move(actor, enrollment, Status.WITHDRAWN, on, reason=reason.strip())
    return enrollment


def balance_of(enrollment: Enrollment) -> Balance:
    """The household's hours as its page shows them (owed, verified, left): what a closing
    is decided on."""
    from casework.work.queries import balances  # work.queries imports this module

    return balances([enrollment.household_id])[enrollment.household_id]


def _hours(minutes: int) -> str:
    return formatting.hours(minutes, str(get_locale() or "en"))


def complete(
    actor: User, enrollment: Enrollment, *, on: date, reason: str, today: date
) -> Enrollment:
    """Close an active enrollment whose family has worked off every hour it owes. With hours
    left it is refused: ending it then is an early closing, with its reason."""
    _check_manage(actor, enrollment)
    if Status.COMPLETED not in TRANSITIONS[enrollment.status]:
        raise _refuse_transition(enrollment, Status.COMPLETED)
    _check_date(on, today, "effective_on", not_before=enrollment.active_since)
    balance = balance_of(enrollment)
    if balance.remaining > 0:
        raise ConflictError(
            _(
                "The family still has %(hours)s to work: the enrollment can be completed only "
                "when every hour is worked off. To end it now, close it early and give the "
                "reason.",
                hours=_hours(balance.remaining),
            )
        )
    enrollment.ended_on = on
    _move(
        actor,
        enrollment,
        Status.COMPLETED,
        on,
        reason=reason.strip(),
        changes={"minutes_owed": balance.owed, "minutes_verified": balance.verified},
    )
    return enrollment


@dataclass(frozen=True)
class EarlyClosing:
    """An enrollment ended before its hours were worked off: when, why (a ``CloseReason``
    value) and a note (required for "other")."""

    on: date
    reason: str
    note: str = ""


def check_early_closing(enrollment: Enrollment, closing: EarlyClosing, *, today: date) -> None:
    """Every mistake of an early closing at once (the page runs it also when its own
    confirmation is missing, so the reason's refusal comes in the same answer)."""
    with checking() as checks:
        if closing.reason not in frozenset(CloseReason):
            checks.refuse(_("Choose why the enrollment ends early."), "close_reason")
        elif closing.reason == CloseReason.OTHER and not closing.note.strip():
            checks.refuse(_("Say in the note why the enrollment ends early."), "note")
        since = enrollment.active_since
        checks.run(lambda: _check_date(closing.on, today, "effective_on", not_before=since))


def close_early(
    actor: User, enrollment: Enrollment, closing: EarlyClosing, *, today: date
) -> Enrollment:
    """End an active enrollment with hours still owed (the family moved away, a member died,
    ...). The hours left stay on record; the report counts it apart from completions."""
    if not policies.can_close_enrollment_early(actor, enrollment):
        raise PermissionDenied()
    if Status.CLOSED_EARLY not in TRANSITIONS[enrollment.status]:
        raise _refuse_transition(enrollment, Status.CLOSED_EARLY)
    check_early_closing(enrollment, closing, today=today)
    reason, note = CloseReason(closing.reason), closing.note.strip()
    balance = balance_of(enrollment)
    if balance.owed and not balance.remaining:
        raise ConflictError(
            _("Every hour owed is worked off: complete the enrollment instead of closing it early.")
        )
    enrollment.ended_on = closing.on
    enrollment.close_reason = reason
    _move(
        actor,
        enrollment,
        Status.CLOSED_EARLY,
        closing.on,
        reason=note,
        close_reason=reason,
        changes={
            "minutes_owed": balance.owed,
            "minutes_verified": balance.verified,
            "minutes_left": balance.remaining,
        },
    )
    return enrollment


def status_before_closing(enrollment: Enrollment) -> Status:
    """The state a closed enrollment left to be closed: where reopening takes it back."""
    closing = next(
        (e for e in reversed(enrollment.events) if e.to_status == enrollment.status), None
    )
    if closing is not None and closing.from_status is not None:
        return closing.from_status
    return Status.ACTIVE if enrollment.active_since else Status.APPLIED


def reopen(actor: User, enrollment: Enrollment, *, reason: str, today: date) -> Enrollment:
    """Undo a closing (completed in error, withdrawn, closed early): the enrollment goes back
    to the state it was closed from, and the history keeps both steps with their reasons.
    Refused while the household has another open application or enrollment."""
    if not policies.can_reopen_enrollment(actor, enrollment):
        raise PermissionDenied()
    if enrollment.status not in REOPENABLE_STATUSES:
        raise ConflictError(
            _("Only an enrollment completed, withdrawn or closed early can be reopened.")
        )
    if not reason.strip():
        raise ValidationError(_("Give the reason for reopening the enrollment."), "reason")
    if open_enrollment(enrollment.household) is not None:
        raise ConflictError(_("This household already has an open application or enrollment."))
    target = status_before_closing(enrollment)
    ended_on, close_reason = enrollment.ended_on, enrollment.close_reason
    enrollment.ended_on = None
    enrollment.close_reason = None
    try:
        _step(
            actor,
            enrollment,
            target,
            today,
            reason=reason.strip(),
            action="reopened",
            changes={"ended_on": [ended_on, None], "close_reason": [close_reason, None]},
        )
    except IntegrityError:
        # Another request opened an enrollment for the household a moment ago.
        raise ConflictError(
            _("This household already has an open application or enrollment.")
        ) from None
    return enrollment


# --- who may work --------------------------------------------------------------------------


def work_refusal(member: Member, enrollment: Enrollment | None, day: date) -> str | None:
    """Why ``member`` may not work on ``day``, or None when it may.

    Adults (18+) of an active enrollment, from the day it became active, and not exempt that day.
    """
    if member.age_on(day) < ADULT_AGE:
        return _("%(name)s is under 18 and may not work.", name=member.full_name)
    if enrollment is None or enrollment.status != Status.ACTIVE or enrollment.active_since is None:
        return _("%(name)s's household has no active enrollment.", name=member.full_name)
    if day < enrollment.active_since:
        return _(
            "The enrollment became active only on %(date)s.",
            date=enrollment.active_since.strftime("%d.%m.%Y"),
        )
    if any(e.covers(day) for e in member.exemptions):
        return _("%(name)s is exempt from work on that day.", name=member.full_name)
    return None

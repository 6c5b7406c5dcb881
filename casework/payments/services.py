"""The rules for money: arrears, payment requests, approvals, payments, reversals, budget.

Every function takes the acting user and an explicit ``today``; it checks permission and
state, changes rows, writes a request event and an audit event, and flushes. It never
commits: the caller's unit of work does, and rolls back on any ``DomainError``.

Races are settled by the database, not by reading first: a request moves state only through
an ``UPDATE ... WHERE status = <the state we saw>``, and a programme's committed amount only
through ``UPDATE ... WHERE committed + amount <= budget``. Whoever comes second gets a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from casework import formatting
from casework.audit.models import AccessAction
from casework.audit.services import log_access, record
from casework.bounds import MAX_AMOUNT_DENI, too_large_amount
from casework.enrollment.models import Enrollment, Status
from casework.errors import (
    Checks,
    ConflictError,
    DomainError,
    PermissionDenied,
    ValidationError,
    checking,
)
from casework.extensions import db
from casework.households.models import Household
from casework.labels import REQUEST_STATUS_LABELS, label
from casework.organizations.models import Organization, OrganizationKind
from casework.payments.models import (
    OPEN_REQUEST_STATUSES,
    Approval,
    Arrear,
    CustomerNumberCorrection,
    Obligation,
    Payment,
    PaymentRequest,
    PaymentReversal,
    RequestEvent,
    RequestStatus,
    UtilityAccount,
)
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import User

# The form's labels, to name the amount that is too large (the same words as the form).
_AMOUNT_LABELS = {
    "principal": lambda: _("Principal (ден.)"),
    "penalty": lambda: _("Penalty interest (ден.)"),
    "amount": lambda: _("Amount to pay (ден.)"),
    "settled": lambda: _("Amount settled (ден.)"),
}


def _money(deni: int) -> str:
    return formatting.money(deni, str(get_locale() or "en"))


def _day(value: date) -> str:
    return formatting.day(value, "")


def obligation_minutes(amount_deni: int, hourly_value_deni: int) -> int:
    """Minutes owed for a payment: fractions of a minute are waived in the family's favour."""
    return amount_deni * 60 // hourly_value_deni


# --- creditors and accounts --------------------------------------------------------------------


def add_creditor(actor: User, name: str, short_name: str = "") -> Organization:
    if not policies.can_manage_creditors(actor):
        raise PermissionDenied()
    name = name.strip()
    if not name:
        raise ValidationError(_("Enter the creditor's name."), "name")
    exists = db.session.scalar(
        select(Organization.id).where(
            Organization.kind == OrganizationKind.CREDITOR,
            func.lower(Organization.name) == name.lower(),
        )
    )
    if exists is not None:
        raise ValidationError(_("A creditor with this name exists already."), "name")
    creditor = Organization(
        kind=OrganizationKind.CREDITOR, name=name, short_name=short_name.strip() or None
    )
    db.session.add(creditor)
    db.session.flush()
    record(actor, "creditor.create", "organization", creditor.id, changes={"name": name})
    return creditor


def open_account(
    actor: User, household: Household, creditor: Organization, customer_number: str
) -> UtilityAccount:
    if not policies.can_record_arrears(actor, household):
        raise PermissionDenied()
    if creditor.kind != OrganizationKind.CREDITOR or not policies.creditor_serves(
        creditor, household
    ):
        raise ValidationError(_("Choose a creditor."), "creditor_id")
    number = customer_number.strip()
    if not number:
        raise ValidationError(_("Enter the customer number."), "customer_number")
    taken = db.session.scalar(
        select(UtilityAccount.household_id).where(
            UtilityAccount.creditor_id == creditor.id, UtilityAccount.customer_number == number
        )
    )
    if taken is not None:
        raise ValidationError(
            _("This customer number is already registered at this creditor."), "customer_number"
        )
    account = UtilityAccount(
        household=household, creditor=creditor, customer_number=number, created_by_id=actor.id
    )
    db.session.add(account)
    try:
        db.session.flush()
    except IntegrityError:
        raise ValidationError(
            _("This customer number is already registered at this creditor."), "customer_number"
        ) from None
    record(
        actor,
        "utility_account.create",
        "utility_account",
        account.id,
        municipality_id=household.municipality_id,
        changes={"creditor_id": creditor.id, "customer_number": number},
    )
    return account


@dataclass(frozen=True)
class ArrearData:
    period_from: date
    period_to: date
    principal_deni: int
    penalty_deni: int
    statement_ref: str
    received_on: date


@dataclass(frozen=True)
class ArrearDraft:
    """A statement as far as it was typed: ``None`` where a date or an amount is missing or
    unreadable (the form says so itself); what is there is checked all the same."""

    period_from: date | None
    period_to: date | None
    principal_deni: int | None
    penalty_deni: int | None
    statement_ref: str
    received_on: date | None


def check_arrear(draft: ArrearDraft | ArrearData, *, today: date) -> None:
    """Every mistake of a statement at once: its period, its day of receipt, its amounts.
    The form calls it too when a field of its own is refused, to show all of them together."""
    with checking() as checks:
        _check_period(checks, draft, today)
        _check_amounts(checks, draft)
        if not draft.statement_ref.strip():
            checks.refuse(_("Enter the statement or invoice number."), "statement_ref")


def _check_period(checks: Checks, draft: ArrearDraft | ArrearData, today: date) -> None:
    start, end, received = draft.period_from, draft.period_to, draft.received_on
    if start is not None and end is not None and end < start:
        checks.refuse(_("The period must end on or after its start."), "period_to")
    if received is not None and received > today:
        checks.refuse(_("The date cannot be in the future."), "received_on")
    elif received is not None and start is not None and received < start:
        checks.refuse(
            _("A statement cannot be received before the period it covers."), "received_on"
        )


def _check_amounts(checks: Checks, draft: ArrearDraft | ArrearData) -> None:
    for field, value in (("principal", draft.principal_deni), ("penalty", draft.penalty_deni)):
        if value is not None and value < 0:
            checks.refuse(_("Enter an amount of zero or more."), field)
        elif value is not None and value > MAX_AMOUNT_DENI:
            checks.refuse(too_large_amount(_AMOUNT_LABELS[field]()), field)
    if (
        checks.ok("principal", "penalty")
        and draft.principal_deni is not None
        and (draft.principal_deni + (draft.penalty_deni or 0)) == 0
    ):
        checks.refuse(_("A statement must show something owed."), "principal")


def record_arrear(actor: User, account: UtilityAccount, data: ArrearData, *, today: date) -> Arrear:
    """A creditor's statement. Entered once; a wrong statement is answered by a new one."""
    if not policies.can_record_arrears(actor, account.household):
        raise PermissionDenied()
    check_arrear(data, today=today)
    check_statement_is_new(account, data.statement_ref)
    arrear = Arrear(
        account_id=account.id,
        period_from=data.period_from,
        period_to=data.period_to,
        principal_deni=data.principal_deni,
        penalty_deni=data.penalty_deni,
        statement_ref=data.statement_ref.strip(),
        received_on=data.received_on,
        recorded_by_id=actor.id,
    )
    _store_once(account, arrear)
    record(
        actor,
        "arrear.create",
        "arrear",
        arrear.id,
        municipality_id=account.household.municipality_id,
        changes={
            "account_id": account.id,
            "period": [data.period_from, data.period_to],
            "principal_deni": data.principal_deni,
            "penalty_deni": data.penalty_deni,
            "statement_ref": arrear.statement_ref,
        },
    )
    return arrear


def stored_statement(account: UtilityAccount, statement_ref: str) -> Arrear | None:
    """The statement of this number on the account that counts (a voided one does not)."""
    return db.session.scalar(
        select(Arrear).where(
            Arrear.account_id == account.id,
            Arrear.statement_ref == statement_ref.strip(),
            Arrear.voided_on.is_(None),
        )
    )


def _stored_already(stored: Arrear) -> ValidationError:
    return ValidationError(
        _(
            "Statement %(number)s is already recorded on this account (%(start)s – %(end)s, "
            "received on %(received)s). A wrong statement is corrected by voiding or "
            "replacing it.",
            number=stored.statement_ref,
            start=_day(stored.period_from),
            end=_day(stored.period_to),
            received=_day(stored.received_on),
        ),
        "statement_ref",
    )


def check_statement_is_new(account: UtilityAccount, statement_ref: str) -> None:
    """A statement is stored once: its number may be on the account only once among the
    statements that count (the form, the API and the import alike)."""
    stored = stored_statement(account, statement_ref)
    if stored is not None:
        raise _stored_already(stored)


def _store_once(account: UtilityAccount, arrear: Arrear) -> None:
    """Insert the statement in a savepoint: one stored by a concurrent request after the check
    above (the unique index refuses it) is refused like the check's, naming the stored one."""
    try:
        with db.session.begin_nested():
            db.session.add(arrear)
    except IntegrityError:
        stored = stored_statement(account, arrear.statement_ref)
        if stored is None:
            raise
        raise _stored_already(stored) from None
    db.session.expire(account, ["arrears"])


# --- corrections: a statement voided or replaced, a customer number corrected ------------------

# Requests that stand on a statement: one drafted, waiting, approved or paid keeps it from
# being voided. Rejected, cancelled and reversed requests hold nothing and pay nothing.
STANDING_REQUEST_STATUSES = (
    RequestStatus.DRAFT,
    RequestStatus.SUBMITTED,
    RequestStatus.APPROVED,
    RequestStatus.PAID,
)


def _refuse_standing_request(arrear: Arrear) -> None:
    standing = db.session.scalar(
        select(PaymentRequest)
        .where(
            PaymentRequest.arrear_id == arrear.id,
            PaymentRequest.status.in_(STANDING_REQUEST_STATUSES),
        )
        .order_by(PaymentRequest.id)
        .limit(1)
    )
    if standing is not None:
        raise ConflictError(
            _(
                "Statement %(number)s cannot be voided: payment request #%(request)d on it is "
                "%(status)s. Only a statement whose requests were all rejected, cancelled or "
                "reversed can be voided.",
                number=arrear.statement_ref,
                request=standing.id,
                status=label(REQUEST_STATUS_LABELS, standing.status),
            )
        )


def void_arrear(actor: User, arrear: Arrear, reason: str, *, today: date) -> Arrear:
    """A statement entered wrongly no longer counts; it stays in the history with the reason.
    Only while nothing stands on it: the row is marked first (the second of two voids finds it
    marked), then the requests are read, so one committed meanwhile is seen and the void
    refused; a draft still being made then is refused when it is submitted (a voided statement
    takes no request)."""
    if not policies.can_correct_arrear(actor, arrear):
        raise PermissionDenied()
    if arrear.voided_on is not None:
        raise ConflictError(_("This statement has been voided already."))
    if not reason.strip():
        raise ValidationError(_("Give the reason for voiding the statement."), "reason")
    with db.session.begin_nested():  # a refusal below leaves the statement as it was
        result = db.session.execute(
            update(Arrear)
            .where(Arrear.id == arrear.id, Arrear.voided_on.is_(None))
            .values(voided_on=today, voided_by_id=actor.id, void_reason=reason.strip())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError(_("This statement has been voided already."))
        _refuse_standing_request(arrear)
    db.session.expire(arrear)
    record(
        actor,
        "arrear.void",
        "arrear",
        arrear.id,
        municipality_id=arrear.account.household.municipality_id,
        changes={
            "statement_ref": arrear.statement_ref,
            "total_deni": arrear.total_deni,
            "voided_on": today,
            "reason": arrear.void_reason,
        },
    )
    return arrear


def replace_arrear(
    actor: User, arrear: Arrear, data: ArrearData, reason: str, *, today: date
) -> Arrear:
    """Void a wrong statement and enter the right one in its place, in one step: the new
    statement points at the one it replaces (and may carry the same number)."""
    try:
        with db.session.begin_nested():  # refused, neither the void nor the new one stays
            void_arrear(actor, arrear, reason, today=today)
            replacement = record_arrear(actor, arrear.account, data, today=today)
            replacement.replaces_id = arrear.id
            db.session.flush()
    except DomainError:
        db.session.expire(arrear)  # read inside the savepoint: voided, as it no longer is
        raise
    db.session.expire(arrear, ["replaced_by"])
    record(
        actor,
        "arrear.replace",
        "arrear",
        replacement.id,
        municipality_id=arrear.account.household.municipality_id,
        changes={"replaces_id": arrear.id, "reason": arrear.void_reason},
    )
    return replacement


def correct_customer_number(
    actor: User, account: UtilityAccount, customer_number: str, reason: str, *, today: date
) -> UtilityAccount:
    """A customer number entered wrongly is corrected on the account, which keeps its
    statements and their payments; the number it had stays in the account's corrections."""
    if not policies.can_correct_account(actor, account):
        raise PermissionDenied()
    number, old = customer_number.strip(), account.customer_number
    if not number:
        raise ValidationError(_("Enter the customer number."), "customer_number")
    if number == old:
        raise ValidationError(
            _("This is the account's customer number already."), "customer_number"
        )
    if not reason.strip():
        raise ValidationError(_("Give the reason for the correction."), "reason")
    taken = _("This customer number is already registered at this creditor.")
    if db.session.scalar(
        select(UtilityAccount.id).where(
            UtilityAccount.creditor_id == account.creditor_id,
            UtilityAccount.customer_number == number,
        )
    ):
        raise ValidationError(taken, "customer_number")
    try:
        with db.session.begin_nested():  # taken a moment ago: the unique key refuses it
            result = db.session.execute(
                update(UtilityAccount)
                .where(UtilityAccount.id == account.id, UtilityAccount.customer_number == old)
                .values(customer_number=number)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        raise ValidationError(taken, "customer_number") from None
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(_("Someone else corrected this account a moment ago. Reload it."))
    db.session.add(
        CustomerNumberCorrection(
            account_id=account.id,
            old_number=old,
            new_number=number,
            reason=reason.strip(),
            corrected_on=today,
            corrected_by_id=actor.id,
        )
    )
    db.session.flush()
    db.session.expire(account)
    record(
        actor,
        "utility_account.correct_number",
        "utility_account",
        account.id,
        municipality_id=account.household.municipality_id,
        changes={"customer_number": [old, number], "reason": reason.strip()},
    )
    return account


# --- what is left on an arrear -----------------------------------------------------------------


def paid_on_arrear(arrear: Arrear) -> int:
    """Settled by the programme on this arrear, reversals excluded."""
    return (
        db.session.scalar(
            select(func.coalesce(func.sum(Payment.amount_deni), 0))
            .join(PaymentRequest, Payment.request_id == PaymentRequest.id)
            .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
            .where(PaymentRequest.arrear_id == arrear.id, PaymentReversal.id.is_(None))
        )
        or 0
    )


def outstanding(arrear: Arrear) -> int:
    """What the statement still says is owed; nothing once it is voided."""
    if not arrear.counts:
        return 0
    return arrear.total_deni - paid_on_arrear(arrear)


def available_for_request(arrear: Arrear, *, excluding: PaymentRequest | None = None) -> int:
    """What a new (or edited) request may still ask for: the outstanding amount less what
    other open requests on the same arrear already hold."""
    held = select(func.coalesce(func.sum(PaymentRequest.amount_deni), 0)).where(
        PaymentRequest.arrear_id == arrear.id,
        PaymentRequest.status.in_(OPEN_REQUEST_STATUSES),
    )
    if excluding is not None and excluding.id is not None:
        held = held.where(PaymentRequest.id != excluding.id)
    return outstanding(arrear) - (db.session.scalar(held) or 0)


def ineligibility(arrear: Arrear, programme: Programme) -> str | None:
    """Why the programme's call does not cover this arrear, or ``None`` when it does."""
    eligible_ids = {c.id for c in programme.eligible_creditors}
    if eligible_ids and arrear.account.creditor_id not in eligible_ids:
        return _(
            "The programme does not pay debts to %(creditor)s.", creditor=arrear.account.creditor
        )
    start, end = programme.debt_period_from, programme.debt_period_to
    if (start is not None and arrear.period_from < start) or (
        end is not None and arrear.period_to > end
    ):
        return _(
            "The statement covers %(start)s–%(end)s; the programme pays debts of "
            "%(from)s–%(to)s only.",
            start=_day(arrear.period_from),
            end=_day(arrear.period_to),
            **{
                "from": _day(start) if start else "…",
                "to": _day(end) if end else "…",
            },
        )
    return None


# --- requests ----------------------------------------------------------------------------------


def _check_amount(amount_deni: int, label: str = "amount") -> None:
    if amount_deni <= 0:
        raise ValidationError(_("Enter an amount greater than zero."), "amount")
    if amount_deni > MAX_AMOUNT_DENI:
        raise ValidationError(too_large_amount(_AMOUNT_LABELS[label]()), "amount")


def _check_request_fits(
    request: PaymentRequest | None, enrollment: Enrollment, arrear: Arrear, amount_deni: int
) -> None:
    if enrollment.status != Status.ACTIVE:
        raise ConflictError(_("Payments can be requested only for an active enrollment."))
    with checking() as checks:
        checks.run(lambda: _check_amount(amount_deni))
        if arrear.account.household_id != enrollment.household_id:
            checks.refuse(_("This debt belongs to another household."), "arrear_id")
        elif not arrear.counts:
            checks.refuse(_("This statement has been voided: nothing is owed on it."), "arrear_id")
        elif (reason := ineligibility(arrear, enrollment.programme)) is not None:
            checks.refuse(reason, "arrear_id")
        if not checks.ok("amount", "arrear_id"):
            return
        available = available_for_request(arrear, excluding=request)
        if amount_deni > available:
            checks.refuse(
                _(
                    "At most %(available)s of this debt can still be requested "
                    "(outstanding, less other open requests).",
                    available=_money(max(available, 0)),
                ),
                "amount",
            )


def _event(
    actor: User,
    request: PaymentRequest,
    before: RequestStatus | None,
    note: str = "",
    *,
    on: date,
) -> PaymentRequest:
    """The step's event and audit entry; the request, for the step to return."""
    db.session.add(
        RequestEvent(
            request=request,
            from_status=before,
            to_status=request.status,
            note=note,
            effective_on=on,
            actor_id=actor.id,
        )
    )
    db.session.flush()
    record(
        actor,
        f"payment_request.{request.status}",
        "payment_request",
        request.id,
        municipality_id=request.enrollment.household.municipality_id,
        changes={
            "status": [before, request.status],
            "amount_deni": request.amount_deni,
            "arrear_id": request.arrear_id,
            "note": note,
        },
    )
    return request


def _refuse_state(request: PaymentRequest, action: str) -> ConflictError:
    return ConflictError(
        _(
            "This request is %(status)s: it cannot be %(action)s.",
            status=label(REQUEST_STATUS_LABELS, request.status),
            action=action,
        )
    )


def _raced() -> ConflictError:
    """The refusal of the second of two simultaneous steps on one request."""
    return ConflictError(_("Someone else acted on this request a moment ago. Reload it and check."))


def _move(request: PaymentRequest, seen: RequestStatus, **values: object) -> None:
    """Change the request only if it is still in the state we read: the second of two
    simultaneous actions finds no row to update and is refused."""
    result = db.session.execute(
        update(PaymentRequest)
        .where(PaymentRequest.id == request.id, PaymentRequest.status == seen)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _raced()
    db.session.expire(request)


def _check_coordinator(actor: User, enrollment: Enrollment) -> None:
    if not policies.can_record_arrears(actor, enrollment.household):
        raise PermissionDenied()


def _check_officer(actor: User, request: PaymentRequest) -> None:
    if not policies.can_decide_request(actor, request):
        raise PermissionDenied()


def active_enrollment_of(household: Household) -> Enrollment | None:
    """The household's active enrollment, the one its payments are requested for."""
    return db.session.scalar(
        select(Enrollment).where(
            Enrollment.household_id == household.id, Enrollment.status == Status.ACTIVE
        )
    )


def request_payment(
    actor: User,
    arrear: Arrear,
    amount_deni: int,
    justification: str,
    *,
    today: date,
    submit_now: bool = False,
) -> PaymentRequest:
    """A request for (part of) a debt, as a draft of its household's active enrollment (the
    page and the API alike), sent to the municipality at once when ``submit_now``."""
    enrollment = active_enrollment_of(arrear.account.household)
    if enrollment is None:
        raise ConflictError(_("Payments can be requested only for an active enrollment."))
    made = create_request(actor, enrollment, arrear, amount_deni, justification, today=today)
    return submit(actor, made, today=today) if submit_now else made


def create_request(
    actor: User,
    enrollment: Enrollment,
    arrear: Arrear,
    amount_deni: int,
    justification: str,
    *,
    today: date,
) -> PaymentRequest:
    _check_coordinator(actor, enrollment)
    _check_request_fits(None, enrollment, arrear, amount_deni)
    request = PaymentRequest(
        enrollment=enrollment,
        arrear=arrear,
        amount_deni=amount_deni,
        justification=justification.strip(),
        status=RequestStatus.DRAFT,
        created_by_id=actor.id,
        last_changed_by_id=actor.id,
    )
    db.session.add(request)
    db.session.flush()
    return _event(actor, request, None, on=today)


def edit_request(
    actor: User, request: PaymentRequest, amount_deni: int, justification: str, *, today: date
) -> PaymentRequest:
    """A draft, or a rejected request going back for another try. The editor becomes a maker:
    they may not approve it afterwards."""
    _check_coordinator(actor, request.enrollment)
    if request.status not in (RequestStatus.DRAFT, RequestStatus.REJECTED):
        raise _refuse_state(request, _("edited"))
    _check_request_fits(request, request.enrollment, request.arrear, amount_deni)
    before = {"amount_deni": request.amount_deni, "justification": request.justification}
    request.amount_deni = amount_deni
    request.justification = justification.strip()
    request.last_changed_by_id = actor.id
    db.session.flush()
    record(
        actor,
        "payment_request.edit",
        "payment_request",
        request.id,
        municipality_id=request.enrollment.household.municipality_id,
        changes={
            "amount_deni": [before["amount_deni"], amount_deni],
            "justification": [before["justification"], request.justification],
        },
    )
    return request


def submit(actor: User, request: PaymentRequest, *, today: date) -> PaymentRequest:
    """Send to the municipality. Above the programme's threshold two officers must approve."""
    _check_coordinator(actor, request.enrollment)
    seen = RequestStatus(request.status)
    if seen not in (RequestStatus.DRAFT, RequestStatus.REJECTED):
        raise _refuse_state(request, _("submitted"))
    _check_request_fits(request, request.enrollment, request.arrear, request.amount_deni)
    needed = 2 if request.amount_deni > request.enrollment.programme.approval_threshold_deni else 1
    _move(
        request,
        seen,
        status=RequestStatus.SUBMITTED,
        round=PaymentRequest.round + 1,
        approvals_needed=needed,
        approvals_count=0,
        last_changed_by_id=actor.id,
    )
    return _event(actor, request, seen, on=today)


def approve(actor: User, request: PaymentRequest, *, today: date) -> PaymentRequest:
    """One officer's approval. The last approval needed commits the amount to the budget."""
    _check_officer(actor, request)
    if request.status != RequestStatus.SUBMITTED:
        raise _refuse_state(request, _("approved"))
    if actor.id in (request.created_by_id, request.last_changed_by_id):
        raise PermissionDenied(
            _("You prepared or changed this request: another officer must approve it.")
        )
    if policies.has_given_first_approval(actor, request):
        raise ConflictError(_("You have approved this request already: a second officer must."))
    seen_count, round_ = request.approvals_count, request.round
    final = seen_count + 1 >= request.approvals_needed
    programme = request.enrollment.programme
    amount = request.amount_deni
    try:
        with db.session.begin_nested():
            result = db.session.execute(
                update(PaymentRequest)
                .where(
                    PaymentRequest.id == request.id,
                    PaymentRequest.status == RequestStatus.SUBMITTED,
                    PaymentRequest.round == round_,
                    PaymentRequest.approvals_count == seen_count,
                )
                .values(
                    approvals_count=seen_count + 1,
                    status=RequestStatus.APPROVED if final else RequestStatus.SUBMITTED,
                    approved_on=today if final else None,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise _raced()
            if final and not _commit_budget(programme, amount):
                raise _over_budget(programme, amount)
            db.session.add(
                Approval(
                    request_id=request.id,
                    round=round_,
                    seq=seen_count + 1,
                    officer_id=actor.id,
                    approved_on=today,
                )
            )
            db.session.flush()
    except IntegrityError:
        raise _raced() from None
    db.session.expire(request)
    db.session.expire(programme, ["committed_deni"])
    return _event(
        actor,
        request,
        RequestStatus.SUBMITTED,
        "" if final else _("first of two approvals"),
        on=today,
    )


def _commit_budget(programme: Programme, amount_deni: int) -> bool:
    """Add to the programme's committed amount only if it stays within the budget."""
    result = db.session.execute(
        update(Programme)
        .where(
            Programme.id == programme.id,
            Programme.committed_deni + amount_deni <= Programme.budget_deni,
        )
        .values(committed_deni=Programme.committed_deni + amount_deni)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _release_budget(programme: Programme, amount_deni: int) -> None:
    if amount_deni:
        db.session.execute(
            update(Programme)
            .where(Programme.id == programme.id)
            .values(committed_deni=Programme.committed_deni - amount_deni)
            .execution_options(synchronize_session=False)
        )
        db.session.expire(programme, ["committed_deni"])


def _over_budget(programme: Programme, amount_deni: int) -> ValidationError:
    committed = db.session.scalar(
        select(Programme.committed_deni).where(Programme.id == programme.id)
    )
    committed = committed or 0
    return ValidationError(
        _(
            "Approving %(amount)s would cross the programme's budget: budget %(budget)s, "
            "already approved or paid %(committed)s, left %(left)s.",
            amount=_money(amount_deni),
            budget=_money(programme.budget_deni),
            committed=_money(committed),
            left=_money(programme.budget_deni - committed),
        )
    )


def reject(actor: User, request: PaymentRequest, reason: str, *, today: date) -> PaymentRequest:
    """Back to its maker with the reason; approvals given in this round no longer count."""
    _check_officer(actor, request)
    if request.status != RequestStatus.SUBMITTED:
        raise _refuse_state(request, _("rejected"))
    if not reason.strip():
        raise ValidationError(_("Give the reason, for the coordinator who made it."), "reason")
    _move(
        request,
        RequestStatus.SUBMITTED,
        status=RequestStatus.REJECTED,
        rejection_reason=reason.strip(),
        approvals_count=0,
    )
    return _event(actor, request, RequestStatus.SUBMITTED, reason.strip(), on=today)


def cancel(actor: User, request: PaymentRequest, reason: str, *, today: date) -> PaymentRequest:
    """An approved request that will not be paid after all: its amount leaves the budget."""
    if not policies.can_cancel_request(actor, request):
        raise PermissionDenied()
    if request.status != RequestStatus.APPROVED:
        raise _refuse_state(request, _("cancelled"))
    if not reason.strip():
        raise ValidationError(_("Give the reason for cancelling."), "reason")
    amount, programme = request.amount_deni, request.enrollment.programme
    _move(request, RequestStatus.APPROVED, status=RequestStatus.CANCELLED)
    _release_budget(programme, amount)
    return _event(actor, request, RequestStatus.APPROVED, reason.strip(), on=today)


# --- payments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentData:
    paid_on: date
    reference: str
    amount_deni: int


def _check_payment(request: PaymentRequest, data: PaymentData, today: date) -> None:
    """Every mistake of a payment at once: its amount, its day and its reference."""
    with checking() as checks:
        checks.run(lambda: _check_amount(data.amount_deni, "settled"))
        if checks.ok("amount") and data.amount_deni > request.amount_deni:
            checks.refuse(
                _(
                    "At most the approved %(amount)s can be paid.",
                    amount=_money(request.amount_deni),
                ),
                "amount",
            )
        if data.paid_on > today:
            checks.refuse(_("The date cannot be in the future."), "paid_on")
        elif request.approved_on is not None and data.paid_on < request.approved_on:
            checks.refuse(
                _(
                    "The payment cannot be before its approval on %(date)s.",
                    date=_day(request.approved_on),
                ),
                "paid_on",
            )
        if not data.reference.strip():
            checks.refuse(_("Enter the bank or receipt reference."), "reference")


def record_payment(
    actor: User, request: PaymentRequest, data: PaymentData, *, today: date
) -> Payment:
    """The utility was paid: from now on the family owes hours for it."""
    _check_officer(actor, request)
    if request.status != RequestStatus.APPROVED:
        raise _refuse_state(request, _("paid"))
    _check_payment(request, data, today)
    enrollment, programme = request.enrollment, request.enrollment.programme
    approved_amount = request.amount_deni
    _move(request, RequestStatus.APPROVED, status=RequestStatus.PAID)
    payment = Payment(
        request_id=request.id,
        paid_on=data.paid_on,
        reference=data.reference.strip(),
        amount_deni=data.amount_deni,
        recorded_by_id=actor.id,
    )
    obligation = Obligation(
        payment=payment,
        household_id=enrollment.household_id,
        enrollment_id=enrollment.id,
        minutes=obligation_minutes(data.amount_deni, programme.hourly_value_deni),
        hourly_value_deni=programme.hourly_value_deni,
        starts_on=data.paid_on,
        due_on=data.paid_on + timedelta(days=programme.work_deadline_days),
    )
    db.session.add_all([payment, obligation])
    try:
        db.session.flush()
    except IntegrityError:
        raise _raced() from None
    _release_budget(programme, approved_amount - data.amount_deni)
    _event(actor, request, RequestStatus.APPROVED, payment.reference, on=data.paid_on)
    record(
        actor,
        "payment.create",
        "payment",
        payment.id,
        municipality_id=enrollment.household.municipality_id,
        changes={
            "request_id": request.id,
            "paid_on": data.paid_on,
            "amount_deni": data.amount_deni,
            "reference": payment.reference,
            "obligation_minutes": obligation.minutes,
            "hourly_value_deni": obligation.hourly_value_deni,
            "due_on": obligation.due_on,
        },
    )
    return payment


def reverse_payment(
    actor: User, payment: Payment, reason: str, *, on: date, today: date
) -> PaymentReversal:
    """Cancel a recorded payment and the hours it created. The payment row stays as it was."""
    request = payment.request
    _check_officer(actor, request)
    if payment.reversal is not None:
        raise ConflictError(_("This payment has been reversed already."))
    with checking() as checks:
        if not reason.strip():
            checks.refuse(_("Give the reason for the reversal."), "reason")
        if on > today:
            checks.refuse(_("The date cannot be in the future."), "reversed_on")
        elif on < payment.paid_on:
            checks.refuse(
                _(
                    "A reversal cannot be dated before the payment (%(date)s).",
                    date=_day(payment.paid_on),
                ),
                "reversed_on",
            )
    reversal = PaymentReversal(
        payment_id=payment.id, reason=reason.strip(), reversed_on=on, reversed_by_id=actor.id
    )
    db.session.add(reversal)
    try:
        db.session.flush()
    except IntegrityError:
        raise ConflictError(_("This payment has been reversed already.")) from None
    _move(request, RequestStatus.PAID, status=RequestStatus.REVERSED)
    _release_budget(request.enrollment.programme, payment.amount_deni)
    db.session.expire(payment, ["reversal"])
    _event(actor, request, RequestStatus.PAID, reason.strip(), on=on)
    record(
        actor,
        "payment.reverse",
        "payment",
        payment.id,
        municipality_id=request.enrollment.household.municipality_id,
        changes={
            "reason": reversal.reason,
            "reversed_on": on,
            "amount_deni": payment.amount_deni,
            "obligation_minutes": payment.obligation.minutes,
        },
    )
    return reversal


def accounts_of(household: Household) -> list[UtilityAccount]:
    return list(
        db.session.scalars(
            select(UtilityAccount)
            .where(UtilityAccount.household_id == household.id)
            .order_by(UtilityAccount.id)
        )
    )


def record_money_view(user: User, household: Household) -> None:
    """Who looked at a family's arrears, payments and hours owed goes to the access log, from
    the money page and the API alike."""
    log_access(
        user,
        AccessAction.VIEW_MONEY,
        household_id=household.id,
        municipality_id=household.municipality_id,
    )

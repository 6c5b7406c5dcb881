"""Rules for the household register: who may change it, and what a valid member is."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from functools import partial

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from stdnum.exceptions import InvalidChecksum, InvalidComponent
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.si import emso

from casework.audit.models import AccessAction
from casework.audit.services import diff, log_access, log_households_seen, record, snapshot
from casework.config import LOCALES
from casework.db import utcnow
from casework.errors import (
    Checks,
    ConflictError,
    DomainError,
    PermissionDenied,
    ValidationError,
    checking,
)
from casework.extensions import db
from casework.households.models import (
    CaseloadAssignment,
    CaseNote,
    DuplicateDecision,
    DuplicateReview,
    Exemption,
    ExemptionReason,
    Household,
    Member,
    NoteVisibility,
    Relation,
    Sex,
)
from casework.organizations.models import Municipality
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import User

MATERNITY_MONTHS = 9
NOTE_MAX_LENGTH = 5000
HOUSEHOLD_FIELDS = ("address", "settlement", "phone", "language", "consent_on")
MEMBER_FIELDS = ("first_name", "last_name", "birth_date", "sex", "relation")
# The fields of a person a refusal may name (a registration's names them by position).
PERSON_FIELDS = frozenset({*MEMBER_FIELDS, "national_id"})


@dataclass
class HouseholdData:
    address: str
    settlement: str = ""
    phone: str = ""
    language: str = "mk"
    consent_on: date | None = None


@dataclass
class MemberData:
    first_name: str
    last_name: str
    birth_date: date | None
    sex: Sex | str | None = None
    relation: Relation | str = Relation.OTHER
    national_id: str | None = None


def validate_national_id(raw: str) -> str:
    """Return the 13-digit ЕМБГ, or refuse it: wrong length, check digit or birth date.

    The ЕМБГ uses the same layout and check digit as the Slovenian EMŠO, which
    python-stdnum implements.
    """
    number = "".join(raw.split())
    if not number.isdigit() or len(number) != 13:
        raise ValidationError(_("A national ID (ЕМБГ) has exactly 13 digits."), "national_id")
    try:
        emso.validate(number)
    except InvalidChecksum:
        raise ValidationError(
            _(
                "This national ID (ЕМБГ) has a wrong check digit: "
                "please compare it with the document."
            ),
            "national_id",
        ) from None
    except InvalidComponent:
        raise ValidationError(
            _("This national ID (ЕМБГ) does not contain a real birth date."), "national_id"
        ) from None
    except StdnumError:
        raise ValidationError(_("This is not a valid national ID (ЕМБГ)."), "national_id") from None
    return number


def birth_date_from_national_id(number: str) -> date:
    return emso.get_birth_date(number)


def sex_from_national_id(number: str) -> Sex:
    return Sex.MALE if emso.get_gender(number) == "M" else Sex.FEMALE


def mask_national_id(number: str | None) -> str:
    """Show only the last four digits: enough to tell two people apart on a call."""
    if not number:
        return "—"
    return "•" * (len(number) - 4) + number[-4:]


def _clean_household(data: HouseholdData, today: date) -> HouseholdData:
    """The household's fields as stored, or every mistake of them at once."""
    address, phone = data.address.strip(), data.phone.strip()
    with checking() as checks:
        if data.consent_on is not None and data.consent_on > today:
            # The day the family signed its consent has happened: a later one is a typing error.
            checks.refuse(_("The consent date cannot be in the future."), "consent_on")
        if not address:
            checks.refuse(_("Enter the household's address."), "address")
        elif len(address) > 200:
            checks.refuse(_("The address is too long (at most 200 characters)."), "address")
        if data.language not in LOCALES:
            checks.refuse(_("Choose one of the offered languages."), "language")
        if phone and not all(c.isdigit() or c in "+ -/()" for c in phone):
            checks.refuse(
                _("A phone number may contain digits, spaces and + - / ( ) only."), "phone"
            )
    return HouseholdData(
        address=address,
        settlement=data.settlement.strip()[:120],
        phone=phone[:40],
        language=data.language,
        consent_on=data.consent_on,
    )


def _clean_names(data: MemberData, checks: Checks) -> tuple[str, str]:
    first, last = data.first_name.strip(), data.last_name.strip()
    for name, value, missing in (
        ("first_name", first, _("Enter the first name.")),
        ("last_name", last, _("Enter the last name.")),
    ):
        if not value:
            checks.refuse(missing, name)
        elif len(value) > 80:
            checks.refuse(_("A name may have at most 80 characters."), name)
    return first, last


def _from_national_id(
    national_id: str, birth_date: date | None, sex: Sex | str | None, checks: Checks
) -> tuple[date, Sex | str | None]:
    """The birth date and sex the ЕМБГ holds: filled in when left out, refused when they
    differ from what was typed."""
    embedded = birth_date_from_national_id(national_id)
    if birth_date is None:
        birth_date = embedded
    elif birth_date != embedded:
        checks.refuse(
            _(
                "The birth date does not match the one in the national ID (%(date)s).",
                date=embedded.strftime("%d.%m.%Y"),
            ),
            "birth_date",
        )
    if sex is None:
        sex = sex_from_national_id(national_id)
    elif sex != sex_from_national_id(national_id):
        checks.refuse(_("The sex does not match the national ID."), "sex")
    return birth_date, sex


def _check_birth_date(birth_date: date | None, today: date, checks: Checks) -> None:
    if not checks.ok("birth_date"):
        return
    if birth_date is None:
        checks.refuse(_("Enter the birth date or the national ID."), "birth_date")
    elif birth_date > today:
        checks.refuse(_("The birth date cannot be in the future."), "birth_date")
    elif birth_date.year < 1900:
        checks.refuse(_("The birth date is too far in the past."), "birth_date")


def _clean_member(data: MemberData, today: date) -> MemberData:
    """The member as stored, or every mistake of it at once."""
    with checking() as checks:
        first, last = _clean_names(data, checks)
        if data.relation not in set(Relation):
            checks.refuse(
                _("Choose the member's relation to the head of the household."), "relation"
            )
        national_id = data.national_id.strip() if data.national_id else None
        birth_date, sex = data.birth_date, data.sex
        if national_id:
            national_id = checks.run(lambda: validate_national_id(national_id or ""))
        if national_id:
            birth_date, sex = _from_national_id(national_id, birth_date, sex, checks)
        # A refused ЕМБГ was to give the birth date and sex: their absence is not news.
        if checks.ok("national_id") or birth_date is not None:
            _check_birth_date(birth_date, today, checks)
        if checks.ok("sex", "national_id") and sex not in set(Sex):
            checks.refuse(_("Choose the member's sex."), "sex")
    return MemberData(first, last, birth_date, Sex(str(sex)), Relation(data.relation), national_id)


def check_household(data: HouseholdData, *, today: date) -> HouseholdData:
    """The household as it would be stored, or every refusal of it: for the edit page to show
    them beside the form's own refusals."""
    return _clean_household(data, today)


def check_registration(
    data: HouseholdData, head: MemberData, *, today: date
) -> tuple[HouseholdData, MemberData]:
    """The registration's household and head as they would be stored, or every refusal."""
    return _clean_registration(data, head, today)


def check_member(data: MemberData, *, today: date) -> MemberData:
    """The member as it would be stored, or the refusal a form would get: for checks made
    before anything is written (an import's rows)."""
    return _clean_member(data, today)


def _check_unique_national_id(national_id: str | None, member_id: int | None = None) -> None:
    if not national_id:
        return
    stmt = select(Member.id).where(Member.national_id == national_id)
    if member_id is not None:
        stmt = stmt.where(Member.id != member_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        # Does not say where: the other household may be outside the user's scope.
        raise ValidationError(
            _("This national ID is already registered for another person."), "national_id"
        )


def _flush_member() -> None:
    """Flush, turning the database's refusal of a duplicate national ID into the same message
    the check gives: two registrations that race past the check still store one person."""
    try:
        db.session.flush()
    except IntegrityError as error:
        if "national_id" in str(error.orig):
            raise ValidationError(
                _("This national ID is already registered for another person."), "national_id"
            ) from None
        raise


def _check_head(household: Household, data: MemberData, member: Member | None = None) -> None:
    if data.relation == Relation.HEAD and any(
        m.is_head and m is not member for m in household.members
    ):
        raise ValidationError(_("This household already has a head."), "relation")


def _apply_member(member: Member, data: MemberData) -> None:
    member.first_name = data.first_name
    member.last_name = data.last_name
    member.birth_date = data.birth_date  # type: ignore[assignment]  # set by _clean_member
    member.sex = Sex(str(data.sex))
    member.relation = Relation(data.relation)
    member.is_head = data.relation == Relation.HEAD
    member.national_id = data.national_id


def _clean_registration(
    data: HouseholdData, head: MemberData, today: date
) -> tuple[HouseholdData, MemberData]:
    """The household and its head as stored, or the mistakes of both at once (one form)."""
    checks = Checks()
    clean = checks.run(lambda: _clean_household(data, today))
    member = checks.run(lambda: _clean_member(head, today))
    checks.raise_any()
    if clean is None or member is None:  # pragma: no cover - raise_any raised
        raise AssertionError
    return clean, member


def create_household(
    actor: User, municipality: Municipality, data: HouseholdData, head: MemberData, *, today: date
) -> Household:
    """Register a household with its head; the case number is the municipality code and id."""
    if not policies.can_create_household(actor, municipality.id):
        raise PermissionDenied()
    clean, head = _clean_registration(data, replace(head, relation=Relation.HEAD), today)
    _check_unique_national_id(head.national_id)
    household = Household(
        municipality_id=municipality.id,
        case_number=uuid.uuid4().hex[:20],  # replaced below once the id is known
        **clean.__dict__,
    )
    db.session.add(household)
    db.session.flush()
    household.case_number = f"{municipality.code}-{household.id:05d}"
    member = Member(household=household)
    _apply_member(member, head)
    db.session.add(member)
    _flush_member()
    find_duplicates(household)
    record(
        actor,
        "household.create",
        "household",
        household.id,
        municipality_id=municipality.id,
        changes={"after": snapshot(household, HOUSEHOLD_FIELDS), "head_member_id": member.id},
    )
    return household


def update_household(
    actor: User, household: Household, data: HouseholdData, *, today: date
) -> Household:
    if not policies.can_manage_household(actor, household):
        raise PermissionDenied()
    clean = _clean_household(data, today)
    before = snapshot(household, HOUSEHOLD_FIELDS)
    for name, value in clean.__dict__.items():
        setattr(household, name, value)
    db.session.flush()
    changes = diff(before, snapshot(household, HOUSEHOLD_FIELDS))
    if changes:
        record(
            actor,
            "household.update",
            "household",
            household.id,
            municipality_id=household.municipality_id,
            changes=changes,
        )
    return household


def add_member(actor: User, household: Household, data: MemberData, *, today: date) -> Member:
    if not policies.can_manage_household(actor, household):
        raise PermissionDenied()
    clean = _clean_member(data, today)
    _check_head(household, clean)
    _check_unique_national_id(clean.national_id)
    member = Member(household=household)
    _apply_member(member, clean)
    db.session.add(member)
    _flush_member()
    find_duplicates(household)
    record(
        actor,
        "member.create",
        "member",
        member.id,
        municipality_id=household.municipality_id,
        changes={
            "household_id": household.id,
            "after": snapshot(member, MEMBER_FIELDS),
            "national_id_set": bool(clean.national_id),
        },
    )
    return member


def update_member(actor: User, member: Member, data: MemberData, *, today: date) -> Member:
    """Change a member; a national ID left out keeps the stored one."""
    household = member.household
    if not policies.can_manage_household(actor, household):
        raise PermissionDenied()
    if not data.national_id:
        data = replace(data, national_id=member.national_id)
    clean = _clean_member(data, today)
    _check_head(household, clean, member)
    _check_unique_national_id(clean.national_id, member.id)
    before = snapshot(member, MEMBER_FIELDS)
    id_changed = clean.national_id != member.national_id
    _apply_member(member, clean)
    _flush_member()
    changes = diff(before, snapshot(member, MEMBER_FIELDS))
    if id_changed:
        changes["national_id"] = "changed"  # the number itself never goes into the trail
    if changes:
        record(
            actor,
            "member.update",
            "member",
            member.id,
            municipality_id=household.municipality_id,
            changes=changes,
        )
    return member


def assign_worker(actor: User, household: Household, worker: User | None) -> Household:
    """Put a household in a social worker's caseload (or take it out with ``None``)."""
    if not policies.can_manage_household(actor, household):
        raise PermissionDenied()
    if worker is not None and not policies.can_assign_worker(actor, household, worker):
        raise ValidationError(
            _("This person is not a social worker in the household's municipality."),
            "assigned_worker_id",
        )
    before = household.assigned_worker_id
    household.assigned_worker_id = worker.id if worker else None
    if before != household.assigned_worker_id:
        db.session.add(
            CaseloadAssignment(
                household_id=household.id,
                worker_id=household.assigned_worker_id,
                assigned_by_id=actor.id,
            )
        )
    db.session.flush()
    if before != household.assigned_worker_id:
        record(
            actor,
            "household.assign_worker",
            "household",
            household.id,
            municipality_id=household.municipality_id,
            changes={"assigned_worker_id": [before, household.assigned_worker_id]},
        )
    return household


def register_household(
    actor: User,
    municipality: Municipality,
    data: HouseholdData,
    head: MemberData,
    *,
    worker_id: int | None,
    today: date,
) -> Household:
    """The registration page's: the household with its head, put in the chosen social
    worker's caseload (if one is chosen) in the same unit of work."""
    household = create_household(actor, municipality, data, head, today=today)
    if worker_id:
        assign_worker(actor, household, db.session.get(User, worker_id))
    return household


def edit_household(
    actor: User, household: Household, data: HouseholdData, worker_id: int | None, *, today: date
) -> Household:
    """The edit page's: the household's record and its caseload (no worker: out of it)."""
    worker = db.session.get(User, worker_id) if worker_id else None
    update_household(actor, household, data, today=today)
    return assign_worker(actor, household, worker)


@contextmanager
def _member_at(index: int) -> Iterator[None]:
    """A refused member is named by its place in ``members``: ``members.2.national_id``."""
    try:
        yield
    except DomainError as error:
        error.rename(lambda name: f"members.{index}.{name}" if name in PERSON_FIELDS else name)
        raise


def _check_applicant(
    data: HouseholdData, members: Sequence[MemberData], head_at: int, today: date
) -> None:
    """The household's and every member's mistakes at once, before anything is written."""

    def member(index: int, person: MemberData) -> None:
        with _member_at(index):
            head = index == head_at
            _clean_member(replace(person, relation=Relation.HEAD) if head else person, today)

    with checking() as checks:
        checks.run(lambda: _clean_household(data, today))
        for index, person in enumerate(members):
            checks.run(partial(member, index, person))


def register_applicant(
    actor: User,
    programme: Programme,
    data: HouseholdData,
    members: Sequence[MemberData],
    *,
    head_at: int,
    applied_on: date | None,
    today: date,
) -> Household:
    """A household in the programme's municipality (its language unless one is given), its
    members (``members[head_at]`` the head) and its application to the programme: stored
    together or not at all. Returned as stored, its members in their stored order."""
    from casework.enrollment import services as enrollment_services

    municipality = programme.municipality
    data = replace(data, language=data.language or municipality.default_locale)
    _check_applicant(data, members, head_at, today)
    with _member_at(head_at):
        household = create_household(actor, municipality, data, members[head_at], today=today)
    for index, member in enumerate(members):
        if index != head_at:
            with _member_at(index):
                add_member(actor, household, member, today=today)
    enrollment_services.apply(
        actor, household, programme, applied_on=applied_on or today, today=today
    )
    db.session.flush()
    db.session.refresh(household)
    return household


def record_view(actor: User, household: Household) -> None:
    """The access log's entry for a household opened (its page or the API's answer)."""
    log_access(
        actor,
        AccessAction.VIEW_HOUSEHOLD,
        household_id=household.id,
        municipality_id=household.municipality_id,
    )


def record_list_view(
    actor: User, households: Sequence[Household], page: str, national_id: str | None = None
) -> None:
    """The access log's entry for a page of the register (the list page or the API's).

    A search by a full national ID says whether that person is registered, found or not: it
    gets its own entry naming the member found (never the number searched for)."""
    log_households_seen(actor, (h.id for h in households), page)
    if national_id is None:
        return
    found = [(h, m) for h in households for m in h.members if m.national_id == national_id]
    if not found:
        log_access(actor, AccessAction.VIEW_LIST, detail="national ID search: nobody found")
    for household, member in found:
        log_access(
            actor,
            AccessAction.VIEW_LIST,
            household_id=household.id,
            member_id=member.id,
            municipality_id=household.municipality_id,
            detail=f"national ID search: {household.case_number}",
        )


def add_exemption(
    actor: User,
    member: Member,
    reason: str,
    document_ref: str,
    starts_on: date,
    ends_on: date | None = None,
) -> Exemption:
    """Record why a member is excused from work: a reason code and a document, no diagnosis."""
    household = member.household
    if not policies.can_manage_household(actor, household):
        raise PermissionDenied()
    if reason not in set(ExemptionReason):
        raise ValidationError(_("Choose the reason for the exemption."), "reason")
    if not document_ref.strip():
        raise ValidationError(_("Enter the reference of the supporting document."), "document_ref")
    for name, day in (("starts_on", starts_on), ("ends_on", ends_on)):
        if day is not None and not 1900 <= day.year <= 2100:
            raise ValidationError(_("Enter a date between 1900 and 2100."), name)
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError(_("The end date is before the start date."), "ends_on")
    if reason in (ExemptionReason.PREGNANCY, ExemptionReason.MATERNITY) and (
        member.sex == Sex.MALE
    ):
        # The sex is the national ID's (its ninth digit), not a form's choice.
        raise ValidationError(_("Pregnancy and maternity exemptions are for women."), "reason")
    if reason == ExemptionReason.MATERNITY:
        # The pilot's call: mothers are exempt up to nine months into maternity leave.
        limit = _add_months(starts_on, MATERNITY_MONTHS)
        if ends_on is None or ends_on > limit:
            raise ValidationError(
                _(
                    "A maternity exemption ends at the latest nine months after it starts "
                    "(%(date)s).",
                    date=limit.strftime("%d.%m.%Y"),
                ),
                "ends_on",
            )
    exemption = Exemption(
        member=member,
        reason=ExemptionReason(reason),
        document_ref=document_ref.strip()[:120],
        starts_on=starts_on,
        ends_on=ends_on,
        created_by_id=actor.id,
    )
    db.session.add(exemption)
    db.session.flush()
    record(
        actor,
        "exemption.create",
        "exemption",
        exemption.id,
        municipality_id=household.municipality_id,
        changes={
            "member_id": member.id,
            "reason": reason,
            "starts_on": starts_on,
            "ends_on": ends_on,
        },
    )
    return exemption


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate_day in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate_day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- likely duplicates -----------------------------------------------------------------------


# Built once: an alias made per call costs more in SQLAlchemy than the indexed query itself.
_OTHER_MEMBER = aliased(Member, name="other_member")
_THIS_MEMBER = aliased(Member, name="this_member")


def find_duplicates(household: Household) -> list[DuplicateReview]:
    """Other households of the same municipality that look like this one: a member with the
    same name and birth date, or the same address and head's name. Each becomes a review for
    the coordinator; nothing is merged or refused automatically. Both lookups go through
    indexed match keys (case and spacing folded), so the check costs the same for 30 families
    as for 30.000."""
    other, this = _OTHER_MEMBER, _THIS_MEMBER
    same_person = (
        select(other.household_id)
        .join(
            this,
            (this.name_key == other.name_key) & (this.birth_date == other.birth_date),
        )
        .where(this.household_id == household.id, other.household_id != household.id)
        .distinct()
    )
    found = dict.fromkeys(db.session.scalars(same_person), "name_and_birth")
    head = household.head
    if head is not None:
        same_home = (
            select(Household.id)
            .join(other, (other.household_id == Household.id) & other.is_head.is_(True))
            .where(
                Household.municipality_id == household.municipality_id,
                Household.address_key == household.address_key,
                Household.id != household.id,
                other.name_key == head.name_key,
            )
        )
        for other_id in db.session.scalars(same_home):
            found.setdefault(other_id, "address_and_head")
    if not found:
        return []
    municipality_of = dict(
        db.session.execute(
            select(Household.id, Household.municipality_id).where(Household.id.in_(found))
        ).all()
    )
    known = set(
        db.session.scalars(
            select(DuplicateReview.other_household_id).where(
                DuplicateReview.household_id == household.id
            )
        )
    )
    reviews = [
        DuplicateReview(household_id=household.id, other_household_id=other_id, reason=reason)
        for other_id, reason in sorted(found.items())
        if other_id not in known and municipality_of.get(other_id) == household.municipality_id
    ]
    db.session.add_all(reviews)
    db.session.flush()
    return reviews


def decide_duplicate(
    actor: User, review: DuplicateReview, decision: str, *, today: date
) -> DuplicateReview:
    """ "Same family": the new registration is closed and the existing case is used (no merge).
    "Different": both are kept, and who said so is recorded."""
    from casework.enrollment import services as enrollment_services

    household = review.household
    if not policies.can_decide_duplicate(actor, review):
        raise PermissionDenied()
    if decision not in (DuplicateDecision.SAME_FAMILY, DuplicateDecision.DIFFERENT):
        raise ValidationError(_("Choose whether it is the same family."), "decision")
    if review.decision != DuplicateDecision.PENDING:
        raise ConflictError(_("This possible duplicate has been decided already."))
    review.decision = DuplicateDecision(decision)
    review.decided_by_id = actor.id
    review.decided_at = utcnow()
    db.session.flush()
    record(
        actor,
        "duplicate.decide",
        "household",
        household.id,
        municipality_id=household.municipality_id,
        changes={"other_household_id": review.other_household_id, "decision": decision},
    )
    if decision == DuplicateDecision.SAME_FAMILY:
        enrollment = enrollment_services.open_enrollment(household)
        if enrollment is not None:
            other = db.session.get(Household, review.other_household_id)
            enrollment_services.withdraw(
                actor,
                enrollment,
                on=today,
                reason=_(
                    "Same family as case %(case)s: the existing case is used.",
                    case=other.case_number if other else "?",
                ),
                today=today,
            )
    return review


# --- case notes -------------------------------------------------------------------------------


def add_note(
    actor: User,
    household: Household,
    text: str,
    visibility: str,
    *,
    written_on: date,
    today: date,
) -> CaseNote:
    if not policies.can_write_note(actor, household):
        raise PermissionDenied()
    body = text.strip()
    if not body:
        raise ValidationError(_("Write the note."), "text")
    if len(body) > NOTE_MAX_LENGTH:
        raise ValidationError(
            _("A note may have at most %(n)d characters.", n=NOTE_MAX_LENGTH), "text"
        )
    if visibility not in set(NoteVisibility):
        raise ValidationError(_("Choose who may read the note."), "visibility")
    if written_on > today:
        raise ValidationError(_("The date cannot be in the future."), "written_on")
    note = CaseNote(
        household_id=household.id,
        author_id=actor.id,
        written_on=written_on,
        text=body,
        visibility=NoteVisibility(visibility),
    )
    db.session.add(note)
    db.session.flush()
    record(
        actor,
        "note.create",
        "case_note",
        note.id,
        municipality_id=household.municipality_id,
        changes={"household_id": household.id, "visibility": visibility},
    )
    return note


def reveal_national_id(actor: User, member: Member, reason: str) -> str:
    """The whole national ID, for a coordinator who says why; the reason goes to the access log.

    Everywhere else the number is masked: the law allows it only where needed (DOMAIN.md).
    """
    household = member.household
    if not policies.can_reveal_national_id(actor, household):
        raise PermissionDenied()
    reason = " ".join(reason.split())
    if len(reason) < 10:
        raise ValidationError(
            _("Say why you need the whole national ID (at least 10 characters)."), "reason"
        )
    if not member.national_id:
        raise ValidationError(_("No national ID is stored for this person."), "reason")
    log_access(
        actor,
        AccessAction.REVEAL_NATIONAL_ID,
        household_id=household.id,
        member_id=member.id,
        municipality_id=household.municipality_id,
        reason=reason[:500],
    )
    return member.national_id

"""From application to active case: every transition, every refusal, through services and pages."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from casework.audit.models import AuditEvent
from casework.enrollment import services
from casework.enrollment.models import (
    Agreement,
    CloseReason,
    CommissionDecision,
    CommissionMember,
    Enrollment,
    EnrollmentEvent,
    Seat,
    Status,
)
from casework.errors import ConflictError, PermissionDenied, ValidationError
from casework.extensions import db
from casework.households import services as household_services
from casework.households.models import (
    CaseloadAssignment,
    CaseNote,
    DuplicateReview,
    Household,
    Member,
)
from casework.organizations.models import Municipality, OrganizationKind
from casework.organizations.services import create_organization
from casework.programmes.models import Programme
from casework.programmes.services import ProgrammeData, create_programme
from casework.security.models import Role, User
from casework.work import services as work
from tests.conftest import Factory, count, valid_national_id

TODAY = date(2022, 1, 17)
OPENED = date(2021, 11, 8)


@pytest.fixture
def full_commission_programme(make: Factory) -> Programme:
    """A programme with the pilot's full commission of five (the factory's has three) and no
    eligible creditors: quorum and majority are counted out of five here."""
    admin = make.user(Role.ADMIN)
    ngo = create_organization(None, OrganizationKind.NGO, "ЦГИ Прилеп")
    programme = create_programme(
        admin,
        make.municipality(),
        ngo,
        ProgrammeData(
            name="Програма Кичево",
            donor="Донатор",
            starts_on=OPENED,
            ends_on=None,
            budget_deni=1_000_000_00,
            hourly_value_deni=100_00,
            approval_threshold_deni=25_000_00,
            debt_period_from=date(2020, 11, 1),
            debt_period_to=date(2021, 10, 31),
        ),
    )
    for name, seat in [
        ("Весна", Seat.MUNICIPALITY),
        ("Драган", Seat.SOCIAL_WORK_CENTRE),
        ("Сениха", Seat.ROMA_NGO),
        ("Благој", Seat.DISABILITY_NGO),
        ("Мирјана", Seat.LAWYER),
    ]:
        services.add_commission_member(admin, programme, name, seat.value)
    return programme


def commission(programme: Programme) -> list[CommissionMember]:
    return services.commission_of(programme)


_families = iter(range(1, 10_000))


def family(make: Factory) -> Household:
    """A household with an adult head, an adult spouse and a child of 10; each call a different
    family at a different address, so that none looks like a duplicate of another."""
    n = next(_families)
    household = make.household(
        head_name=("Мухамед", f"Мамудовски-{n}"), address=f"ул. Гоце Делчев бр. {n}"
    )
    make.member(household, f"Ајше-{n}", date(1988, 6, 2), "spouse")
    make.member(household, f"Лејла-{n}", date(2011, 9, 1), "child")
    return household


def approve(
    coordinator: User, enrollment: Enrollment, programme: Programme, on: date = date(2021, 11, 25)
) -> None:
    services.record_decision(
        coordinator,
        enrollment,
        services.DecisionData(
            decided_on=on,
            outcome="approved",
            votes={m.id: "for" for m in commission(programme)[:3]},
            reference="Записник 08-1",
        ),
        today=TODAY,
    )


def adults(household: Household) -> list[int]:
    return [m.id for m in household.members if m.age_on(TODAY) >= 18]


def active_enrollment(make: Factory, coordinator: User, programme: Programme) -> Enrollment:
    household = family(make)
    enrollment = services.apply(coordinator, household, programme, applied_on=OPENED, today=TODAY)
    approve(coordinator, enrollment, programme)
    services.sign_agreement(
        coordinator,
        enrollment,
        signed_on=date(2021, 12, 1),
        reference="Договор 01/2021",
        signatory_ids=adults(household),
        today=TODAY,
    )
    return enrollment


# --- the happy path ----------------------------------------------------------------------------


def test_application_decision_and_agreement_make_the_enrollment_active(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    enrollment = active_enrollment(make, coordinator, full_commission_programme)
    db.session.refresh(enrollment)
    assert enrollment.status == Status.ACTIVE
    assert enrollment.active_since == date(2021, 12, 1)
    steps = [(e.from_status, e.to_status, e.actor_id) for e in enrollment.events]
    assert steps == [
        (None, "applied", coordinator.id),
        ("applied", "approved", coordinator.id),
        ("approved", "active", coordinator.id),
    ]
    decision = db.session.scalars(select(CommissionDecision)).one()
    assert (decision.outcome, len(decision.votes), decision.reference) == (
        "approved",
        3,
        "Записник 08-1",
    )
    agreement = db.session.scalars(select(Agreement)).one()
    assert {s.member_id for s in agreement.signatories} == set(adults(enrollment.household))


def test_an_active_enrollment_can_be_completed_or_withdrawn_with_a_reason(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    first = active_enrollment(make, coordinator, full_commission_programme)
    services.complete(coordinator, first, on=date(2022, 1, 10), reason="Сите часови", today=TODAY)
    assert first.status == Status.COMPLETED and first.ended_on == date(2022, 1, 10)
    second = active_enrollment(make, coordinator, full_commission_programme)
    with pytest.raises(ValidationError, match="reason") as refused:
        services.withdraw(coordinator, second, on=date(2022, 1, 10), reason="  ", today=TODAY)
    assert refused.value.field == "reason"
    services.withdraw(coordinator, second, on=date(2022, 1, 10), reason="Се преселија", today=TODAY)
    assert second.status == Status.WITHDRAWN
    assert second.events[-1].reason == "Се преселија"


def test_a_rejection_needs_a_reason_and_closes_the_application(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    household = family(make)
    enrollment = services.apply(
        coordinator, household, full_commission_programme, applied_on=OPENED, today=TODAY
    )
    data = services.DecisionData(
        decided_on=date(2021, 11, 25),
        outcome="rejected",
        votes={m.id: "against" for m in commission(full_commission_programme)},
    )
    with pytest.raises(ValidationError, match="reason"):
        services.record_decision(coordinator, enrollment, data, today=TODAY)
    services.record_decision(
        coordinator,
        enrollment,
        services.DecisionData(**{**data.__dict__, "reason": "Долгот е надвор од периодот"}),
        today=TODAY,
    )
    assert enrollment.status == Status.REJECTED
    with pytest.raises(ConflictError, match="closed"):
        services.withdraw(coordinator, enrollment, on=TODAY, reason="x", today=TODAY)


# --- refusals -----------------------------------------------------------------------------------


def test_activating_an_application_that_was_never_approved_is_refused(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    household = family(make)
    enrollment = services.apply(
        coordinator, household, full_commission_programme, applied_on=OPENED, today=TODAY
    )
    with pytest.raises(ConflictError, match="not been approved"):
        services.sign_agreement(
            coordinator,
            enrollment,
            signed_on=TODAY,
            reference="Д-1",
            signatory_ids=adults(household),
            today=TODAY,
        )
    assert enrollment.status == Status.APPLIED
    assert count(Agreement) == 0
    with pytest.raises(ConflictError):
        services.complete(coordinator, enrollment, on=TODAY, reason="", today=TODAY)


def test_a_decision_without_a_majority_of_the_commission_present_is_refused(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    enrollment = services.apply(
        coordinator, family(make), full_commission_programme, applied_on=OPENED, today=TODAY
    )
    with pytest.raises(ValidationError, match="2 of 5") as refused:
        services.record_decision(
            coordinator,
            enrollment,
            services.DecisionData(
                decided_on=date(2021, 11, 25),
                outcome="approved",
                votes={m.id: "for" for m in commission(full_commission_programme)[:2]},
            ),
            today=TODAY,
        )
    assert refused.value.field == "votes"
    assert enrollment.status == Status.APPLIED and count(CommissionDecision) == 0


def test_a_vote_by_someone_outside_the_commission_is_refused(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    other = create_programme(
        make.user(Role.ADMIN),
        make.municipality(),
        full_commission_programme.ngo,
        ProgrammeData(
            name="Друга",
            donor="",
            starts_on=OPENED,
            ends_on=None,
            budget_deni=1,
            hourly_value_deni=1,
            approval_threshold_deni=0,
        ),
    )
    stranger = services.add_commission_member(make.user(Role.ADMIN), other, "Туѓ", "lawyer")
    enrollment = services.apply(
        coordinator, family(make), full_commission_programme, applied_on=OPENED, today=TODAY
    )
    votes = {m.id: "for" for m in commission(full_commission_programme)[:3]} | {stranger.id: "for"}
    with pytest.raises(ValidationError, match="commission"):
        services.record_decision(
            coordinator,
            enrollment,
            services.DecisionData(decided_on=date(2021, 11, 25), outcome="approved", votes=votes),
            today=TODAY,
        )
    assert count(CommissionDecision) == 0


def test_an_outcome_against_the_votes_is_refused(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    enrollment = services.apply(
        coordinator, family(make), full_commission_programme, applied_on=OPENED, today=TODAY
    )
    with pytest.raises(ValidationError, match="does not follow the votes"):
        services.record_decision(
            coordinator,
            enrollment,
            services.DecisionData(
                decided_on=date(2021, 11, 25),
                outcome="approved",
                votes={m.id: "against" for m in commission(full_commission_programme)},
            ),
            today=TODAY,
        )


def test_an_agreement_signed_by_a_minor_or_a_stranger_is_refused(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    household = family(make)
    outsider = make.household(head_name=("Амет", "Асановски"), address="друга").members[0]
    enrollment = services.apply(
        coordinator, household, full_commission_programme, applied_on=OPENED, today=TODAY
    )
    approve(coordinator, enrollment, full_commission_programme)
    child = next(m for m in household.members if m.first_name.startswith("Лејла"))
    with pytest.raises(ValidationError, match="minor") as refused:
        services.sign_agreement(
            coordinator,
            enrollment,
            signed_on=date(2021, 12, 1),
            reference="Д-1",
            signatory_ids=[child.id],
            today=TODAY,
        )
    assert refused.value.field == "signatories"
    with pytest.raises(ValidationError, match="Only members of this household"):
        services.sign_agreement(
            coordinator,
            enrollment,
            signed_on=date(2021, 12, 1),
            reference="Д-1",
            signatory_ids=[outsider.id],
            today=TODAY,
        )
    with pytest.raises(ValidationError, match="At least one adult"):
        services.sign_agreement(
            coordinator,
            enrollment,
            signed_on=date(2021, 12, 1),
            reference="Д-1",
            signatory_ids=[],
            today=TODAY,
        )
    assert enrollment.status == Status.APPROVED and count(Agreement) == 0


@pytest.mark.parametrize(
    ("signed_on", "field"),
    [(date(2021, 11, 20), "signed_on"), (TODAY + timedelta(days=1), "signed_on")],
)
def test_dates_in_the_wrong_order_or_in_the_future_are_refused(
    make: Factory,
    coordinator: User,
    full_commission_programme: Programme,
    signed_on: date,
    field: str,
) -> None:
    household = family(make)
    enrollment = services.apply(
        coordinator, household, full_commission_programme, applied_on=OPENED, today=TODAY
    )
    approve(coordinator, enrollment, full_commission_programme)  # decided on 25.11.2021
    with pytest.raises(ValidationError) as refused:
        services.sign_agreement(
            coordinator,
            enrollment,
            signed_on=signed_on,
            reference="Д-1",
            signatory_ids=adults(household),
            today=TODAY,
        )
    assert refused.value.field == field
    with pytest.raises(ValidationError, match="before"):
        services.apply(
            coordinator,
            family(make),
            full_commission_programme,
            applied_on=date(2021, 1, 1),
            today=TODAY,
        )


def test_a_household_cannot_hold_two_open_enrollments(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    household = family(make)
    services.apply(
        coordinator, household, full_commission_programme, applied_on=OPENED, today=TODAY
    )
    with pytest.raises(ConflictError, match="already has an open"):
        services.apply(
            coordinator, household, full_commission_programme, applied_on=OPENED, today=TODAY
        )
    assert count(Enrollment) == 1


def test_the_database_refuses_a_second_open_enrollment_even_past_the_check(
    make: Factory,
    coordinator: User,
    full_commission_programme: Programme,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    household = family(make)
    services.apply(
        coordinator, household, full_commission_programme, applied_on=OPENED, today=TODAY
    )
    db.session.commit()
    monkeypatch.setattr(services, "open_enrollment", lambda household: None)
    with pytest.raises(ConflictError, match="already has an open"):
        services.apply(
            coordinator, household, full_commission_programme, applied_on=OPENED, today=TODAY
        )
    db.session.rollback()
    assert count(Enrollment) == 1


def test_another_municipalitys_coordinator_cannot_move_an_enrollment(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    enrollment = services.apply(
        coordinator, family(make), full_commission_programme, applied_on=OPENED, today=TODAY
    )
    outsider = make.user(Role.COORDINATOR, make.municipality("PRI", "Прилеп"))
    with pytest.raises(PermissionDenied):
        services.withdraw(outsider, enrollment, on=TODAY, reason="x", today=TODAY)
    assert enrollment.status == Status.APPLIED


# --- duplicates ---------------------------------------------------------------------------------


def test_a_duplicate_national_id_is_refused_even_past_the_check(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    household = make.household()
    taken = household.members[0].national_id
    db.session.commit()
    monkeypatch.setattr(household_services, "_check_unique_national_id", lambda *a, **k: None)
    with pytest.raises(ValidationError, match="already registered") as refused:
        household_services.add_member(
            make.coordinator(household.municipality),
            household,
            household_services.MemberData(
                "Друг", "Човек", None, national_id=taken, relation="other"
            ),
            today=TODAY,
        )
    assert refused.value.field == "national_id"
    db.session.rollback()
    assert count(Member) == 1


@pytest.mark.parametrize("attempt", range(5))
def test_two_registrations_racing_with_one_national_id_store_one_person(
    app: Flask, make: Factory, attempt: int
) -> None:
    kicevo = make.municipality()
    coordinator_id, municipality_id = make.coordinator(kicevo).id, kicevo.id
    db.session.commit()  # and touch no loaded object until the threads end: no lock held
    number = valid_national_id(date(1990, 1, 1))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def register(address: str) -> None:
        with app.app_context():
            # Start together; on SQLite the first transaction to begin holds the write lock
            # until it commits, so the wait comes before any query.
            barrier.wait()
            actor = db.session.get(User, coordinator_id)
            place = db.session.get(Municipality, municipality_id)
            assert actor is not None and place is not None
            try:
                household_services.create_household(
                    actor,
                    place,
                    household_services.HouseholdData(address=address),
                    household_services.MemberData("Али", "Алиовски", None, national_id=number),
                    today=TODAY,
                )
                db.session.commit()
                outcomes.append("stored")
            except ValidationError:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=register, args=(f"ул. {i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["refused", "stored"]
    assert db.session.scalar(select(func.count()).where(Member.national_id == number)) == 1


def test_a_likely_duplicate_is_shown_and_the_coordinators_call_is_kept(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    existing = family(make)
    spouse = next(m for m in existing.members if m.first_name.startswith("Ајше"))
    newcomer = household_services.create_household(
        coordinator,
        make.municipality(),
        household_services.HouseholdData(address="ул. Нова 1"),
        household_services.MemberData(
            f" {spouse.first_name.lower()} ", "МАМУДОВСКА", spouse.birth_date, sex="F"
        ),
        today=TODAY,
    )
    review = db.session.scalars(select(DuplicateReview)).one()
    assert (review.household_id, review.other_household_id, review.reason) == (
        newcomer.id,
        existing.id,
        "name_and_birth",
    )
    enrollment = services.apply(
        coordinator, newcomer, full_commission_programme, applied_on=OPENED, today=TODAY
    )
    with pytest.raises(ConflictError, match="duplicate"):
        approve(coordinator, enrollment, full_commission_programme)
    household_services.decide_duplicate(coordinator, review, "same", today=TODAY)
    assert review.decided_by_id == coordinator.id
    assert enrollment.status == Status.WITHDRAWN
    assert existing.case_number in enrollment.events[-1].reason


def test_a_different_family_is_kept_with_who_decided(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    existing = make.household(address="ул. Гоце Делчев бр. 7")
    newcomer = household_services.create_household(
        coordinator,
        make.municipality(),
        household_services.HouseholdData(address="  ул. гоце делчев бр. 7 "),
        household_services.MemberData("Мухамед", "Мамудовски", date(1999, 1, 1), sex="M"),
        today=TODAY,
    )
    review = db.session.scalars(select(DuplicateReview)).one()
    assert (review.other_household_id, review.reason) == (existing.id, "address_and_head")
    household_services.decide_duplicate(coordinator, review, "different", today=TODAY)
    enrollment = services.apply(
        coordinator, newcomer, full_commission_programme, applied_on=OPENED, today=TODAY
    )
    approve(coordinator, enrollment, full_commission_programme)
    assert enrollment.status == Status.APPROVED


# --- exemptions and who may work ----------------------------------------------------------------


def test_who_may_work_adults_of_an_active_enrollment_not_exempt(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    enrollment = active_enrollment(make, coordinator, full_commission_programme)
    members = {m.first_name.split("-")[0]: m for m in enrollment.household.members}
    assert services.work_refusal(members["Мухамед"], enrollment, TODAY) is None
    assert "under 18" in (services.work_refusal(members["Лејла"], enrollment, TODAY) or "")
    assert "only on" in (
        services.work_refusal(members["Мухамед"], enrollment, date(2021, 11, 30)) or ""
    )
    household_services.add_exemption(
        coordinator, members["Ајше"], "pregnancy", "Потврда 12", date(2022, 1, 1)
    )
    assert "exempt" in (services.work_refusal(members["Ајше"], enrollment, TODAY) or "")
    assert services.work_refusal(members["Ајше"], enrollment, date(2021, 12, 20)) is None


def test_a_maternity_exemption_lasts_at_most_nine_months(make: Factory, coordinator: User) -> None:
    mother = make.member(make.household())
    with pytest.raises(ValidationError, match="nine months") as refused:
        household_services.add_exemption(
            coordinator, mother, "maternity", "Решение 4", date(2022, 1, 1), date(2022, 10, 2)
        )
    assert refused.value.field == "ends_on"
    household_services.add_exemption(
        coordinator, mother, "maternity", "Решение 4", date(2022, 1, 1), date(2022, 10, 1)
    )
    assert len(mother.exemptions) == 1


def test_pregnancy_and_maternity_exemptions_are_refused_for_a_man(
    make: Factory, coordinator: User
) -> None:
    """The sex comes from the national ID: a man is never exempted as pregnant or a mother."""
    father = make.member(make.household(), "Мухамед", relation="spouse", female=False)
    for reason in ("pregnancy", "maternity"):
        with pytest.raises(ValidationError, match="for women") as refused:
            household_services.add_exemption(
                coordinator, father, reason, "Потврда 12", date(2022, 1, 1), date(2022, 6, 1)
            )
        assert refused.value.field == "reason"
    household_services.add_exemption(coordinator, father, "unable_to_work", "Решение 7", TODAY)
    assert [e.reason for e in father.exemptions] == ["unable_to_work"]


# --- caseloads and notes ------------------------------------------------------------------------


def test_reassigning_a_household_keeps_the_caseload_history(
    make: Factory, coordinator: User
) -> None:
    household = make.household()
    first, second = make.user(Role.SOCIAL_WORKER), make.user(Role.SOCIAL_WORKER)
    household_services.assign_worker(coordinator, household, first)
    household_services.assign_worker(coordinator, household, second)
    history = db.session.scalars(
        select(CaseloadAssignment.worker_id).order_by(CaseloadAssignment.id)
    ).all()
    assert history == [first.id, second.id]
    assert household.assigned_worker_id == second.id


def test_an_officer_never_sees_ngo_only_notes(login_as, make: Factory, coordinator: User) -> None:  # type: ignore[no-untyped-def]
    household = make.household()
    household_services.add_note(
        coordinator,
        household,
        "Само за НВО: здравствена состојба",
        "ngo",
        written_on=TODAY,
        today=TODAY,
    )
    household_services.add_note(
        coordinator,
        household,
        "Споделено: решение за социјална помош",
        "shared",
        written_on=TODAY,
        today=TODAY,
    )
    officer_browser, _ = login_as(Role.OFFICER)
    page = officer_browser.get(f"/households/{household.id}").get_data(as_text=True)
    assert "Споделено" in page and "Само за НВО" not in page
    coordinator_browser, _ = login_as(Role.COORDINATOR)
    page = coordinator_browser.get(f"/households/{household.id}").get_data(as_text=True)
    assert "Споделено" in page and "Само за НВО" in page


def test_a_social_worker_writes_notes_only_in_its_caseload(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    browser, worker = login_as(Role.SOCIAL_WORKER)
    mine = make.household(worker=worker)
    other = make.household(head_name=("Али", "Алиовски"))
    response = browser.post(
        f"/households/{mine.id}/notes",
        {
            "text": "Посета, <script>alert(1)</script>",
            "visibility": "ngo",
            "written_on": TODAY.isoformat(),
        },
    )
    assert response.status_code == 302
    assert (
        browser.post(
            f"/households/{other.id}/notes",
            {"text": "x", "visibility": "ngo", "written_on": TODAY.isoformat()},
        ).status_code
        == 404
    )
    notes = db.session.scalars(select(CaseNote)).all()
    assert [(n.household_id, n.author_id) for n in notes] == [(mine.id, worker.id)]
    page = browser.get(f"/households/{mine.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


# --- through the pages --------------------------------------------------------------------------


def test_the_pages_take_an_enrollment_through_every_step_and_refuse_one_out_of_order(  # type: ignore[no-untyped-def]
    login_as, make: Factory, full_commission_programme: Programme
) -> None:
    browser, _user = login_as(Role.COORDINATOR)
    household = family(make)
    today = date.today().isoformat()
    response = browser.post(
        f"/households/{household.id}/apply",
        {"programme_id": str(full_commission_programme.id), "applied_on": today},
    )
    assert response.status_code == 302
    enrollment = db.session.scalars(select(Enrollment)).one()
    assert enrollment.status == "applied"
    members = commission(full_commission_programme)
    # Skipping the decision: the agreement page refuses and nothing changes.
    refused = browser.post(
        f"/enrollments/{enrollment.id}/agreement",
        {
            "signed_on": today,
            "reference": "Д-7",
            "signatories": [str(i) for i in adults(household)],
        },
    )
    assert refused.status_code == 200
    assert "not been approved" in refused.get_data(as_text=True)
    # Two of five present: refused, named on the votes.
    response = browser.post(
        f"/enrollments/{enrollment.id}/decision",
        {
            "decided_on": today,
            "outcome": "approved",
            "reference": "З-1",
            "reason": "",
            **{f"vote-{m.id}": "for" for m in members[:2]},
        },
    )
    assert "majority" in response.get_data(as_text=True)
    response = browser.post(
        f"/enrollments/{enrollment.id}/decision",
        {
            "decided_on": today,
            "outcome": "approved",
            "reference": "З-1",
            "reason": "",
            **{f"vote-{m.id}": "for" for m in members[:4]},
            f"vote-{members[4].id}": "abstain",
        },
    )
    assert response.status_code == 302
    response = browser.post(
        f"/enrollments/{enrollment.id}/agreement",
        {
            "signed_on": today,
            "reference": "Д-7",
            "signatories": [str(i) for i in adults(household)],
        },
    )
    assert response.status_code == 302
    db.session.refresh(enrollment)
    assert enrollment.status == "active"
    page = browser.get(f"/households/{household.id}").get_data(as_text=True)
    assert "Д-7" in page and "З-1" in page
    response = browser.post(
        f"/enrollments/{enrollment.id}/withdraw", {"effective_on": today, "reason": "Се преселија"}
    )
    assert response.status_code == 302
    db.session.refresh(enrollment)
    assert enrollment.status == "withdrawn"
    assert [
        e.to_status
        for e in db.session.scalars(select(EnrollmentEvent).order_by(EnrollmentEvent.id))
    ] == ["applied", "approved", "active", "withdrawn"]


def test_an_officer_cannot_open_the_enrollment_steps(  # type: ignore[no-untyped-def]
    login_as,
    make: Factory,
    coordinator: User,
    full_commission_programme: Programme,
) -> None:
    enrollment = services.apply(
        coordinator, family(make), full_commission_programme, applied_on=OPENED, today=TODAY
    )
    browser, _ = login_as(Role.OFFICER)
    assert browser.get(f"/enrollments/{enrollment.id}/decision").status_code == 403
    assert (
        browser.post(
            f"/enrollments/{enrollment.id}/withdraw",
            {"effective_on": TODAY.isoformat(), "reason": "x"},
        ).status_code
        == 403
    )
    db.session.refresh(enrollment)
    assert enrollment.status == "applied"


# --- closing: completed, closed early, reopened -------------------------------------------------


def worked(make: Factory, enrollment: Enrollment, hours: int) -> None:
    """Verified work by the head of the household, three hours a day from Monday 06.12.2021."""
    municipality = enrollment.household.municipality
    site = make.site(municipality)
    supervisor = make.user(Role.SUPERVISOR, municipality, organization=site.enterprise)
    coordinator = make.coordinator(municipality)
    head = enrollment.household.members[0]
    day = date(2021, 12, 6)
    while hours > 0:
        shift = work.Shift(day, 8 * 60, (8 + min(hours, 3)) * 60)
        work.verify(
            supervisor,
            work.log_work(coordinator, head, site, shift, "Чистење", today=TODAY),
            today=TODAY,
        )
        hours -= 3
        day += timedelta(days=1 if day.weekday() < 4 else 3)


def owing(make: Factory, programme: Programme, owed_hours: int, worked_hours: int) -> Enrollment:
    """An active enrollment owing ``owed_hours`` (100 ден. an hour), ``worked_hours`` of them
    verified."""
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment, owed_hours * 100_00)
    worked(make, enrollment, worked_hours)
    return enrollment


def closings(enrollment: Enrollment) -> list[tuple[object, ...]]:
    """The enrollment's history as stored: each step, its reason code and note, who took it."""
    db.session.expire_all()
    return [
        (e.from_status, e.to_status, e.close_reason, e.reason, e.actor_id)
        for e in db.session.scalars(
            select(EnrollmentEvent)
            .where(EnrollmentEvent.enrollment_id == enrollment.id)
            .order_by(EnrollmentEvent.id)
        )
    ][3:]  # after applied, approved, active


def audited(action: str) -> list[dict[str, object]]:
    return [
        e.changes for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
    ]


def test_completing_with_hours_left_is_refused_naming_them(
    make: Factory, programme: Programme, coordinator: User
) -> None:
    enrollment = owing(make, programme, owed_hours=100, worked_hours=3)
    with pytest.raises(ConflictError, match="97:00") as refused:
        services.complete(coordinator, enrollment, on=TODAY, reason="", today=TODAY)
    assert "close it early" in refused.value.message
    db.session.rollback()
    assert enrollment.status == Status.ACTIVE and enrollment.ended_on is None
    assert closings(enrollment) == []
    assert audited("enrollment.completed") == []


def test_completing_once_every_hour_is_worked_off_is_recorded(
    make: Factory, programme: Programme, coordinator: User
) -> None:
    enrollment = owing(make, programme, owed_hours=6, worked_hours=6)
    services.complete(coordinator, enrollment, on=TODAY, reason="Одработено", today=TODAY)
    assert (enrollment.status, enrollment.ended_on) == (Status.COMPLETED, TODAY)
    assert closings(enrollment) == [("active", "completed", None, "Одработено", coordinator.id)]
    assert audited("enrollment.completed")[0]["minutes_owed"] == 360


def test_closing_early_keeps_the_reason_the_note_and_the_hours_left(
    make: Factory, programme: Programme, coordinator: User
) -> None:
    enrollment = owing(make, programme, owed_hours=100, worked_hours=3)
    closing = services.EarlyClosing(on=TODAY, reason="moved_away", note="Се преселија во Скопје")
    services.close_early(coordinator, enrollment, closing, today=TODAY)
    db.session.expire_all()
    assert (enrollment.status, enrollment.close_reason, enrollment.ended_on) == (
        Status.CLOSED_EARLY,
        CloseReason.MOVED_AWAY,
        TODAY,
    )
    assert closings(enrollment) == [
        ("active", "closed_early", "moved_away", "Се преселија во Скопје", coordinator.id)
    ]
    changes = audited("enrollment.closed_early")[0]
    assert (changes["close_reason"], changes["minutes_left"]) == ("moved_away", 97 * 60)
    # The hours stay on record: nothing owed or worked is touched.
    assert services.balance_of(enrollment).remaining == 97 * 60


def test_closing_early_needs_a_reason_of_the_list_and_a_note_for_other(
    make: Factory, programme: Programme, coordinator: User
) -> None:
    enrollment = owing(make, programme, owed_hours=10, worked_hours=0)
    for reason, note, field in [
        ("", "", "close_reason"),
        ("bored", "", "close_reason"),
        ("other", "  ", "note"),
    ]:
        with pytest.raises(ValidationError) as refused:
            services.close_early(
                coordinator, enrollment, services.EarlyClosing(TODAY, reason, note), today=TODAY
            )
        assert refused.value.field == field
    assert enrollment.status == Status.ACTIVE and closings(enrollment) == []
    services.close_early(
        coordinator,
        enrollment,
        services.EarlyClosing(TODAY, "other", "Семејството се откажа од помошта"),
        today=TODAY,
    )
    assert closings(enrollment)[0][2:4] == ("other", "Семејството се откажа од помошта")


def test_closing_early_is_refused_once_every_hour_is_worked_off(
    make: Factory, programme: Programme, coordinator: User
) -> None:
    enrollment = owing(make, programme, owed_hours=3, worked_hours=3)
    with pytest.raises(ConflictError, match="complete the enrollment"):
        services.close_early(
            coordinator, enrollment, services.EarlyClosing(TODAY, "moved_away"), today=TODAY
        )
    assert enrollment.status == Status.ACTIVE


def test_reopening_takes_a_closing_back_with_its_reason_and_keeps_every_step(
    make: Factory, programme: Programme, coordinator: User
) -> None:
    enrollment = owing(make, programme, owed_hours=10, worked_hours=3)
    services.close_early(
        coordinator, enrollment, services.EarlyClosing(date(2022, 1, 10), "died"), today=TODAY
    )
    services.reopen(coordinator, enrollment, reason="Погрешно семејство", today=TODAY)
    db.session.expire_all()
    assert (enrollment.status, enrollment.ended_on, enrollment.close_reason) == (
        Status.ACTIVE,
        None,
        None,
    )
    services.withdraw(coordinator, enrollment, on=TODAY, reason="Се откажаа", today=TODAY)
    services.reopen(coordinator, enrollment, reason="Се вратија", today=TODAY)
    assert closings(enrollment) == [
        ("active", "closed_early", "died", "", coordinator.id),
        ("closed_early", "active", None, "Погрешно семејство", coordinator.id),
        ("active", "withdrawn", None, "Се откажаа", coordinator.id),
        ("withdrawn", "active", None, "Се вратија", coordinator.id),
    ]
    reopened = audited("enrollment.reopened")
    assert [c["status"] for c in reopened] == [["closed_early", "active"], ["withdrawn", "active"]]
    assert reopened[0]["close_reason"] == ["died", None]


def test_an_application_withdrawn_before_the_decision_reopens_as_an_application(
    make: Factory, programme: Programme, coordinator: User
) -> None:
    household = family(make)
    enrollment = services.apply(coordinator, household, programme, applied_on=OPENED, today=TODAY)
    services.withdraw(coordinator, enrollment, on=TODAY, reason="Се откажаа", today=TODAY)
    services.reopen(coordinator, enrollment, reason="Грешка при внесот", today=TODAY)
    assert enrollment.status == Status.APPLIED


def test_reopening_is_refused_while_another_enrollment_is_open_or_without_a_reason(
    make: Factory, programme: Programme, coordinator: User
) -> None:
    enrollment = make.active_enrollment(programme)
    with pytest.raises(ConflictError, match="Only an enrollment"):
        services.reopen(coordinator, enrollment, reason="x", today=TODAY)
    services.withdraw(coordinator, enrollment, on=TODAY, reason="Се откажаа", today=TODAY)
    with pytest.raises(ValidationError) as refused:
        services.reopen(coordinator, enrollment, reason=" ", today=TODAY)
    assert refused.value.field == "reason"
    worker = make.user(Role.SOCIAL_WORKER)
    with pytest.raises(PermissionDenied):
        services.reopen(worker, enrollment, reason="Се вратија", today=TODAY)
    services.apply(coordinator, enrollment.household, programme, applied_on=TODAY, today=TODAY)
    with pytest.raises(ConflictError, match="already has an open"):
        services.reopen(coordinator, enrollment, reason="Се вратија", today=TODAY)
    db.session.expire_all()
    assert enrollment.status == Status.WITHDRAWN
    assert closings(enrollment) == [("active", "withdrawn", None, "Се откажаа", coordinator.id)]
    assert audited("enrollment.reopened") == []


def test_the_complete_page_shows_the_balance_and_refuses_with_hours_left(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, today_is
) -> None:
    today_is(TODAY)
    enrollment = owing(make, programme, owed_hours=100, worked_hours=3)
    browser, _ = login_as(Role.COORDINATOR)
    page = browser.get(f"/enrollments/{enrollment.id}/complete").get_data(as_text=True)
    assert "100:00" in page and "3:00" in page and "97:00" in page
    assert f"/enrollments/{enrollment.id}/close-early" in page
    refused = browser.post(
        f"/enrollments/{enrollment.id}/complete", {"effective_on": TODAY.isoformat(), "reason": ""}
    )
    assert refused.status_code == 200
    assert "97:00" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == Status.ACTIVE
    assert closings(enrollment) == []


def test_the_close_early_page_shows_the_balance_asks_to_confirm_and_stores_the_reason(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, today_is
) -> None:
    today_is(TODAY)
    enrollment = owing(make, programme, owed_hours=100, worked_hours=3)
    browser, user = login_as(Role.COORDINATOR)
    household_page = browser.get(f"/households/{enrollment.household_id}").get_data(as_text=True)
    assert f"/enrollments/{enrollment.id}/close-early" in household_page
    page = browser.get(f"/enrollments/{enrollment.id}/close-early").get_data(as_text=True)
    assert "100:00" in page and "3:00" in page and "97:00" in page
    form = {"effective_on": TODAY.isoformat(), "close_reason": "moved_away", "note": ""}
    unconfirmed = browser.post(f"/enrollments/{enrollment.id}/close-early", form)
    assert unconfirmed.status_code == 200
    assert closings(enrollment) == []
    other = browser.post(
        f"/enrollments/{enrollment.id}/close-early",
        {**form, "close_reason": "other", "confirm": "y"},
    )
    assert other.status_code == 200 and closings(enrollment) == []
    done = browser.post(f"/enrollments/{enrollment.id}/close-early", {**form, "confirm": "y"})
    assert done.status_code == 302
    assert closings(enrollment) == [("active", "closed_early", "moved_away", "", user.id)]
    household_page = browser.get(f"/households/{enrollment.household_id}").get_data(as_text=True)
    assert "Moved away" in household_page


def test_the_close_early_page_names_a_missing_reason_and_confirmation_in_one_answer(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, today_is
) -> None:
    today_is(TODAY)
    enrollment = owing(make, programme, owed_hours=100, worked_hours=3)
    browser, _ = login_as(Role.COORDINATOR)
    future = (TODAY + timedelta(days=3)).isoformat()
    answer = browser.post(
        f"/enrollments/{enrollment.id}/close-early",
        {"effective_on": future, "close_reason": "", "note": ""},
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Confirm that the enrollment ends with hours left." in page
    assert "Choose why the enrollment ends early." in page
    assert "The date cannot be in the future." in page
    assert closings(enrollment) == [] and enrollment.status == Status.ACTIVE


def test_the_reopen_page_takes_a_withdrawal_back_and_the_history_shows_it(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, coordinator: User, today_is
) -> None:
    today_is(TODAY)
    enrollment = make.active_enrollment(programme)
    services.withdraw(coordinator, enrollment, on=TODAY, reason="Се откажаа", today=TODAY)
    browser, user = login_as(Role.COORDINATOR)
    household_page = browser.get(f"/households/{enrollment.household_id}").get_data(as_text=True)
    assert f"/enrollments/{enrollment.id}/reopen" in household_page
    no_reason = browser.post(f"/enrollments/{enrollment.id}/reopen", {"reason": ""})
    assert no_reason.status_code == 200 and len(closings(enrollment)) == 1
    done = browser.post(f"/enrollments/{enrollment.id}/reopen", {"reason": "Се вратија"})
    assert done.status_code == 302
    assert closings(enrollment)[-1] == ("withdrawn", "active", None, "Се вратија", user.id)
    household_page = browser.get(f"/households/{enrollment.household_id}").get_data(as_text=True)
    assert "reopened" in household_page and "Се вратија" in household_page


def test_the_reopen_page_refuses_while_another_enrollment_is_open(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, coordinator: User, today_is
) -> None:
    today_is(TODAY)
    enrollment = make.active_enrollment(programme)
    services.withdraw(coordinator, enrollment, on=TODAY, reason="Се откажаа", today=TODAY)
    services.apply(coordinator, enrollment.household, programme, applied_on=TODAY, today=TODAY)
    browser, _ = login_as(Role.COORDINATOR)
    refused = browser.post(f"/enrollments/{enrollment.id}/reopen", {"reason": "Се вратија"})
    assert refused.status_code == 200
    assert "already has an open" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == Status.WITHDRAWN
    social_worker, _ = login_as(Role.SOCIAL_WORKER)
    assert social_worker.post(
        f"/enrollments/{enrollment.id}/reopen", {"reason": "x"}
    ).status_code in (403, 404)


def test_an_agreement_reports_its_date_reference_and_signatories_at_once(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    household = family(make)
    enrollment = services.apply(
        coordinator, household, full_commission_programme, applied_on=OPENED, today=TODAY
    )
    approve(coordinator, enrollment, full_commission_programme)
    with pytest.raises(ValidationError) as refused:
        services.sign_agreement(
            coordinator,
            enrollment,
            signed_on=TODAY + timedelta(days=1),
            reference=" ",
            signatory_ids=[],
            today=TODAY,
        )
    assert {field for field, _message in refused.value.errors} == {
        "signed_on",
        "reference",
        "signatories",
    }
    assert count(Agreement) == 0 and enrollment.status == Status.APPROVED


def test_a_decision_in_the_future_without_a_reason_reports_both(
    make: Factory, coordinator: User, full_commission_programme: Programme
) -> None:
    enrollment = services.apply(
        coordinator, family(make), full_commission_programme, applied_on=OPENED, today=TODAY
    )
    data = services.DecisionData(
        decided_on=TODAY + timedelta(days=1),
        outcome="rejected",
        votes={m.id: "against" for m in commission(full_commission_programme)[:3]},
        reason=" ",
    )
    with pytest.raises(ValidationError) as refused:
        services.record_decision(coordinator, enrollment, data, today=TODAY)
    assert {field for field, _message in refused.value.errors} == {"decided_on", "reason"}
    assert enrollment.status == Status.APPLIED


# --- forms: commission members present by default, only adults offered as signatories ----------


def test_the_decision_form_starts_with_every_member_present_and_voting_for(  # type: ignore[no-untyped-def]
    login_as, make: Factory, full_commission_programme: Programme, today_is
) -> None:
    import re

    today_is(TODAY)
    browser, coordinator = login_as(Role.COORDINATOR)
    enrollment = services.apply(
        coordinator, family(make), full_commission_programme, applied_on=OPENED, today=TODAY
    )
    enrollment_id, members = enrollment.id, commission(full_commission_programme)
    page = browser.get(f"/enrollments/{enrollment_id}/decision").get_data(as_text=True)
    chosen = {
        int(member_id): vote
        for member_id, vote in re.findall(
            r'name="vote-(\d+)">\s*(?:<option value="[^"]*" >[^<]*</option>)*'
            r'<option value="([^"]*)" selected',
            page,
        )
    }
    assert chosen == {m.id: "for" for m in members}, "present and for, not absent"
    # the coordinator changes nothing but the date and the reference: the browser sends it
    sent = {f"vote-{member_id}": vote for member_id, vote in chosen.items()}
    response = browser.post(
        f"/enrollments/{enrollment_id}/decision",
        {"decided_on": "2021-11-25", "outcome": "approved", "reference": "Записник 1"} | sent,
    )
    assert response.status_code == 302
    decision = db.session.scalars(select(CommissionDecision)).one()
    assert {(v.commission_member_id, v.vote) for v in decision.votes} == {
        (m.id, "for") for m in members
    }


def test_the_agreement_offers_only_adults_and_refuses_a_minor_naming_the_field(  # type: ignore[no-untyped-def]
    login_as, make: Factory, full_commission_programme: Programme, today_is
) -> None:
    today_is(TODAY)
    browser, coordinator = login_as(Role.COORDINATOR)
    household = family(make)
    enrollment = services.apply(
        coordinator, household, full_commission_programme, applied_on=OPENED, today=TODAY
    )
    approve(coordinator, enrollment, full_commission_programme)
    child = next(m for m in household.members if m.first_name.startswith("Лејла"))
    enrollment_id, child_id, child_name = enrollment.id, child.id, child.full_name
    adult_ids = adults(household)
    page = browser.get(f"/enrollments/{enrollment_id}/agreement").get_data(as_text=True)
    assert child_name not in page, "an 11-year-old is never offered"
    assert all(f'value="{i}"' in page for i in adult_ids)
    refused = browser.post(
        f"/enrollments/{enrollment_id}/agreement",
        {"signed_on": "2021-12-01", "reference": "Д-1", "signatories": [child_id]},
    )
    body = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert f"A minor cannot sign the agreement: {child_name}." in body
    assert count(Agreement) == 0
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment_id).status == Status.APPROVED  # type: ignore[union-attr]

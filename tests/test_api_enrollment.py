"""API: the steps of an enrollment through one operation, each step the same service as its
page: the commission's votes as recorded, state conflicts as 409, refusals naming the field the
caller sent."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from casework.enrollment import services
from casework.enrollment.models import (
    Agreement,
    CommissionDecision,
    DecisionVote,
    Enrollment,
    EnrollmentEvent,
)
from casework.extensions import db
from casework.households.models import Household
from casework.programmes.models import Programme
from casework.security.models import Role
from tests.conftest import TODAY, ApiClient, Factory, count


@pytest.fixture
def commission(programme: Programme) -> list[int]:
    return [m.id for m in services.commission_of(programme)]


@pytest.fixture
def household(make: Factory, programme: Programme) -> Household:
    household = make.household()
    services.apply(
        make.coordinator(make.municipality()),
        household,
        programme,
        applied_on=date(2021, 11, 10),
        today=TODAY,
    )
    return household


@pytest.fixture
def api(api_as) -> ApiClient:  # type: ignore[no-untyped-def]
    client, _ = api_as(Role.COORDINATOR)
    return client


def step(api: ApiClient, household: Household, **body: Any) -> Any:
    return api.post(f"/households/{household.id}/enrollment", body)


def approve(api: ApiClient, household: Household, commission: list[int]) -> Any:
    return step(
        api,
        household,
        action="approve",
        decided_on="2021-11-25",
        votes={str(commission[0]): "for", str(commission[1]): "for"},
        reference="Записник 08-1",
    )


def enrollment_of(household: Household) -> Enrollment:
    db.session.expire_all()
    return db.session.scalars(
        select(Enrollment).where(Enrollment.household_id == household.id).order_by(Enrollment.id)
    ).all()[-1]


def fields(response: Any) -> list[str]:
    return sorted(response.get_json()["error"]["fields"])


# --- the commission's decision -----------------------------------------------------------------


def test_the_commission_approves_with_the_votes_of_the_members_present(
    api: ApiClient, household: Household, commission: list[int]
) -> None:
    response = approve(api, household, commission)
    assert response.status_code == 200, response.get_json()
    sent = response.get_json()
    enrollment = enrollment_of(household)
    assert enrollment.status == sent["status"] == "approved"
    [decision] = enrollment.decisions
    assert (decision.outcome, decision.decided_on, decision.reference) == (
        "approved",
        date(2021, 11, 25),
        "Записник 08-1",
    )
    assert sorted((v.commission_member_id, v.vote) for v in decision.votes) == [
        (commission[0], "for"),
        (commission[1], "for"),
    ]  # the third member was absent: recorded as absent, not as a vote
    assert sent["decisions"][0]["votes"] == {str(commission[0]): "for", str(commission[1]): "for"}
    assert [(e.from_status, e.to_status) for e in enrollment.events] == [
        (None, "applied"),
        ("applied", "approved"),
    ]


def test_approving_an_approved_enrollment_is_a_409(
    api: ApiClient, household: Household, commission: list[int]
) -> None:
    assert approve(api, household, commission).status_code == 200
    again = approve(api, household, commission)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "conflict"
    assert count(CommissionDecision) == 1


@pytest.mark.parametrize(
    ("votes", "field"),
    [
        (None, "votes"),  # never assumed: the record says who was there
        ({"0": "for"}, "votes.0.key"),  # not an id
        ("first", "votes"),
    ],
)
def test_votes_are_required_and_well_formed(
    api: ApiClient, household: Household, votes: Any, field: str
) -> None:
    body: dict[str, Any] = {"action": "approve", "decided_on": "2021-11-25"}
    if votes is not None:
        body["votes"] = votes
    response = step(api, household, **body)
    assert response.status_code == 422
    assert field in fields(response)
    assert enrollment_of(household).status == "applied"


def test_the_commissions_rules_on_votes_are_a_422_on_votes(
    api: ApiClient, household: Household, commission: list[int]
) -> None:
    one, two, three = (str(i) for i in commission)
    for votes in (
        {one: "for"},  # one of three present: no majority
        {one: "for", str(int(three) + 1000): "for"},  # not a member of this commission
        {one: "against", two: "against"},  # the outcome does not follow the votes
        {one: "yes", two: "for"},  # for, against or abstain
    ):
        response = step(api, household, action="approve", decided_on="2021-11-25", votes=votes)
        assert response.status_code == 422
        assert fields(response)[0].startswith("votes"), response.get_json()
    assert count(CommissionDecision) == 0


def test_a_rejection_needs_its_reason(
    api: ApiClient, household: Household, commission: list[int]
) -> None:
    votes = {str(commission[0]): "against", str(commission[1]): "against"}
    without = step(api, household, action="reject", decided_on="2021-11-25", votes=votes)
    assert (without.status_code, fields(without)) == (422, ["reason"])
    blank = step(api, household, action="reject", decided_on="2021-11-25", votes=votes, reason=" ")
    assert (blank.status_code, fields(blank)) == (422, ["reason"])
    rejected = step(
        api,
        household,
        action="reject",
        decided_on="2021-11-25",
        votes=votes,
        reason="Долгот е надвор од периодот",
    )
    assert rejected.status_code == 200
    enrollment = enrollment_of(household)
    assert enrollment.status == "rejected"
    assert enrollment.decisions[0].reason == "Долгот е надвор од периодот"


def test_a_decision_dated_in_the_future_is_a_422_on_decided_on(
    api: ApiClient, household: Household, commission: list[int]
) -> None:
    response = step(
        api,
        household,
        action="approve",
        decided_on=date.today().replace(year=date.today().year + 1).isoformat(),
        votes={str(commission[0]): "for", str(commission[1]): "for"},
    )
    assert (response.status_code, fields(response)) == (422, ["decided_on"])


# --- the agreement ----------------------------------------------------------------------------


def test_signing_the_agreement_makes_the_enrollment_active(
    api: ApiClient, household: Household, commission: list[int]
) -> None:
    approve(api, household, commission)
    head = household.members[0]
    response = step(
        api,
        household,
        action="sign_agreement",
        signed_on="2021-12-01",
        agreement_ref="Договор 14/2021",
        signatory_ids=[head.id],
    )
    assert response.status_code == 200, response.get_json()
    enrollment = enrollment_of(household)
    assert (enrollment.status, enrollment.active_since) == ("active", date(2021, 12, 1))
    agreement = db.session.scalar(select(Agreement).where(Agreement.enrollment_id == enrollment.id))
    assert agreement is not None
    assert (agreement.reference, [s.member_id for s in agreement.signatories]) == (
        "Договор 14/2021",
        [head.id],
    )
    assert response.get_json()["agreement"]["signatory_ids"] == [head.id]


def test_agreement_refusals_name_the_fields_the_caller_sent(
    api: ApiClient, make: Factory, household: Household, commission: list[int]
) -> None:
    approve(api, household, commission)
    child = make.member(household, "Лејла", date(2012, 3, 1), "child")
    head = household.members[0]
    base = {"action": "sign_agreement", "signed_on": "2021-12-01"}
    minor = step(api, household, **base, agreement_ref="Д 1", signatory_ids=[child.id])
    assert (minor.status_code, fields(minor)) == (422, ["signatory_ids"])
    assert "minor" in minor.get_json()["error"]["message"]
    nobody = step(api, household, **base, agreement_ref="Д 1", signatory_ids=[])
    assert (nobody.status_code, fields(nobody)) == (422, ["signatory_ids"])
    no_ref = step(api, household, **base, agreement_ref=" ", signatory_ids=[head.id])
    assert (no_ref.status_code, fields(no_ref)) == (422, ["agreement_ref"])
    assert count(Agreement) == 0


def test_signing_before_the_commission_approved_is_a_409(
    api: ApiClient, household: Household
) -> None:
    response = step(
        api,
        household,
        action="sign_agreement",
        signed_on="2021-12-01",
        agreement_ref="Договор 14/2021",
        signatory_ids=[household.members[0].id],
    )
    assert response.status_code == 409
    assert "not been approved" in response.get_json()["error"]["message"]
    assert enrollment_of(household).status == "applied"


# --- leaving and finishing --------------------------------------------------------------------


def test_withdrawing_keeps_the_reason_and_closes_the_enrollment(
    api: ApiClient, household: Household
) -> None:
    no_reason = step(api, household, action="withdraw", on="2021-12-01")
    assert (no_reason.status_code, fields(no_reason)) == (422, ["reason"])
    future = date.today().replace(year=date.today().year + 1).isoformat()
    too_late = step(api, household, action="withdraw", on=future, reason="Се исели")
    assert (too_late.status_code, fields(too_late)) == (422, ["on"])
    response = step(api, household, action="withdraw", on="2021-12-01", reason="Се исели")
    assert response.status_code == 200
    enrollment = enrollment_of(household)
    assert (enrollment.status, enrollment.ended_on) == ("withdrawn", date(2021, 12, 1))
    assert enrollment.events[-1].reason == "Се исели"


def test_completing_closes_an_active_enrollment_only(
    api: ApiClient, make: Factory, programme: Programme, household: Household
) -> None:
    early = step(api, household, action="complete", on="2022-01-10")
    assert early.status_code == 409
    active = make.active_enrollment(programme).household
    response = step(api, active, action="complete", on="2022-01-10", reason="Ги одработи часовите")
    assert response.status_code == 200
    enrollment = enrollment_of(active)
    assert (enrollment.status, enrollment.ended_on) == ("completed", date(2022, 1, 10))


def test_a_closed_household_has_no_step_to_take_but_may_apply_again(
    api: ApiClient, household: Household, programme: Programme, commission: list[int]
) -> None:
    step(api, household, action="withdraw", on="2021-12-01", reason="Се исели")
    closed = approve(api, household, commission)
    assert closed.status_code == 409
    response = step(api, household, action="apply", programme_id=programme.id)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["applied_on"] == date.today().isoformat()
    statuses = db.session.scalars(
        select(Enrollment.status).where(Enrollment.household_id == household.id)
    ).all()
    assert sorted(statuses) == ["applied", "withdrawn"]


def test_applying_with_an_open_application_is_a_409(
    api: ApiClient, household: Household, programme: Programme
) -> None:
    response = step(api, household, action="apply", programme_id=programme.id)
    assert response.status_code == 409
    assert count(Enrollment) == 1


def test_applying_to_a_programme_the_caller_cannot_see_is_a_422_on_programme_id(
    api: ApiClient, make: Factory, household: Household
) -> None:
    step(api, household, action="withdraw", on="2021-12-01", reason="Се исели")
    theirs = make.programme(municipality=make.municipality("OHR", "Охрид"))
    response = step(api, household, action="apply", programme_id=theirs.id)
    assert (response.status_code, fields(response)) == (422, ["programme_id"])


# --- the shape of a step ----------------------------------------------------------------------


def test_an_unknown_action_or_a_field_the_action_does_not_use_is_a_422(
    api: ApiClient, household: Household, commission: list[int]
) -> None:
    unknown = step(api, household, action="promote")
    assert (unknown.status_code, fields(unknown)) == (422, ["action"])
    mixed = step(
        api,
        household,
        action="approve",
        decided_on="2021-11-25",
        votes={str(commission[0]): "for", str(commission[1]): "for"},
        signed_on="2021-12-01",
    )
    assert (mixed.status_code, fields(mixed)) == (422, ["signed_on"])
    assert enrollment_of(household).status == "applied"


def test_a_repeated_step_with_its_idempotency_key_is_recorded_once(
    api: ApiClient, household: Household, commission: list[int]
) -> None:
    body = {
        "action": "approve",
        "decided_on": "2021-11-25",
        "votes": {str(commission[0]): "for", str(commission[1]): "for"},
    }
    url = f"/households/{household.id}/enrollment"
    first = api.post(url, body, Idempotency_Key="decision-08-1")
    again = api.post(url, body, Idempotency_Key="decision-08-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json() == first.get_json()
    assert (count(CommissionDecision), count(DecisionVote)) == (1, 2)
    assert count(EnrollmentEvent, EnrollmentEvent.to_status == "approved") == 1


def test_only_the_households_coordinators_take_its_steps(
    api_as,
    make: Factory,
    household: Household,
    commission: list[int],  # type: ignore[no-untyped-def]
) -> None:
    officer, _ = api_as(Role.OFFICER)
    worker, user = api_as(Role.SOCIAL_WORKER)
    household.assigned_worker_id = user.id
    outsider, _ = api_as(Role.COORDINATOR, make.municipality("OHR", "Охрид"))
    for api, status in ((officer, 403), (worker, 403), (outsider, 404)):
        response = approve(api, household, commission)
        assert response.status_code == status
    own, _ = api_as(Role.COORDINATOR)
    missing = own.post(
        f"/households/{household.id + 1000}/enrollment", {"action": "complete", "on": "2022-01-10"}
    )
    assert missing.status_code == 404
    assert enrollment_of(household).status == "applied"


# --- the commission ---------------------------------------------------------------------------


def test_coordinators_read_the_commission_whose_ids_votes_name(
    api_as,
    programme: Programme,
    commission: list[int],  # type: ignore[no-untyped-def]
) -> None:
    coordinator, _ = api_as(Role.COORDINATOR)
    listed = coordinator.get(f"/programmes/{programme.id}/commission").get_json()
    assert [m["id"] for m in listed["items"]] == commission
    assert (listed["total"], listed["items"][0]["seat"]) == (3, "municipality")
    paged = coordinator.get(f"/programmes/{programme.id}/commission?per_page=2&page=2").get_json()
    assert ([m["id"] for m in paged["items"]], paged["pages"]) == ([commission[2]], 2)


def test_others_do_not_read_the_commission(
    api_as,
    make: Factory,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    officer, _ = api_as(Role.OFFICER)
    outsider, _ = api_as(Role.COORDINATOR, make.municipality("OHR", "Охрид"))
    assert officer.get(f"/programmes/{programme.id}/commission").status_code == 403
    assert outsider.get(f"/programmes/{programme.id}/commission").status_code == 404


# --- closing: completed only when worked off, closed early, reopened ---------------------------


def owing_household(make: Factory, programme: Programme, hours: int) -> Household:
    """An active household that owes ``hours`` (100 ден. an hour) and has worked none."""
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment, hours * 100_00)
    return enrollment.household


def test_completing_with_hours_left_is_refused_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    api: ApiClient, make: Factory, programme: Programme, today_is
) -> None:
    today_is(TODAY)
    household = owing_household(make, programme, 240)
    refused = step(api, household, action="complete", on="2022-01-10")
    assert refused.status_code == 409
    assert "240:00" in refused.get_json()["error"]["message"]
    enrollment = enrollment_of(household)
    assert (enrollment.status, enrollment.ended_on) == ("active", None)
    assert [e.to_status for e in enrollment.events] == ["applied", "approved", "active"]


def test_closing_early_through_the_api_stores_the_reason_and_the_note(  # type: ignore[no-untyped-def]
    api: ApiClient, make: Factory, programme: Programme, today_is
) -> None:
    today_is(TODAY)
    household = owing_household(make, programme, 240)
    no_note = step(api, household, action="close_early", on="2022-01-10", close_reason="other")
    assert (no_note.status_code, fields(no_note)) == (422, ["note"])
    unknown = step(api, household, action="close_early", on="2022-01-10", close_reason="bored")
    assert (unknown.status_code, fields(unknown)) == (422, ["close_reason"])
    assert enrollment_of(household).status == "active"
    response = step(
        api,
        household,
        action="close_early",
        on="2022-01-10",
        close_reason="commission_decision",
        note="Записник 12-3",
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["close_reason"]) == ("closed_early", "commission_decision")
    assert body["events"][-1]["close_reason"] == "commission_decision"
    enrollment = enrollment_of(household)
    assert (enrollment.status, enrollment.close_reason, enrollment.ended_on) == (
        "closed_early",
        "commission_decision",
        date(2022, 1, 10),
    )
    assert enrollment.events[-1].reason == "Записник 12-3"


def test_reopening_through_the_api_and_its_refusal_while_another_is_open(  # type: ignore[no-untyped-def]
    api: ApiClient, household: Household, programme: Programme, today_is
) -> None:
    today_is(TODAY)
    nothing_closed = step(api, household, action="reopen", reason="Грешка")
    assert nothing_closed.status_code == 409
    step(api, household, action="withdraw", on="2021-12-01", reason="Се исели")
    no_reason = step(api, household, action="reopen", reason=" ")
    assert (no_reason.status_code, fields(no_reason)) == (422, ["reason"])
    response = step(api, household, action="reopen", reason="Се врати во Кичево")
    assert response.status_code == 200, response.get_json()
    enrollment = enrollment_of(household)
    assert (enrollment.status, enrollment.ended_on) == ("applied", None)
    assert [(e.from_status, e.to_status, e.reason) for e in enrollment.events[-2:]] == [
        ("applied", "withdrawn", "Се исели"),
        ("withdrawn", "applied", "Се врати во Кичево"),
    ]
    step(api, household, action="withdraw", on="2022-01-10", reason="Пак се исели")
    assert step(api, household, action="apply", programme_id=programme.id).status_code == 200
    db.session.expire_all()
    withdrawn = db.session.scalars(
        select(Enrollment).where(
            Enrollment.household_id == household.id, Enrollment.status == "withdrawn"
        )
    ).one()
    # The latest enrollment is the new application: open, so nothing to reopen.
    refused = step(api, household, action="reopen", reason="Се врати")
    assert refused.status_code == 409
    db.session.expire_all()
    assert db.session.get(Enrollment, withdrawn.id).status == "withdrawn"
    assert count(EnrollmentEvent, EnrollmentEvent.enrollment_id == withdrawn.id) == 4

"""API: the household register. The same services, scopes and access log as the pages; a new
household, its members and its application are stored together or not at all; national IDs
leave masked."""

from __future__ import annotations

import contextvars
import threading
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from casework.api.models import IdempotentRequest
from casework.audit.models import AccessAction, AccessRecord, AuditEvent
from casework.enrollment import services as enrollment_services
from casework.enrollment.models import Enrollment
from casework.errors import ValidationError
from casework.extensions import db
from casework.households import services as household_services
from casework.households.models import DuplicateReview, Exemption, Household, Member
from casework.organizations.models import Municipality
from casework.programmes.models import Programme
from casework.security.models import Role
from tests.conftest import TODAY, ApiClient, Factory, count, valid_national_id


def test_a_consent_signed_in_the_future_is_a_422_on_consent_on_and_an_edit_is_refused_too(  # type: ignore[no-untyped-def]
    api_as, make: Factory, programme: Programme
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    response = api.post("/households", new_household(programme, consent_on="2030-01-01"))
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["consent_on"]
    assert count(Household) == 0
    household = make.household()
    stored = (household.address, household.consent_on)
    with pytest.raises(ValidationError, match="future") as refused:
        household_services.update_household(
            make.coordinator(household.municipality),
            household,
            household_services.HouseholdData(address="ул. Нова 1", consent_on=date(2030, 1, 1)),
            today=TODAY,
        )
    assert refused.value.field == "consent_on"
    db.session.expire_all()
    assert (household.address, household.consent_on) == stored


def post_raw(api: ApiClient, url: str, body: str) -> Any:
    """A request whose body is sent exactly as given (the ApiClient always sends valid JSON)."""
    db.session.commit()
    return contextvars.Context().run(
        lambda: api.http.post(
            "/api/v1" + url,
            data=body,
            headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
        )
    )


def new_household(programme: Programme, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "programme_id": programme.id,
        "address": "ул. Илинденска бр. 12",
        "settlement": "Кичево",
        "phone": "070 123 456",
        "language": "mk",
        "applied_on": "2021-11-10",
        "members": [
            {
                "first_name": "Мухамед",
                "last_name": "Мамудовски",
                "national_id": valid_national_id(date(1984, 3, 15)),
                "is_head": True,
            },
            {
                "first_name": "Ајше",
                "last_name": "Мамудовска",
                "national_id": valid_national_id(date(1988, 6, 2), female=True),
                "relation": "spouse",
            },
            {
                "first_name": "Лејла",
                "last_name": "Мамудовска",
                "birth_date": "2012-03-01",
                "sex": "F",
                "relation": "child",
            },
        ],
    }
    body.update(changes)
    return body


@pytest.fixture
def elsewhere(make: Factory) -> Municipality:
    return make.municipality("OHR", "Охрид")


# --- registering a household ----------------------------------------------------------------


def test_a_coordinator_registers_a_household_its_members_and_its_application_at_once(
    api_as,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    api, coordinator = api_as(Role.COORDINATOR)
    body = new_household(programme)
    response = api.post("/households", body)
    assert response.status_code == 201, response.get_json()
    sent = response.get_json()
    household = db.session.get(Household, sent["id"])
    assert household is not None
    assert (household.municipality_id, household.address, household.phone, household.language) == (
        programme.municipality_id,
        "ул. Илинденска бр. 12",
        "070 123 456",
        "mk",
    )
    assert household.case_number == sent["case_number"] == f"KIC-{household.id:05d}"
    stored = {m.first_name: m for m in household.members}
    assert set(stored) == {"Мухамед", "Ајше", "Лејла"}
    assert (stored["Мухамед"].is_head, stored["Мухамед"].relation) == (True, "head")
    assert stored["Ајше"].national_id == body["members"][1]["national_id"]
    assert stored["Ајше"].birth_date == date(1988, 6, 2)  # read from the national ID
    assert (stored["Лејла"].relation, stored["Лејла"].national_id) == ("child", None)
    [enrollment] = db.session.scalars(
        select(Enrollment).where(Enrollment.household_id == household.id)
    ).all()
    assert (enrollment.programme_id, enrollment.status, enrollment.applied_on) == (
        programme.id,
        "applied",
        date(2021, 11, 10),
    )
    assert sent["enrollment"]["id"] == enrollment.id
    assert sent["enrollment"]["status"] == "applied"
    actions = db.session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.actor_id == coordinator.id, AuditEvent.action != "api_token.create"
        )
    ).all()
    assert sorted(actions) == [
        "enrollment.applied",
        "household.create",
        "member.create",
        "member.create",
    ]


def test_a_new_household_speaks_its_municipalitys_language_unless_told(
    api_as,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    body = new_household(programme)
    del body["language"]
    sent = api.post("/households", body).get_json()
    assert sent["language"] == programme.municipality.default_locale


def test_a_refused_member_leaves_nothing_stored_and_is_named_by_its_place(
    api_as,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    body = new_household(programme)
    wrong = body["members"][2]
    good = valid_national_id(date(2012, 3, 1), female=True)
    wrong["national_id"] = good[:-1] + str((int(good[-1]) + 1) % 10)  # a wrong check digit
    del wrong["birth_date"], wrong["sex"]
    audit_before = count(AuditEvent)
    response = api.post("/households", body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert list(error["fields"]) == ["members.2.national_id"]
    assert "check digit" in error["fields"]["members.2.national_id"]
    assert (count(Household), count(Member), count(Enrollment)) == (0, 0, 0)
    assert count(AuditEvent) == audit_before


def test_a_national_id_registered_elsewhere_refuses_the_whole_household(
    api_as,
    make: Factory,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    existing = make.household()
    taken = existing.members[0].national_id
    api, _ = api_as(Role.COORDINATOR)
    body = new_household(programme)
    body["members"][0]["national_id"] = taken
    body["members"][0]["birth_date"] = existing.members[0].birth_date.isoformat()
    response = api.post("/households", body)
    assert response.status_code == 422
    assert "members.0.national_id" in response.get_json()["error"]["fields"]
    assert count(Household) == 1


def test_a_household_registered_in_latin_is_flagged_against_its_cyrillic_registration(
    api_as,
    make: Factory,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    existing = make.household(head_name=("Сефер", "Бајрамовски"))  # born 15.03.1984
    api, _ = api_as(Role.COORDINATOR)
    body = new_household(programme, address="ul. Ilindenska br. 12")
    body["members"][0].update(first_name="Sefer", last_name="Bajramovski")
    response = api.post("/households", body)
    assert response.status_code == 201, response.get_json()
    review = db.session.scalars(select(DuplicateReview)).one()
    assert (review.household_id, review.other_household_id, review.reason) == (
        response.get_json()["id"],
        existing.id,
        "name_and_birth",
    )


@pytest.mark.parametrize("heads", [0, 2])
def test_a_household_has_exactly_one_head(
    api_as,
    programme: Programme,
    heads: int,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    body = new_household(programme)
    body["members"][0]["is_head"] = heads > 0
    body["members"][1]["is_head"] = heads > 1
    response = api.post("/households", body)
    assert response.status_code == 422
    assert "members" in response.get_json()["error"]["fields"]
    assert count(Household) == 0


def test_a_refused_household_field_keeps_its_own_name(
    api_as,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    response = api.post("/households", new_household(programme, phone="call me maybe"))
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["phone"]
    assert count(Household) == 0


def test_missing_fields_are_a_422_naming_each(api_as) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_as(Role.COORDINATOR)
    response = api.post("/households", {"settlement": "Кичево"})
    assert response.status_code == 422
    assert {"programme_id", "address", "members"} <= set(response.get_json()["error"]["fields"])


def test_malformed_json_is_a_400_and_stores_nothing(api_as) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_as(Role.COORDINATOR)
    response = post_raw(api, "/households", '{"programme_id": 1, "address": ')
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    assert count(Household) == 0


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SOCIAL_WORKER, Role.AUDITOR])
def test_only_coordinators_register_households(
    api_as,
    programme: Programme,
    role: Role,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(role)
    response = api.post("/households", new_household(programme))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert count(Household) == 0


def test_a_programme_the_caller_cannot_see_is_an_invalid_programme_id(
    api_as,
    make: Factory,
    elsewhere: Municipality,  # type: ignore[no-untyped-def]
) -> None:
    theirs = make.programme(municipality=elsewhere)
    api, _ = api_as(Role.COORDINATOR)
    for programme_id in (theirs.id, theirs.id + 1000):
        response = api.post("/households", {**new_household(theirs), "programme_id": programme_id})
        assert response.status_code == 422
        assert list(response.get_json()["error"]["fields"]) == ["programme_id"]
    assert count(Household) == 0


def test_the_same_idempotency_key_and_body_register_one_household(
    api_as,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    body = new_household(programme)
    first = api.post("/households", body, Idempotency_Key="intake-2021-11-10-7")
    again = api.post("/households", body, Idempotency_Key="intake-2021-11-10-7")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (count(Household), count(Member), count(Enrollment)) == (1, 3, 1)


def test_copies_of_a_keyed_write_sent_at_once_all_get_the_first_answer(  # type: ignore[no-untyped-def]
    api_as, programme: Programme
) -> None:
    """Twenty copies from threads, each its own request, connection and transaction: the
    copies wait for the first to commit and replay its answer; none is a 409 or a 422."""
    api, _ = api_as(Role.COORDINATOR)
    body = new_household(programme)
    db.session.commit()  # and no query after it until the threads end: no lock held
    start = threading.Barrier(20)
    answers: list[Any] = []
    headers = {"Authorization": f"Bearer {api.token}", "Idempotency-Key": "intake-at-once"}

    def send() -> None:
        start.wait()
        answers.append(api.http.post("/api/v1/households", json=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [201] * 20
    assert all(a.get_json() == answers[0].get_json() for a in answers)
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 19
    assert (count(Household), count(Member), count(Enrollment)) == (1, 3, 1)
    remembered = db.session.scalars(select(IdempotentRequest)).all()
    assert [(r.key, r.status_code, r.body) for r in remembered] == [
        ("intake-at-once", 201, answers[0].get_json())
    ]


def test_the_same_idempotency_key_with_another_body_is_a_409(
    api_as,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    assert (
        api.post("/households", new_household(programme), Idempotency_Key="k1").status_code == 201
    )
    other = new_household(programme, address="ул. Друга бр. 1")
    response = api.post("/households", other, Idempotency_Key="k1")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "idempotency_conflict"
    assert count(Household) == 1


# --- reading households ------------------------------------------------------------------------


def test_a_household_shows_its_members_masked_its_enrollment_and_its_balance(
    api_as,
    make: Factory,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    enrollment = make.active_enrollment(programme)
    household = enrollment.household
    make.member(household)
    make.paid(enrollment, 10_000_00)  # 100 hours owed
    numbers = [m.national_id for m in household.members]
    api, coordinator = api_as(Role.COORDINATOR)
    response = api.get(f"/households/{household.id}")
    assert response.status_code == 200
    sent = response.get_json()
    text = response.get_data(as_text=True)
    for number in numbers:
        assert number and number not in text  # never whole, anywhere in the answer
        assert number[-4:] in text
    assert [m["national_id_masked"] for m in sent["members"]] == ["•" * 9 + n[-4:] for n in numbers]
    assert "national_id" not in sent["members"][0]
    assert sent["enrollment"]["status"] == "active"
    assert sent["enrollment"]["agreement"]["signatory_ids"] == [household.members[0].id]
    assert sent["balance"]["owed_minutes"] == 6000
    assert [e["id"] for e in sent["enrollments"]] == [enrollment.id]
    [seen] = db.session.scalars(
        select(AccessRecord).where(AccessRecord.user_id == coordinator.id)
    ).all()
    assert (seen.action, seen.household_id, seen.municipality_id) == (
        AccessAction.VIEW_HOUSEHOLD.value,
        household.id,
        household.municipality_id,
    )


def test_an_officer_and_the_households_own_social_worker_read_it(
    api_as,
    make: Factory,  # type: ignore[no-untyped-def]
) -> None:
    officer_api, _ = api_as(Role.OFFICER)
    worker_api, worker = api_as(Role.SOCIAL_WORKER)
    household = make.household(worker=worker)
    for api in (officer_api, worker_api):
        assert api.get(f"/households/{household.id}").get_json()["id"] == household.id


def test_a_household_outside_the_callers_scope_is_a_404_and_logs_nothing(
    api_as,
    make: Factory,
    elsewhere: Municipality,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    other_coordinator, _ = api_as(Role.COORDINATOR, elsewhere)
    not_her_caseload, _ = api_as(Role.SOCIAL_WORKER)
    supervisor, _ = api_as(Role.SUPERVISOR)
    for api in (other_coordinator, not_her_caseload, supervisor):
        response = api.get(f"/households/{household.id}")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    own, _ = api_as(Role.COORDINATOR)
    assert own.get(f"/households/{household.id + 1000}").status_code == 404
    assert own.get(f"/households/{2**64}").status_code == 404  # beyond any id: not a 500
    assert count(AccessRecord) == 0


def test_the_list_holds_exactly_the_households_the_caller_may_see(
    api_as,
    make: Factory,
    elsewhere: Municipality,  # type: ignore[no-untyped-def]
) -> None:
    worker_api, worker = api_as(Role.SOCIAL_WORKER)
    followed = make.household(worker=worker, head_name=("Ана", "Ананиевска"), address="ул. А 1")
    other = make.household(head_name=("Бојан", "Бојановски"), address="ул. Б 2")
    make.household(elsewhere, head_name=("Вера", "Веровска"), address="ул. В 3")
    coordinator_api, coordinator = api_as(Role.COORDINATOR)
    officer_api, _ = api_as(Role.OFFICER)

    def listed(api: ApiClient) -> list[int]:
        response = api.get("/households")
        assert response.status_code == 200
        return [h["id"] for h in response.get_json()["items"]]

    assert sorted(listed(coordinator_api)) == sorted([followed.id, other.id])
    assert sorted(listed(officer_api)) == sorted([followed.id, other.id])
    assert listed(worker_api) == [followed.id]
    # one entry per family listed (issue 20: which households were shown), each naming it
    seen = db.session.scalars(
        select(AccessRecord).where(AccessRecord.user_id == coordinator.id)
    ).all()
    assert {e.action for e in seen} == {AccessAction.VIEW_LIST.value}
    assert sorted((e.household_id, e.detail) for e in seen) == sorted(
        (h.id, f"api households page 1: {h.case_number}") for h in (followed, other)
    )


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN])
def test_roles_without_a_household_list_get_a_403(api_as, role: Role) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_as(role)
    assert api.get("/households").status_code == 403


def test_the_list_filters_by_programme_enrollment_status_and_search_and_pages(
    api_as,
    make: Factory,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    active = make.active_enrollment(programme).household
    applied = make.household(head_name=("Зоран", "Зорановски"), address="ул. З 4")
    enrollment_services.apply(
        make.coordinator(make.municipality()),
        applied,
        programme,
        applied_on=date(2021, 12, 1),
        today=TODAY,
    )
    make.household(head_name=("Нико", "Никовски"), address="ул. Н 5")  # never applied
    api, _ = api_as(Role.COORDINATOR)

    def ids(query: str) -> list[int]:
        response = api.get("/households" + query)
        assert response.status_code == 200, response.get_json()
        return sorted(h["id"] for h in response.get_json()["items"])

    assert ids(f"?programme_id={programme.id}") == sorted([active.id, applied.id])
    assert ids("?status=active") == [active.id]
    assert ids(f"?programme_id={programme.id}&status=applied") == [applied.id]
    assert ids(f"?programme_id={programme.id + 1000}") == []
    assert ids("?q=зоранов") == [applied.id]
    page = api.get("/households?per_page=2&page=2").get_json()
    assert (page["page"], page["pages"], page["total"], len(page["items"])) == (2, 2, 3, 1)
    item = api.get("/households?q=зоранов").get_json()["items"][0]
    assert (item["head_name"], item["members"], item["balance"]["owed_minutes"]) == (
        "Зоран Зорановски",
        1,
        0,
    )


def test_the_lists_search_finds_a_name_in_either_script(api_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    cyrillic = make.household(head_name=("Сефер", "Бајрамовски"))
    albanian = make.household(head_name=("Mërgim", "Çela"), address="Rr. Ilindenska 9")
    api, _ = api_as(Role.COORDINATOR)

    def ids(q: str) -> list[int]:
        response = api.get("/households?" + urlencode({"q": q}))
        assert response.status_code == 200, response.get_json()
        return [h["id"] for h in response.get_json()["items"]]

    assert ids("sefer bajramovski") == [cyrillic.id]
    assert ids("Мергим Чела") == [albanian.id]


def test_an_unknown_status_filter_is_a_422_naming_it(api_as) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_as(Role.COORDINATOR)
    response = api.get("/households?status=sleeping")
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["status"]


# --- members and exemptions ------------------------------------------------------------------


def test_a_coordinator_adds_a_member_and_sees_the_number_masked(
    api_as,
    make: Factory,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    api, _ = api_as(Role.COORDINATOR)
    number = valid_national_id(date(2005, 4, 1))
    response = api.post(
        f"/households/{household.id}/members",
        {
            "first_name": "Амет",
            "last_name": "Мамудовски",
            "national_id": number,
            "relation": "child",
        },
    )
    assert response.status_code == 201
    sent = response.get_json()
    assert number not in response.get_data(as_text=True)
    assert sent["national_id_masked"].endswith(number[-4:])
    member = db.session.get(Member, sent["id"])
    assert member is not None
    assert (member.household_id, member.national_id, member.birth_date, member.sex) == (
        household.id,
        number,
        date(2005, 4, 1),
        "M",
    )


def test_a_second_head_is_refused_naming_the_relation(
    api_as,
    make: Factory,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    api, _ = api_as(Role.COORDINATOR)
    response = api.post(
        f"/households/{household.id}/members",
        {
            "first_name": "Друг",
            "last_name": "Глава",
            "birth_date": "1980-01-01",
            "sex": "M",
            "relation": "head",
        },
    )
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["relation"]
    assert count(Member, Member.household_id == household.id) == 1


def test_only_the_households_coordinators_add_members(
    api_as,
    make: Factory,
    elsewhere: Municipality,  # type: ignore[no-untyped-def]
) -> None:
    worker_api, worker = api_as(Role.SOCIAL_WORKER)
    household = make.household(worker=worker)
    officer_api, _ = api_as(Role.OFFICER)
    outsider_api, _ = api_as(Role.COORDINATOR, elsewhere)
    member = {
        "first_name": "А",
        "last_name": "Б",
        "birth_date": "1990-01-01",
        "sex": "F",
        "relation": "spouse",
    }
    for api, status in ((worker_api, 403), (officer_api, 403), (outsider_api, 404)):
        assert api.post(f"/households/{household.id}/members", member).status_code == status
    assert count(Member) == 1


def test_a_coordinator_records_an_exemption_with_its_document(
    api_as,
    make: Factory,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    mother = make.member(household)
    api, coordinator = api_as(Role.COORDINATOR)
    response = api.post(
        f"/members/{mother.id}/exemptions",
        {
            "reason": "maternity",
            "document_ref": "Решение 12/2022",
            "starts_on": "2022-01-03",
            "ends_on": "2022-09-30",
        },
    )
    assert response.status_code == 201
    exemption = db.session.get(Exemption, response.get_json()["id"])
    assert exemption is not None
    assert (exemption.member_id, exemption.reason, exemption.document_ref) == (
        mother.id,
        "maternity",
        "Решение 12/2022",
    )
    assert (exemption.starts_on, exemption.ends_on, exemption.created_by_id) == (
        date(2022, 1, 3),
        date(2022, 9, 30),
        coordinator.id,
    )


# A maternity exemption the rules accept for a mother: nine months at the most.
MATERNITY = {
    "reason": "maternity",
    "document_ref": "Решение 12/2022",
    "starts_on": "2022-01-03",
    "ends_on": "2022-09-30",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_on": "2022-12-31"}, "ends_on"),  # maternity: nine months at the most
        ({"reason": "illness"}, "reason"),  # a reason code, never a diagnosis
        ({"document_ref": "  "}, "document_ref"),
    ],
)
def test_an_exemption_the_rules_refuse_is_a_422_naming_the_field(
    api_as,
    make: Factory,
    change: dict[str, str],
    field: str,  # type: ignore[no-untyped-def]
) -> None:
    mother = make.member(make.household())
    api, _ = api_as(Role.COORDINATOR)
    body = {**MATERNITY, **change}
    response = api.post(f"/members/{mother.id}/exemptions", body)
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == [field]
    assert count(Exemption) == 0


def test_a_maternity_exemption_for_a_man_is_a_422_on_reason_through_the_api_and_the_page(  # type: ignore[no-untyped-def]
    api_as, login_as, make: Factory
) -> None:
    father = make.member(make.household(), "Мухамед", female=False)
    api, _ = api_as(Role.COORDINATOR)
    response = api.post(f"/members/{father.id}/exemptions", MATERNITY)
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["reason"]
    browser, _c = login_as(Role.COORDINATOR)
    page = browser.post(f"/households/members/{father.id}/exemptions/new", data=MATERNITY)
    assert page.status_code == 200
    assert "Pregnancy and maternity exemptions are for women." in page.get_data(as_text=True)
    assert count(Exemption) == 0


def test_only_the_households_coordinators_record_exemptions(
    api_as,
    make: Factory,
    elsewhere: Municipality,  # type: ignore[no-untyped-def]
) -> None:
    member = make.household().members[0]
    officer_api, _ = api_as(Role.OFFICER)
    outsider_api, _ = api_as(Role.COORDINATOR, elsewhere)
    own_api, _ = api_as(Role.COORDINATOR)
    body = {"reason": "pensioner", "document_ref": "Пензиско 1", "starts_on": "2022-01-03"}
    assert officer_api.post(f"/members/{member.id}/exemptions", body).status_code == 403
    assert outsider_api.post(f"/members/{member.id}/exemptions", body).status_code == 404
    assert own_api.post(f"/members/{member.id + 1000}/exemptions", body).status_code == 404
    assert count(Exemption) == 0


def test_a_household_with_several_mistakes_lists_all_of_them_in_one_envelope(  # type: ignore[no-untyped-def]
    api_as, programme: Programme
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    body = new_household(programme, consent_on="2030-01-01", phone="070 abc")
    body["members"][2]["birth_date"] = "2030-03-01"
    audit_before = count(AuditEvent)
    response = api.post("/households", body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert set(error["fields"]) == {"consent_on", "phone", "members.2.birth_date"}
    assert "future" in error["fields"]["members.2.birth_date"]
    assert (count(Household), count(Member), count(Enrollment)) == (0, 0, 0)
    assert count(AuditEvent) == audit_before

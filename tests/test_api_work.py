"""The API's community work operations: sites, logging hours, confirming, rejecting and
correcting them, each checked in the database, with the pages' scopes (403, 404), the services'
caps and state conflicts (422, 409), and idempotent logging."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from casework.audit.models import AccessAction, AccessRecord
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.households.models import Member
from casework.programmes.models import Programme
from casework.security.models import Role, User
from casework.work import services
from casework.work.models import LogStatus, WorkLog, WorkSite
from tests.conftest import TODAY, ApiClient, Factory, count, error_of

MONDAY = date(2022, 1, 10)  # TODAY is Monday 17.01.2022; the enrollment is active from 01.12.2021


@pytest.fixture(autouse=True)
def _api_today(today_is: Callable[[date], None]) -> None:
    today_is(TODAY)


@pytest.fixture
def enrollment(make: Factory, programme: Programme) -> Enrollment:
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment, 10_000_00)  # 100 hours owed
    return enrollment


@pytest.fixture
def worker(api_as, enrollment: Enrollment) -> tuple[ApiClient, User]:  # type: ignore[no-untyped-def]
    """A social worker's API client, the household in its caseload."""
    api, user = api_as(Role.SOCIAL_WORKER)
    enrollment.household.assigned_worker_id = user.id
    return api, user


@pytest.fixture
def supervisor(api_as, site: WorkSite) -> tuple[ApiClient, User]:  # type: ignore[no-untyped-def]
    """A supervisor of the enterprise that runs the site."""
    return api_as(Role.SUPERVISOR, organization=site.enterprise)


def stored(log_id: int) -> WorkLog:
    db.session.expire_all()
    found = db.session.get(WorkLog, log_id)
    assert found is not None
    return found


def logged(member: Member, site: WorkSite, day: date = MONDAY, minutes: int = 120) -> WorkLog:
    """Hours logged by the household's coordinator, through the service."""
    coordinator = db.session.scalar(select(User).where(User.username == "factory-coordinator-kic"))
    assert coordinator is not None
    return services.log_work(
        coordinator, member, site, services.Shift(day, duration_minutes=minutes), "", today=TODAY
    )


def verified(member: Member, site: WorkSite, day: date = MONDAY, minutes: int = 120) -> WorkLog:
    log = logged(member, site, day, minutes)
    coordinator = db.session.get(User, log.logged_by_id)
    assert coordinator is not None
    services.verify(coordinator, log, today=TODAY)
    return log


def body(member: Member, site: WorkSite, **changes: Any) -> dict[str, Any]:
    return {
        "member_id": member.id,
        "site_id": site.id,
        "work_date": MONDAY.isoformat(),
        "minutes": 150,
        "task": "Чистење на паркот",
    } | changes


# --- sites ---------------------------------------------------------------------------------------


def test_sites_are_those_the_caller_logs_at_or_confirms_at(  # type: ignore[no-untyped-def]
    api_as, make: Factory, site: WorkSite, worker: tuple[ApiClient, User], supervisor
) -> None:
    other = make.site(name="Пазар")  # another enterprise's site, same municipality
    elsewhere = make.site(make.municipality("PRI", "Прилеп"), name="Кеј")
    api, _user = worker
    items = api.get("/sites").get_json()["items"]
    assert {(s["id"], s["may_log"], s["may_verify"]) for s in items} == {
        (site.id, True, False),
        (other.id, True, False),
    }
    at_site, _s = supervisor
    items = at_site.get("/sites").get_json()["items"]
    assert [(s["id"], s["may_log"], s["may_verify"]) for s in items] == [(site.id, False, True)]
    assert items[0]["enterprise"] == site.enterprise.name
    coordinator, _c = api_as(Role.COORDINATOR)
    items = coordinator.get("/sites").get_json()["items"]
    assert {(s["id"], s["may_log"], s["may_verify"]) for s in items} == {
        (site.id, True, True),
        (other.id, True, True),
    }
    assert elsewhere.id not in {s["id"] for s in items}
    officer, _o = api_as(Role.OFFICER)
    assert officer.get("/sites").status_code == 403


# --- logging -------------------------------------------------------------------------------------


def test_a_social_worker_logs_hours_that_wait_for_the_site(
    worker: tuple[ApiClient, User], head: Member, site: WorkSite, enrollment: Enrollment
) -> None:
    api, user = worker
    response = api.post("/work-logs", body(head, site))
    assert response.status_code == 201, response.get_json()
    log = db.session.scalars(select(WorkLog)).one()
    assert (log.member_id, log.household_id, log.enrollment_id, log.site_id) == (
        head.id,
        enrollment.household_id,
        enrollment.id,
        site.id,
    )
    assert (log.work_date, log.minutes, log.status, log.logged_by_id) == (
        MONDAY,
        150,
        "logged",
        user.id,
    )
    assert log.task == "Чистење на паркот"
    out = response.get_json()
    assert out["id"] == log.id and out["member_name"] == head.full_name
    assert (out["status"], out["minutes"], out["reverses_id"]) == ("logged", 150, None)


def test_minutes_over_the_daily_cap_are_refused_naming_minutes(
    worker: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    api, _user = worker
    assert api.post("/work-logs", body(head, site, minutes=180)).status_code == 201
    response = api.post("/work-logs", body(head, site, minutes=61))  # 4 h a day at most
    assert response.status_code == 422
    error = error_of(response)
    assert set(error["fields"]) == {"minutes"} and "a day" in error["message"]
    assert count(WorkLog) == 1


def test_logging_refusals_name_the_field_at_fault(
    worker: tuple[ApiClient, User], head: Member, site: WorkSite, make: Factory
) -> None:
    api, _user = worker
    far_site = make.site(make.municipality("PRI", "Прилеп"), name="Кеј")
    cases = {
        "work_date": body(head, site, work_date=(TODAY + timedelta(days=1)).isoformat()),
        "site_id": body(head, site, site_id=far_site.id),
        "minutes": {k: v for k, v in body(head, site).items() if k != "minutes"},
        "member_id": body(head, site, work_date="2021-11-30"),  # before the enrollment was active
    }
    for field, payload in cases.items():
        response = api.post("/work-logs", payload)
        assert response.status_code == 422, (field, response.get_json())
        assert field in error_of(response)["fields"], (field, response.get_json())
    zero = api.post("/work-logs", body(head, site, minutes=0))
    assert zero.status_code == 422 and set(error_of(zero)["fields"]) == {"minutes"}
    assert count(WorkLog) == 0


def test_a_shift_from_to_is_logged_through_the_api_as_through_the_form(
    worker: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    api, _user = worker
    shift = body(head, site, start_time="08:00", end_time="10:30")
    del shift["minutes"]
    response = api.post("/work-logs", shift)
    assert response.status_code == 201, response.get_json()
    log = db.session.scalars(select(WorkLog)).one()
    assert (log.start_minute, log.end_minute, log.minutes) == (8 * 60, 10 * 60 + 30, 150)
    out = response.get_json()
    assert (out["start_time"], out["end_time"], out["minutes"]) == ("08:00", "10:30", 150)


def test_an_overlapping_shift_is_refused_through_the_api_with_the_pages_message(  # type: ignore[no-untyped-def]
    worker: tuple[ApiClient, User], head: Member, site: WorkSite, login_as
) -> None:
    api, _user = worker
    first = body(head, site, start_time="08:00", end_time="10:00", minutes=None)
    assert api.post("/work-logs", first).status_code == 201
    overlapping = {"start_time": "09:30", "end_time": "10:30"}
    response = api.post("/work-logs", body(head, site, minutes=None) | overlapping)
    assert response.status_code == 422, response.get_json()
    error = error_of(response)
    message = f"{head.full_name} already has a shift at that time that day."
    assert error["message"] == message and error["fields"] == {"start_time": message}
    assert count(WorkLog) == 1
    # The page refuses the same shift with the same words.
    browser, _coordinator = login_as(Role.COORDINATOR)
    page = browser.post(
        "/work/log",
        {"member_id": head.id, "site_id": site.id, "work_date": MONDAY.isoformat()} | overlapping,
    )
    assert page.status_code == 200 and message in page.get_data(as_text=True)
    assert count(WorkLog) == 1
    back_to_back = body(head, site, start_time="10:00", end_time="11:00", minutes=None)
    assert api.post("/work-logs", back_to_back).status_code == 201
    assert count(WorkLog) == 2


def test_the_overlap_is_refused_in_the_language_the_request_asks_for(
    worker: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    api, _user = worker
    first = body(head, site, start_time="08:00", end_time="10:00", minutes=None)
    assert api.post("/work-logs", first).status_code == 201
    again = body(head, site, start_time="09:00", end_time="09:30", minutes=None)
    response = api.call("POST", "/work-logs", json=again, **{"Accept-Language": "sq"})
    assert response.status_code == 422
    assert error_of(response)["message"] == (
        f"{head.full_name} ka tashmë një turn në atë orë atë ditë."
    )
    assert count(WorkLog) == 1


def test_minutes_beside_the_times_must_agree_with_them(
    worker: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    api, _user = worker
    response = api.post("/work-logs", body(head, site, start_time="08:00", end_time="09:00"))
    assert response.status_code == 422  # 150 minutes is not 08:00–09:00
    assert set(error_of(response)["fields"]) == {"minutes"}
    assert count(WorkLog) == 0
    agreeing = body(head, site, start_time="08:00", end_time="10:30")  # 150 minutes
    assert api.post("/work-logs", agreeing).status_code == 201
    assert db.session.scalars(select(WorkLog.start_minute)).all() == [8 * 60]


def test_a_time_that_is_not_a_time_of_day_is_refused_naming_it(
    worker: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    api, _user = worker
    for wrong in ("25:00", "eight", "8.30"):
        response = api.post("/work-logs", body(head, site, start_time=wrong, end_time="10:00"))
        assert response.status_code == 422, (wrong, response.get_json())
        assert set(error_of(response)["fields"]) == {"start_time"}
    only_start = body(head, site, start_time="08:00", minutes=None)
    response = api.post("/work-logs", only_start)
    assert response.status_code == 422 and set(error_of(response)["fields"]) == {"end_time"}
    assert count(WorkLog) == 0


def test_a_duration_alone_is_still_taken_and_documented_as_deprecated(  # type: ignore[no-untyped-def]
    worker: tuple[ApiClient, User], head: Member, site: WorkSite, client
) -> None:
    api, _user = worker
    assert api.post("/work-logs", body(head, site, minutes=90)).status_code == 201
    log = db.session.scalars(select(WorkLog)).one()
    assert (log.start_minute, log.end_minute, log.minutes) == (None, None, 90)
    document = client.get("/api/v1/openapi.json").get_json()
    fields = document["components"]["schemas"]["WorkLogIn"]["properties"]
    assert fields["minutes"]["deprecated"] is True
    assert "start_time" in fields["minutes"]["description"]
    assert {"start_time", "end_time"} <= set(fields)
    assert fields["start_time"]["example"] == "08:00"


def test_malformed_json_is_a_400_and_logs_nothing(
    worker: tuple[ApiClient, User],
) -> None:
    api, _user = worker
    db.session.commit()
    response = api.http.post(
        "/api/v1/work-logs",
        data='{"member_id": 1,',
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 400 and error_of(response)["code"] == "bad_request"
    assert count(WorkLog) == 0


def test_hours_are_logged_only_for_ones_own_caseload_and_never_by_officers(  # type: ignore[no-untyped-def]
    api_as, make: Factory, head: Member, site: WorkSite
) -> None:
    outsider, _w = api_as(Role.SOCIAL_WORKER)  # same municipality, not its caseload
    assert outsider.post("/work-logs", body(head, site)).status_code == 404
    officer, _o = api_as(Role.OFFICER)  # sees the household, logs nothing
    assert officer.post("/work-logs", body(head, site)).status_code == 403
    elsewhere, _c = api_as(Role.COORDINATOR, make.municipality("PRI", "Прилеп"))
    assert elsewhere.post("/work-logs", body(head, site)).status_code == 404
    coordinator, _c2 = api_as(Role.COORDINATOR)
    assert coordinator.post("/work-logs", body(head, site, site_id=999_999)).status_code == 404
    assert coordinator.post("/work-logs", body(head, site, member_id=999_999)).status_code == 404
    assert count(WorkLog) == 0


def test_a_log_sent_again_with_its_key_is_recorded_once(
    worker: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    api, _user = worker
    first = api.post("/work-logs", body(head, site), Idempotency_Key="field-device-42")
    assert first.status_code == 201
    replay = api.post("/work-logs", body(head, site), Idempotency_Key="field-device-42")
    assert replay.status_code == 201
    assert replay.get_json() == first.get_json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert count(WorkLog) == 1
    changed = api.post(
        "/work-logs", body(head, site, minutes=30), Idempotency_Key="field-device-42"
    )
    assert changed.status_code == 409
    assert error_of(changed)["code"] == "idempotency_conflict"
    assert db.session.scalars(select(WorkLog.minutes)).all() == [150]


# --- the list ------------------------------------------------------------------------------------


def test_the_list_holds_the_logs_of_ones_households_and_ones_sites(  # type: ignore[no-untyped-def]
    api_as,
    make: Factory,
    programme: Programme,
    worker: tuple[ApiClient, User],
    supervisor: tuple[ApiClient, User],
    head: Member,
    site: WorkSite,
) -> None:
    other_site = make.site(name="Пазар")
    mine = logged(head, site, MONDAY)
    at_other_site = verified(head, other_site, MONDAY + timedelta(days=1))
    stranger = make.active_enrollment(programme)  # not in the worker's caseload
    theirs = logged(stranger.household.members[0], site, MONDAY)
    api, _user = worker
    page = api.get("/work-logs").get_json()
    assert {item["id"] for item in page["items"]} == {mine.id, at_other_site.id}
    assert page["total"] == 2
    assert [i["id"] for i in api.get("/work-logs?status=verified").get_json()["items"]] == [
        at_other_site.id
    ]
    # The site's supervisor sees what was logged at its site, whoever's household it was.
    at_site, _s = supervisor
    assert {i["id"] for i in at_site.get("/work-logs").get_json()["items"]} == {mine.id, theirs.id}
    filtered = at_site.get(f"/work-logs?household_id={stranger.household_id}").get_json()
    assert [i["id"] for i in filtered["items"]] == [theirs.id]
    officer, _o = api_as(Role.OFFICER)  # reads every household of its municipality
    assert officer.get("/work-logs").get_json()["total"] == 3
    far, _f = api_as(Role.COORDINATOR, make.municipality("PRI", "Прилеп"))
    assert far.get("/work-logs").get_json()["total"] == 0
    bad = api.get("/work-logs?status=done")
    assert bad.status_code == 422 and set(error_of(bad)["fields"]) == {"status"}


def test_reading_members_hours_is_written_to_the_access_log(
    worker: tuple[ApiClient, User], head: Member, site: WorkSite, enrollment: Enrollment
) -> None:
    log = logged(head, site)
    api, user = worker
    assert api.get(f"/work-logs?household_id={enrollment.household_id}").status_code == 200
    entry = db.session.scalars(select(AccessRecord)).one()
    assert (entry.user_id, entry.action, entry.household_id) == (
        user.id,
        AccessAction.VIEW_LIST.value,
        enrollment.household_id,
    )
    assert str(log.id) in entry.detail


# --- verify, reject, reverse ---------------------------------------------------------------------


def test_the_sites_supervisor_confirms_hours_once(
    supervisor: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    log_id = logged(head, site).id
    api, user = supervisor
    response = api.post(f"/work-logs/{log_id}/verify")
    assert response.status_code == 200 and response.get_json()["status"] == "verified"
    log = stored(log_id)
    assert (log.status, log.decided_by_id) == (LogStatus.VERIFIED.value, user.id)
    again = api.post(f"/work-logs/{log_id}/verify")
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"


def test_only_the_site_confirms_hours(  # type: ignore[no-untyped-def]
    api_as, make: Factory, worker: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    log_id = logged(head, site).id
    api, _user = worker  # sees the household's logs, does not confirm them
    assert api.post(f"/work-logs/{log_id}/verify").status_code == 403
    assert api.post(f"/work-logs/{log_id}/reject", {"reason": "x"}).status_code == 403
    other_enterprise, _s = api_as(Role.SUPERVISOR)  # neither its household nor its site
    assert other_enterprise.post(f"/work-logs/{log_id}/verify").status_code == 404
    assert other_enterprise.post("/work-logs/999999/verify").status_code == 404
    assert stored(log_id).status == LogStatus.LOGGED.value


def test_rejected_hours_keep_the_reason_for_the_social_worker(
    supervisor: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    log_id = logged(head, site).id
    api, user = supervisor
    blank = api.post(f"/work-logs/{log_id}/reject", {"reason": " "})
    assert blank.status_code == 422 and set(error_of(blank)["fields"]) == {"reason"}
    missing = api.post(f"/work-logs/{log_id}/reject", {})
    assert missing.status_code == 422 and set(error_of(missing)["fields"]) == {"reason"}
    assert stored(log_id).status == LogStatus.LOGGED.value
    response = api.post(f"/work-logs/{log_id}/reject", {"reason": "Не дојде"})
    assert response.status_code == 200
    log = stored(log_id)
    assert (log.status, log.rejection_reason, log.decided_by_id) == (
        "rejected",
        "Не дојде",
        user.id,
    )
    assert api.post(f"/work-logs/{log_id}/verify").status_code == 409


def test_verified_hours_are_reversed_by_a_correcting_entry_once(
    worker: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    log_id = verified(head, site, minutes=120).id
    pending_id = logged(head, site, MONDAY + timedelta(days=1)).id
    api, user = worker  # the household's social worker may correct, as on the pages
    response = api.post(f"/work-logs/{log_id}/reverse", {"reason": "Погрешен датум"})
    assert response.status_code == 201, response.get_json()
    correction = db.session.scalars(select(WorkLog).where(WorkLog.reverses_id == log_id)).one()
    assert (correction.minutes, correction.status, correction.task, correction.logged_by_id) == (
        -120,
        "verified",
        "Погрешен датум",
        user.id,
    )
    out = response.get_json()
    assert (out["id"], out["reverses_id"], out["minutes"]) == (correction.id, log_id, -120)
    original = stored(log_id)
    assert (original.status, original.minutes) == ("verified", 120)  # never edited
    verified_total = db.session.scalar(
        select(func.sum(WorkLog.minutes)).where(WorkLog.status == "verified")
    )
    assert verified_total == 0
    again = api.post(f"/work-logs/{log_id}/reverse", {"reason": "Пак"})
    assert again.status_code == 409
    unverified = api.post(f"/work-logs/{pending_id}/reverse", {"reason": "Грешка"})
    assert unverified.status_code == 409
    assert count(WorkLog, WorkLog.reverses_id.is_not(None)) == 1


def test_a_correction_needs_a_reason_and_the_right_to_correct(  # type: ignore[no-untyped-def]
    api_as, worker: tuple[ApiClient, User], head: Member, site: WorkSite
) -> None:
    log_id = verified(head, site).id
    api, _user = worker
    blank = api.post(f"/work-logs/{log_id}/reverse", {"reason": "  "})
    assert blank.status_code == 422 and set(error_of(blank)["fields"]) == {"reason"}
    officer, _o = api_as(Role.OFFICER)  # sees the household, corrects nothing
    assert officer.post(f"/work-logs/{log_id}/reverse", {"reason": "x"}).status_code == 403
    assert count(WorkLog, WorkLog.reverses_id.is_not(None)) == 0


# --- withdraw ------------------------------------------------------------------------------------


def test_a_social_worker_withdraws_its_own_unverified_log_through_the_api(
    worker: tuple[ApiClient, User],
    supervisor: tuple[ApiClient, User],
    head: Member,
    site: WorkSite,
    enrollment: Enrollment,
) -> None:
    api, user = worker
    log_id = api.post("/work-logs", body(head, site)).get_json()["id"]
    someone_elses = logged(head, site, MONDAY + timedelta(days=1)).id
    assert api.post(f"/work-logs/{someone_elses}/withdraw", {"reason": "x"}).status_code == 403
    sup_api, _sup = supervisor
    assert sup_api.post(f"/work-logs/{log_id}/withdraw", {"reason": "x"}).status_code == 403
    blank = api.post(f"/work-logs/{log_id}/withdraw", {"reason": " "})
    assert blank.status_code == 422 and set(error_of(blank)["fields"]) == {"reason"}
    assert stored(log_id).status == LogStatus.LOGGED.value
    response = api.post(f"/work-logs/{log_id}/withdraw", {"reason": "Погрешно лице"})
    assert response.status_code == 200, response.get_json()
    out = response.get_json()
    assert (out["status"], out["withdrawn_by_id"], out["withdrawal_reason"]) == (
        "withdrawn",
        user.id,
        "Погрешно лице",
    )
    log = stored(log_id)
    assert (log.status, log.withdrawn_by_id, log.withdrawal_reason) == (
        "withdrawn",
        user.id,
        "Погрешно лице",
    )
    assert count(WorkLog) == 2, "a withdrawal never deletes"
    assert api.post(f"/work-logs/{log_id}/withdraw", {"reason": "again"}).status_code == 409
    assert sup_api.post(f"/work-logs/{log_id}/verify").status_code == 409
    listed = api.get(f"/work-logs?household_id={enrollment.household_id}&status=withdrawn")
    assert [item["id"] for item in listed.get_json()["items"]] == [log_id]


def test_verified_hours_cannot_be_withdrawn_through_the_api(
    worker: tuple[ApiClient, User],
    supervisor: tuple[ApiClient, User],
    head: Member,
    site: WorkSite,
) -> None:
    api, _user = worker
    log_id = api.post("/work-logs", body(head, site)).get_json()["id"]
    sup_api, _sup = supervisor
    assert sup_api.post(f"/work-logs/{log_id}/verify").status_code == 200
    refused = api.post(f"/work-logs/{log_id}/withdraw", {"reason": "Погрешно"})
    assert refused.status_code == 409 and "decided already" in error_of(refused)["message"]
    assert stored(log_id).status == LogStatus.VERIFIED.value

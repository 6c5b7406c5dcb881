"""API: a household's balance (the figures a balance check would store) and running a check on
demand, once per programme and day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from casework.audit.models import AccessAction, AccessRecord, AuditEvent
from casework.balances.models import BalanceRun, BalanceSnapshot
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.programmes.models import Programme
from casework.security.models import Role
from casework.work import services as work_services
from tests.conftest import TODAY, Factory, count

MONDAY = date(2022, 1, 10)


@pytest.fixture
def enrollment(make: Factory, programme: Programme) -> Enrollment:
    """Active since 01.12.2021, 100 hours owed; 3 h 30 verified and 1 h logged, not verified."""
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment, 10_000_00)
    coordinator = make.coordinator(make.municipality())
    head, site = enrollment.household.members[0], make.site()
    verified = work_services.log_work(
        coordinator,
        head,
        site,
        work_services.Shift(MONDAY, 8 * 60, 11 * 60 + 30),
        "Парк",
        today=TODAY,
    )
    work_services.verify(coordinator, verified, today=TODAY)
    work_services.log_work(
        coordinator,
        head,
        site,
        work_services.Shift(MONDAY + timedelta(days=1), None, None, 60),
        "Парк",
        today=TODAY,
    )
    return enrollment


# --- a household's balance ---------------------------------------------------------------------


def test_the_balance_is_what_the_balance_check_stores_for_the_same_day(
    api_as,
    enrollment: Enrollment,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    household = enrollment.household
    response = api.get(f"/households/{household.id}/balance")
    assert response.status_code == 200
    balance = response.get_json()
    today = date.today()
    # The hours were due within the programme's deadline after 01.12.2021: long past today.
    assert balance == {
        "owed_minutes": 6000,
        "verified_minutes": 210,
        "pending_minutes": 60,
        "remaining_minutes": 5790,
        "expected_minutes": 6000,
        "status": "overdue",
        "as_of": today.isoformat(),
    }
    run = api.post(f"/programmes/{programme.id}/balance-checks", {}).get_json()
    snapshot = db.session.scalar(
        select(BalanceSnapshot).where(
            BalanceSnapshot.run_id == run["id"], BalanceSnapshot.household_id == household.id
        )
    )
    assert snapshot is not None
    assert (
        snapshot.owed,
        snapshot.verified,
        snapshot.pending,
        snapshot.expected,
        snapshot.status,
    ) == (
        balance["owed_minutes"],
        balance["verified_minutes"],
        balance["pending_minutes"],
        balance["expected_minutes"],
        balance["status"],
    )


def test_a_household_that_owes_nothing_has_no_obligation(
    api_as,
    make: Factory,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    api, _ = api_as(Role.OFFICER)
    balance = api.get(f"/households/{household.id}/balance").get_json()
    assert (balance["owed_minutes"], balance["expected_minutes"], balance["status"]) == (
        0,
        0,
        "no_obligation",
    )


def test_reading_a_balance_is_in_the_access_log(
    api_as,
    enrollment: Enrollment,  # type: ignore[no-untyped-def]
) -> None:
    api, officer = api_as(Role.OFFICER)
    household = enrollment.household
    assert api.get(f"/households/{household.id}/balance").status_code == 200
    [seen] = db.session.scalars(
        select(AccessRecord).where(AccessRecord.user_id == officer.id)
    ).all()
    assert (seen.action, seen.household_id) == (AccessAction.VIEW_MONEY.value, household.id)


def test_the_households_own_social_worker_reads_its_balance(
    api_as,
    enrollment: Enrollment,  # type: ignore[no-untyped-def]
) -> None:
    api, worker = api_as(Role.SOCIAL_WORKER)
    enrollment.household.assigned_worker_id = worker.id
    assert api.get(f"/households/{enrollment.household_id}/balance").status_code == 200


def test_a_balance_outside_the_callers_scope_is_a_404(
    api_as,
    make: Factory,
    enrollment: Enrollment,  # type: ignore[no-untyped-def]
) -> None:
    household_id = enrollment.household_id
    outsider, _ = api_as(Role.COORDINATOR, make.municipality("OHR", "Охрид"))
    not_her_caseload, _ = api_as(Role.SOCIAL_WORKER)
    auditor, _ = api_as(Role.AUDITOR)  # figures without names, never a family's
    for api in (outsider, not_her_caseload, auditor):
        assert api.get(f"/households/{household_id}/balance").status_code == 404
    assert outsider.get(f"/households/{household_id + 1000}/balance").status_code == 404
    assert count(AccessRecord) == 0


# --- running a check ---------------------------------------------------------------------------


def test_a_coordinator_runs_a_check_and_asking_again_returns_the_same_run(
    api_as,
    enrollment: Enrollment,
    programme: Programme,
    make: Factory,  # type: ignore[no-untyped-def]
) -> None:
    make.active_enrollment(programme)  # a second family, owing nothing yet
    api, caller = api_as(Role.COORDINATOR)
    url = f"/programmes/{programme.id}/balance-checks"
    first = api.post(url, {"as_of": "2022-01-17"})
    assert first.status_code == 201, first.get_json()
    run = first.get_json()
    assert (run["programme_id"], run["as_of"], run["households"], run["errors"]) == (
        programme.id,
        "2022-01-17",
        2,
        [],
    )
    assert run["counts"] == {
        "no_obligation": 1,
        "completed": 0,
        "on_track": 0,
        "behind": 1,  # 47 days into 180: about 26 hours expected, 3 h 30 verified
        "overdue": 0,
    }
    stored = db.session.get(BalanceRun, run["id"])
    assert stored is not None and stored.as_of == date(2022, 1, 17)
    assert count(BalanceSnapshot) == 2
    started = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "balance_check.run", AuditEvent.entity_id == run["id"]
        )
    )
    assert started is not None and started.actor_id == caller.id  # the API's caller started it
    assert started.changes["started_by"] == "user"
    again = api.post(url, {"as_of": "2022-01-17"})
    assert again.status_code == 200
    assert again.get_json() == run
    assert (count(BalanceRun), count(BalanceSnapshot)) == (1, 2)


def test_a_check_without_a_date_checks_today(
    api_as,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    response = api.post(f"/programmes/{programme.id}/balance-checks")
    assert response.status_code == 201
    assert response.get_json()["as_of"] == date.today().isoformat()


def test_a_check_dated_in_the_future_is_a_422_on_as_of(
    api_as,
    programme: Programme,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(Role.COORDINATOR)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = api.post(f"/programmes/{programme.id}/balance-checks", {"as_of": tomorrow})
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["as_of"]
    assert count(BalanceRun) == 0


def test_a_malformed_date_is_a_422_on_as_of(api_as, programme: Programme) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_as(Role.COORDINATOR)
    response = api.post(f"/programmes/{programme.id}/balance-checks", {"as_of": "17.01.2022"})
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["as_of"]


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.ADMIN, 201),
        (Role.OFFICER, 403),
        (Role.AUDITOR, 403),
        (Role.SOCIAL_WORKER, 404),
        (Role.SUPERVISOR, 404),
    ],
)
def test_who_may_run_a_check_is_who_may_on_the_checks_page(
    api_as,
    make: Factory,
    programme: Programme,
    role: Role,
    status: int,  # type: ignore[no-untyped-def]
) -> None:
    api, _ = api_as(role, make.municipality())
    response = api.post(f"/programmes/{programme.id}/balance-checks", {"as_of": "2022-01-17"})
    assert response.status_code == status
    assert count(BalanceRun) == (1 if status == 201 else 0)


def test_a_programme_of_another_municipality_is_a_404(
    api_as,
    make: Factory,  # type: ignore[no-untyped-def]
) -> None:
    theirs = make.programme(municipality=make.municipality("OHR", "Охрид"))
    api, _ = api_as(Role.COORDINATOR)
    for programme_id in (theirs.id, theirs.id + 1000):
        response = api.post(f"/programmes/{programme_id}/balance-checks", {"as_of": "2022-01-17"})
        assert response.status_code == 404
    assert count(BalanceRun) == 0


def test_the_document_says_a_balance_check_needs_no_body_as_the_operation_takes_none(
    client,  # type: ignore[no-untyped-def]
) -> None:
    """Every field of a check is optional and a request with no body runs it as of today;
    the document called the body required (schemathesis's negative_data_rejection saw a
    bodiless request answered 201)."""
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/programmes/{programme_id}/balance-checks"]["post"]
    assert operation["requestBody"].get("required", False) is False

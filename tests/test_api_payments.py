"""The API's money operations: creditors, accounts, statements, payment requests and every step
of a request, each checked in the database, with each refusal the pages give (403, 404),
the services' state conflicts (409) and validation (422), and idempotent approvals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from casework.api.services import create_token
from casework.enrollment import services as enrollment_services
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.payments import services
from casework.payments.models import (
    Approval,
    Arrear,
    Obligation,
    Payment,
    PaymentRequest,
    PaymentReversal,
    RequestStatus,
    UtilityAccount,
)
from casework.programmes.models import Programme
from casework.security.models import Role, User
from casework.security.services import RoleGrant, create_user
from tests.conftest import PASSWORD, TODAY, ApiClient, Factory, count, error_of


@pytest.fixture(autouse=True)
def _api_today(today_is: Callable[[date], None]) -> None:
    today_is(TODAY)


def submitted(
    coordinator: User, enrollment: Enrollment, arrear: Arrear, amount: int = 20_000_00
) -> PaymentRequest:
    request = services.create_request(coordinator, enrollment, arrear, amount, "", today=TODAY)
    services.submit(coordinator, request, today=TODAY)
    return request


def approved(
    coordinator: User, officer: User, enrollment: Enrollment, arrear: Arrear
) -> PaymentRequest:
    request = submitted(coordinator, enrollment, arrear)
    services.approve(officer, request, today=TODAY)
    return request


def stored(request_id: int) -> PaymentRequest:
    db.session.expire_all()
    found = db.session.get(PaymentRequest, request_id)
    assert found is not None
    return found


def raw_post(api: ApiClient, url: str, data: str) -> Any:
    db.session.commit()
    return api.http.post(
        "/api/v1" + url,
        data=data,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )


# --- creditors, accounts, statements ------------------------------------------------------------


def test_creditors_are_listed_by_name_in_pages(api_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    for name in ("Vodovod", "EVN Home", "Komunalec"):
        make.creditor(name)
    api, _user = api_as(Role.COORDINATOR)
    response = api.get("/creditors?per_page=2")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["total"], body["pages"], body["page"]) == (3, 2, 1)
    assert [c["name"] for c in body["items"]] == ["EVN Home", "Komunalec"]


def test_the_api_lists_and_takes_only_the_creditors_of_the_users_municipalities(  # type: ignore[no-untyped-def]
    api_as, make: Factory, enrollment: Enrollment
) -> None:
    kicevo, gostivar = enrollment.household.municipality, make.municipality("GOS", "Гостивар")
    make.creditor("EVN Home")
    make.creditor("Komunalec Kicevo", kicevo)
    foreign = make.creditor("Vodovod Gostivar", gostivar)
    api, _user = api_as(Role.COORDINATOR, kicevo)
    body = api.get("/creditors?per_page=100").get_json()
    listed = [c["name"] for c in body["items"]]
    assert {"EVN Home", "Komunalec Kicevo"} <= set(listed) and "Vodovod Gostivar" not in listed
    assert body["total"] == len(listed)
    refused = api.post(
        f"/households/{enrollment.household_id}/accounts",
        {"creditor_id": foreign.id, "customer_number": "GV-1"},
    )
    assert refused.status_code == 422
    assert set(error_of(refused)["fields"]) == {"creditor_id"}
    assert count(UtilityAccount) == 0
    theirs, _other = api_as(Role.COORDINATOR, gostivar)
    assert "Vodovod Gostivar" in [c["name"] for c in theirs.get("/creditors").get_json()["items"]]


def test_a_coordinator_opens_an_account_and_records_a_statement(  # type: ignore[no-untyped-def]
    api_as, make: Factory, enrollment: Enrollment
) -> None:
    api, user = api_as(Role.COORDINATOR)
    evn = make.creditor("EVN Home")
    response = api.post(
        f"/households/{enrollment.household_id}/accounts",
        {"creditor_id": evn.id, "customer_number": " 4401-778 "},
    )
    assert response.status_code == 201, response.get_json()
    account = db.session.scalars(select(UtilityAccount)).one()
    assert (account.household_id, account.creditor_id, account.customer_number) == (
        enrollment.household_id,
        evn.id,
        "4401-778",
    )
    assert account.created_by_id == user.id
    assert response.get_json() | {"id": 0} == {
        "id": 0,
        "household_id": enrollment.household_id,
        "creditor_id": evn.id,
        "creditor": "EVN Home",
        "customer_number": "4401-778",
    }
    statement = {
        "period_from": "2020-11-01",
        "period_to": "2021-10-31",
        "principal_deni": 40_000_00,
        "penalty_deni": 2_500_00,
        "statement_ref": "Опомена 17/2021",
        "received_on": "2021-11-15",
    }
    response = api.post(f"/accounts/{account.id}/arrears", statement)
    assert response.status_code == 201, response.get_json()
    arrear = db.session.scalars(select(Arrear)).one()
    assert (arrear.account_id, arrear.principal_deni, arrear.penalty_deni) == (
        account.id,
        40_000_00,
        2_500_00,
    )
    assert (arrear.period_from, arrear.received_on) == (date(2020, 11, 1), date(2021, 11, 15))
    assert response.get_json()["total_deni"] == 42_500_00


def test_an_account_needs_an_existing_creditor_and_a_customer_number_not_taken(  # type: ignore[no-untyped-def]
    api_as, make: Factory, enrollment: Enrollment, arrear: Arrear
) -> None:
    api, _user = api_as(Role.COORDINATOR)
    url = f"/households/{enrollment.household_id}/accounts"
    unknown = api.post(url, {"creditor_id": 999_999, "customer_number": "1"})
    assert unknown.status_code == 422
    assert set(error_of(unknown)["fields"]) == {"creditor_id"}
    taken = api.post(
        url,
        {
            "creditor_id": arrear.account.creditor_id,
            "customer_number": arrear.account.customer_number,
        },
    )
    assert taken.status_code == 422
    assert set(error_of(taken)["fields"]) == {"customer_number"}
    missing = api.post(url, {"creditor_id": arrear.account.creditor_id})
    assert missing.status_code == 422
    assert set(error_of(missing)["fields"]) == {"customer_number"}
    assert count(UtilityAccount) == 1


def test_a_statement_the_service_refuses_names_the_apis_field(  # type: ignore[no-untyped-def]
    api_as, arrear: Arrear
) -> None:
    api, _user = api_as(Role.COORDINATOR)
    url = f"/accounts/{arrear.account_id}/arrears"
    good = {
        "period_from": "2020-11-01",
        "period_to": "2021-10-31",
        "principal_deni": 1_000_00,
        "penalty_deni": 0,
        "statement_ref": "Опомена 18/2021",
        "received_on": "2021-11-15",
    }
    cases = {
        "period_to": good | {"period_to": "2020-10-01"},
        "principal_deni": good | {"principal_deni": 0},
        "penalty_deni": good | {"penalty_deni": -1},
        "received_on": good | {"received_on": (TODAY + timedelta(days=1)).isoformat()},
        "statement_ref": {k: v for k, v in good.items() if k != "statement_ref"},
    }
    for field, body in cases.items():
        response = api.post(url, body)
        assert response.status_code == 422, (field, response.get_json())
        assert field in error_of(response)["fields"], (field, response.get_json())
    assert count(Arrear) == 1


def test_money_is_an_integer_of_deni_never_a_fraction(api_as, arrear: Arrear) -> None:  # type: ignore[no-untyped-def]
    api, _user = api_as(Role.COORDINATOR)
    response = api.post("/payment-requests", {"arrear_id": arrear.id, "amount_deni": 100.5})
    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"amount_deni"}
    assert count(PaymentRequest) == 0


def test_malformed_json_is_a_400_and_records_nothing(  # type: ignore[no-untyped-def]
    api_as, enrollment: Enrollment
) -> None:
    api, _user = api_as(Role.COORDINATOR)
    response = raw_post(api, f"/households/{enrollment.household_id}/accounts", '{"creditor_id": ')
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"
    assert count(UtilityAccount) == 0


def test_only_the_households_coordinators_record_debts(  # type: ignore[no-untyped-def]
    api_as, make: Factory, enrollment: Enrollment, arrear: Arrear
) -> None:
    household_id = enrollment.household_id
    account = {"creditor_id": make.creditor("ЈКП Комуналец").id, "customer_number": "77"}
    statement = {
        "period_from": "2020-11-01",
        "period_to": "2021-10-31",
        "principal_deni": 1_000_00,
        "statement_ref": "Опомена 19/2021",
        "received_on": "2021-11-15",
    }
    officer, _o = api_as(Role.OFFICER)  # sees the household, decides payments, records nothing
    assert officer.post(f"/households/{household_id}/accounts", account).status_code == 403
    assert officer.post(f"/accounts/{arrear.account_id}/arrears", statement).status_code == 403
    request = {"arrear_id": arrear.id, "amount_deni": 1_000_00}
    assert officer.post("/payment-requests", request).status_code == 403
    worker, worker_user = api_as(Role.SOCIAL_WORKER)
    enrollment.household.assigned_worker_id = worker_user.id
    assert worker.post(f"/households/{household_id}/accounts", account).status_code == 403
    elsewhere, _c = api_as(Role.COORDINATOR, make.municipality("PRI", "Прилеп"))
    assert elsewhere.post(f"/households/{household_id}/accounts", account).status_code == 404
    assert elsewhere.post(f"/accounts/{arrear.account_id}/arrears", statement).status_code == 404
    assert elsewhere.post("/payment-requests", request).status_code == 404
    assert elsewhere.post("/households/999999/accounts", account).status_code == 404
    assert (count(UtilityAccount), count(Arrear), count(PaymentRequest)) == (1, 1, 0)


# --- payment requests ----------------------------------------------------------------------------


def test_a_request_is_a_draft_of_the_households_active_enrollment(  # type: ignore[no-untyped-def]
    api_as, enrollment: Enrollment, arrear: Arrear
) -> None:
    api, user = api_as(Role.COORDINATOR)
    response = api.post(
        "/payment-requests",
        {"arrear_id": arrear.id, "amount_deni": 20_000_00, "justification": "Исклучена струја"},
    )
    assert response.status_code == 201, response.get_json()
    request = db.session.scalars(select(PaymentRequest)).one()
    assert (request.enrollment_id, request.arrear_id, request.amount_deni) == (
        enrollment.id,
        arrear.id,
        20_000_00,
    )
    assert (request.status, request.created_by_id) == ("draft", user.id)
    body = response.get_json()
    assert body["id"] == request.id and body["status"] == "draft"
    assert body["household_id"] == enrollment.household_id
    assert (body["approvals_count"], body["payment"], body["approvals"]) == (0, None, [])


def test_a_request_for_more_than_is_outstanding_names_amount_deni(  # type: ignore[no-untyped-def]
    api_as, arrear: Arrear
) -> None:
    api, _user = api_as(Role.COORDINATOR)
    response = api.post("/payment-requests", {"arrear_id": arrear.id, "amount_deni": 42_500_01})
    assert response.status_code == 422
    error = error_of(response)
    assert set(error["fields"]) == {"amount_deni"} and "can still be requested" in error["message"]
    assert count(PaymentRequest) == 0


def test_a_request_without_an_active_enrollment_is_a_conflict(  # type: ignore[no-untyped-def]
    api_as, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    enrollment_services.withdraw(coordinator, enrollment, on=TODAY, reason="Се отсели", today=TODAY)
    api, _user = api_as(Role.COORDINATOR)
    response = api.post("/payment-requests", {"arrear_id": arrear.id, "amount_deni": 1_000_00})
    assert response.status_code == 409
    assert count(PaymentRequest) == 0


def test_a_request_of_an_unknown_debt_is_not_found(api_as) -> None:  # type: ignore[no-untyped-def]
    api, _user = api_as(Role.COORDINATOR)
    response = api.post("/payment-requests", {"arrear_id": 999_999, "amount_deni": 1_000_00})
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_the_list_holds_the_requests_of_the_households_the_caller_sees(  # type: ignore[no-untyped-def]
    api_as, make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    draft = services.create_request(coordinator, enrollment, arrear, 1_000_00, "", today=TODAY)
    sent = submitted(coordinator, enrollment, arrear, 2_000_00)
    elsewhere = make.submitted_request()  # its own programme, in the same municipality
    worker, worker_user = api_as(Role.SOCIAL_WORKER)
    enrollment.household.assigned_worker_id = worker_user.id
    officer, _o = api_as(Role.OFFICER)
    assert {r["id"] for r in officer.get("/payment-requests").get_json()["items"]} == {
        draft.id,
        sent.id,
        elsewhere.id,
    }
    only_sent = officer.get("/payment-requests?status=submitted").get_json()
    assert [r["id"] for r in only_sent["items"]] == [elsewhere.id, sent.id]  # newest first
    assert only_sent["total"] == 2
    # A social worker sees its caseload's requests only; another municipality's officer none.
    assert {r["id"] for r in worker.get("/payment-requests").get_json()["items"]} == {
        draft.id,
        sent.id,
    }
    stranger, _s = api_as(Role.OFFICER, make.municipality("PRI", "Прилеп"))
    assert stranger.get("/payment-requests").get_json()["total"] == 0
    bad = officer.get("/payment-requests?status=paid-twice")
    assert bad.status_code == 422 and set(error_of(bad)["fields"]) == {"status"}


def test_one_request_is_found_only_within_the_callers_scope(  # type: ignore[no-untyped-def]
    api_as, make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = submitted(coordinator, enrollment, arrear)
    officer, _o = api_as(Role.OFFICER)
    response = officer.get(f"/payment-requests/{request.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["amount_deni"], body["approvals_needed"]) == (
        "submitted",
        20_000_00,
        1,
    )
    stranger, _s = api_as(Role.OFFICER, make.municipality("PRI", "Прилеп"))
    assert stranger.get(f"/payment-requests/{request.id}").status_code == 404
    assert stranger.post(f"/payment-requests/{request.id}/approve").status_code == 404
    assert officer.get("/payment-requests/999999").status_code == 404
    supervisor, _v = api_as(Role.SUPERVISOR)
    assert supervisor.get(f"/payment-requests/{request.id}").status_code == 404
    assert count(Approval) == 0


def test_a_request_goes_from_draft_to_paid_to_reversed_through_the_api(  # type: ignore[no-untyped-def]
    api_as, programme: Programme, arrear: Arrear
) -> None:
    maker, _c = api_as(Role.COORDINATOR)
    checker, officer = api_as(Role.OFFICER)
    created = maker.post("/payment-requests", {"arrear_id": arrear.id, "amount_deni": 20_000_00})
    request_id = created.get_json()["id"]

    response = maker.post(f"/payment-requests/{request_id}/submit")
    assert response.status_code == 200 and response.get_json()["status"] == "submitted"
    assert stored(request_id).status == "submitted"

    response = checker.post(f"/payment-requests/{request_id}/approve")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["approvals_count"]) == ("approved", 1)
    assert body["approvals"] == [
        {"officer_id": officer.id, "round": 1, "approved_on": TODAY.isoformat()}
    ]
    assert db.session.scalars(select(Approval.officer_id)).all() == [officer.id]
    assert stored(request_id).approved_on == TODAY
    db.session.refresh(programme)
    assert programme.committed_deni == 20_000_00

    response = checker.post(
        f"/payment-requests/{request_id}/payment",
        {"paid_on": TODAY.isoformat(), "reference": "Извод 9", "amount_deni": 20_000_00},
    )
    assert response.status_code == 200, response.get_json()
    payment = db.session.scalars(select(Payment)).one()
    assert (payment.request_id, payment.amount_deni, payment.reference) == (
        request_id,
        20_000_00,
        "Извод 9",
    )
    assert db.session.scalars(select(Obligation.minutes)).one() == 200 * 60  # 100 ден. an hour
    body = response.get_json()
    assert body["status"] == "paid"
    assert body["payment"] | {"id": 0} == {
        "id": 0,
        "paid_on": TODAY.isoformat(),
        "reference": "Извод 9",
        "amount_deni": 20_000_00,
        "obligation_minutes": 200 * 60,
        "reversal": None,
    }

    response = checker.post(f"/payment-requests/{request_id}/reverse", {"reason": "Двојно"})
    assert response.status_code == 200, response.get_json()
    reversal = db.session.scalars(select(PaymentReversal)).one()
    assert (reversal.payment_id, reversal.reason, reversal.reversed_on) == (
        payment.id,
        "Двојно",
        TODAY,  # left out: the day of the call
    )
    assert stored(request_id).status == "reversed"
    assert response.get_json()["payment"]["reversal"] == {
        "reversed_on": TODAY.isoformat(),
        "reason": "Двојно",
    }
    db.session.refresh(programme)
    assert programme.committed_deni == 0


def test_an_officer_rejects_with_a_reason_that_goes_back_to_the_maker(  # type: ignore[no-untyped-def]
    api_as, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request_id = submitted(coordinator, enrollment, arrear).id
    api, _o = api_as(Role.OFFICER)
    missing = api.post(f"/payment-requests/{request_id}/reject", {})
    assert missing.status_code == 422 and set(error_of(missing)["fields"]) == {"reason"}
    blank = api.post(f"/payment-requests/{request_id}/reject", {"reason": "  "})
    assert blank.status_code == 422 and set(error_of(blank)["fields"]) == {"reason"}
    assert stored(request_id).status == "submitted"
    response = api.post(f"/payment-requests/{request_id}/reject", {"reason": "Нема уплатница"})
    assert response.status_code == 200
    request = stored(request_id)
    assert (request.status, request.rejection_reason) == ("rejected", "Нема уплатница")
    assert response.get_json()["rejection_reason"] == "Нема уплатница"
    again = api.post(f"/payment-requests/{request_id}/reject", {"reason": "Пак"})
    assert again.status_code == 409
    assert stored(request_id).rejection_reason == "Нема уплатница"


def test_makers_and_checkers_keep_to_their_own_steps(  # type: ignore[no-untyped-def]
    api_as, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    draft = services.create_request(coordinator, enrollment, arrear, 1_000_00, "", today=TODAY)
    request_id = submitted(coordinator, enrollment, arrear, 2_000_00).id
    maker, _c = api_as(Role.COORDINATOR)
    checker, _o = api_as(Role.OFFICER)
    assert maker.post(f"/payment-requests/{request_id}/approve").status_code == 403
    assert maker.post(f"/payment-requests/{request_id}/reject", {"reason": "x"}).status_code == 403
    assert checker.post(f"/payment-requests/{draft.id}/submit").status_code == 403
    payment = {"paid_on": TODAY.isoformat(), "reference": "Извод 1", "amount_deni": 2_000_00}
    assert maker.post(f"/payment-requests/{request_id}/payment", payment).status_code == 403
    assert (stored(draft.id).status, stored(request_id).status) == ("draft", "submitted")
    assert count(Approval) == 0


def test_approving_an_approved_request_is_a_conflict(  # type: ignore[no-untyped-def]
    api_as, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request_id = submitted(coordinator, enrollment, arrear).id
    first, _o1 = api_as(Role.OFFICER)
    second, _o2 = api_as(Role.OFFICER)
    assert first.post(f"/payment-requests/{request_id}/approve").status_code == 200
    response = second.post(f"/payment-requests/{request_id}/approve")
    assert response.status_code == 409 and error_of(response)["code"] == "conflict"
    assert count(Approval) == 1
    assert stored(request_id).approvals_count == 1


def test_one_officer_approving_twice_records_one_approval(  # type: ignore[no-untyped-def]
    api_as, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request_id = submitted(coordinator, enrollment, arrear, 30_000_00).id  # two approvals needed
    api, officer = api_as(Role.OFFICER)
    response = api.post(f"/payment-requests/{request_id}/approve")
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["approvals_count"]) == (
        "submitted",
        1,
    )
    again = api.post(f"/payment-requests/{request_id}/approve")
    assert again.status_code == 409
    assert "second officer" in error_of(again)["message"]
    assert db.session.scalars(select(Approval.officer_id)).all() == [officer.id]
    request = stored(request_id)
    assert (request.status, request.approvals_count) == ("submitted", 1)
    other, _o2 = api_as(Role.OFFICER)
    assert other.post(f"/payment-requests/{request_id}/approve").get_json()["status"] == "approved"
    assert count(Approval) == 2


def test_a_maker_who_is_also_an_officer_may_not_approve_its_own_request(
    app: Flask, make: Factory, enrollment: Enrollment, arrear: Arrear
) -> None:
    """The service refuses it as a permission (403), not as a state conflict."""
    place = make.municipality()
    both = create_user(
        None,
        "maker-and-checker",
        "Maker and checker",
        PASSWORD,
        [RoleGrant(Role.COORDINATOR, place, None), RoleGrant(Role.OFFICER, place, None)],
        locale="en",
    )
    _token, secret = create_token(both, both, "tests")
    api = ApiClient(app.test_client(), secret)
    request_id = api.post(
        "/payment-requests", {"arrear_id": arrear.id, "amount_deni": 1_000_00}
    ).get_json()["id"]
    assert api.post(f"/payment-requests/{request_id}/submit").status_code == 200
    response = api.post(f"/payment-requests/{request_id}/approve")
    assert response.status_code == 403
    assert "another officer must approve" in error_of(response)["message"]
    assert count(Approval) == 0
    assert stored(request_id).status == "submitted"


def test_an_approval_sent_again_with_its_key_is_answered_once(  # type: ignore[no-untyped-def]
    api_as, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request_id = submitted(coordinator, enrollment, arrear, 30_000_00).id  # two approvals needed
    other_id = submitted(coordinator, enrollment, arrear, 1_000_00).id
    api, _officer = api_as(Role.OFFICER)
    url = f"/payment-requests/{request_id}/approve"
    first = api.post(url, Idempotency_Key="approve-1")
    assert first.status_code == 200
    replay = api.post(url, Idempotency_Key="approve-1")
    assert replay.status_code == 200
    assert replay.get_json() == first.get_json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert count(Approval) == 1  # and not the 409 a second approval would have been
    assert stored(request_id).approvals_count == 1
    # The same key for another request is a different request: refused, nothing approved.
    elsewhere = api.post(f"/payment-requests/{other_id}/approve", Idempotency_Key="approve-1")
    assert elsewhere.status_code == 409
    assert error_of(elsewhere)["code"] == "idempotency_conflict"
    assert count(Approval, Approval.request_id == other_id) == 0
    assert stored(other_id).status == RequestStatus.SUBMITTED.value


def test_a_payment_is_at_most_the_approved_amount_and_never_in_the_future(  # type: ignore[no-untyped-def]
    api_as, make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request_id = approved(coordinator, make.user(Role.OFFICER), enrollment, arrear).id
    api, _o = api_as(Role.OFFICER)
    url = f"/payment-requests/{request_id}/payment"
    good = {"paid_on": TODAY.isoformat(), "reference": "Извод 3", "amount_deni": 20_000_00}
    too_much = api.post(url, good | {"amount_deni": 20_000_01})
    assert too_much.status_code == 422 and set(error_of(too_much)["fields"]) == {"amount_deni"}
    future = api.post(url, good | {"paid_on": (TODAY + timedelta(days=1)).isoformat()})
    assert future.status_code == 422 and set(error_of(future)["fields"]) == {"paid_on"}
    no_ref = api.post(url, good | {"reference": " "})
    assert no_ref.status_code == 422 and set(error_of(no_ref)["fields"]) == {"reference"}
    assert count(Payment) == 0 and stored(request_id).status == "approved"
    assert api.post(url, good | {"amount_deni": 15_000_00}).status_code == 200
    assert db.session.scalars(select(Payment.amount_deni)).one() == 15_000_00
    twice = api.post(url, good)
    assert twice.status_code == 409
    assert count(Payment) == 1


def test_only_a_recorded_payment_is_reversed_and_only_once(  # type: ignore[no-untyped-def]
    api_as, make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request_id = approved(coordinator, make.user(Role.OFFICER), enrollment, arrear).id
    api, _o = api_as(Role.OFFICER)
    url = f"/payment-requests/{request_id}/reverse"
    unpaid = api.post(url, {"reason": "Грешка"})
    assert unpaid.status_code == 409
    paid = {"paid_on": TODAY.isoformat(), "reference": "Извод 4", "amount_deni": 20_000_00}
    assert api.post(f"/payment-requests/{request_id}/payment", paid).status_code == 200
    early = api.post(url, {"reason": "Грешка", "reversed_on": "2021-12-31"})
    assert early.status_code == 422 and set(error_of(early)["fields"]) == {"reversed_on"}
    no_reason = api.post(url, {"reason": ""})
    assert no_reason.status_code == 422 and set(error_of(no_reason)["fields"]) == {"reason"}
    assert count(PaymentReversal) == 0
    assert api.post(url, {"reason": "Грешка", "reversed_on": TODAY.isoformat()}).status_code == 200
    again = api.post(url, {"reason": "Пак"})
    assert again.status_code == 409
    assert db.session.scalars(select(PaymentReversal.reason)).all() == ["Грешка"]


def test_a_statement_with_several_mistakes_lists_all_of_them_in_one_envelope(  # type: ignore[no-untyped-def]
    api_as, arrear: Arrear, today_is
) -> None:
    today_is(TODAY)
    api, _user = api_as(Role.COORDINATOR)
    body = {
        "period_from": "2021-10-31",
        "period_to": "2020-11-01",
        "principal_deni": 1_000_00,
        "penalty_deni": -1,
        "statement_ref": " ",
        "received_on": (TODAY + timedelta(days=1)).isoformat(),
    }
    response = api.post(f"/accounts/{arrear.account_id}/arrears", body)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"period_to", "received_on", "penalty_deni", "statement_ref"}
    assert error["fields"]["received_on"] == "The date cannot be in the future."
    for message in error["fields"].values():
        assert message in error["message"]
    assert count(Arrear) == 1  # the fixture's only


def test_an_amount_above_the_bound_is_a_422_on_its_field(  # type: ignore[no-untyped-def]
    api_as, arrear: Arrear
) -> None:
    api, _user = api_as(Role.COORDINATOR)
    body = {
        "period_from": "2020-11-01",
        "period_to": "2021-10-31",
        "principal_deni": 1_000_000_000_000,
        "statement_ref": "Опомена 19/2021",
        "received_on": "2021-11-15",
    }
    response = api.post(f"/accounts/{arrear.account_id}/arrears", body)
    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"principal_deni"}
    assert "Too large" in error_of(response)["fields"]["principal_deni"]
    request = api.post("/payment-requests", {"arrear_id": arrear.id, "amount_deni": 10**10})
    assert request.status_code == 422 and set(error_of(request)["fields"]) == {"amount_deni"}
    assert count(Arrear) == 1 and count(PaymentRequest) == 0


def _statement_body(arrear: Arrear, **changes: Any) -> dict[str, Any]:
    return {
        "period_from": arrear.period_from.isoformat(),
        "period_to": arrear.period_to.isoformat(),
        "principal_deni": arrear.principal_deni,
        "penalty_deni": arrear.penalty_deni,
        "statement_ref": arrear.statement_ref,
        "received_on": arrear.received_on.isoformat(),
    } | changes


def test_the_api_stores_a_statement_once(  # type: ignore[no-untyped-def]
    api_as, arrear: Arrear
) -> None:
    api, _user = api_as(Role.COORDINATOR)
    again = api.post(f"/accounts/{arrear.account_id}/arrears", _statement_body(arrear))
    assert again.status_code == 422
    error = error_of(again)
    assert set(error["fields"]) == {"statement_ref"}
    assert (
        f"Statement {arrear.statement_ref} is already recorded"
        in str(error["fields"]["statement_ref"])  # one message, or a list of them
    )
    assert count(Arrear) == 1


def test_the_api_voids_and_replaces_a_statement_and_refuses_one_with_a_standing_request(  # type: ignore[no-untyped-def]
    api_as, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    api, user = api_as(Role.COORDINATOR)
    request = submitted(coordinator, enrollment, arrear, 5_000_00)
    refused = api.post(f"/arrears/{arrear.id}/void", {"reason": "Погрешен износ"})
    assert refused.status_code == 409
    assert f"payment request #{request.id}" in error_of(refused)["message"]
    assert db.session.get_one(Arrear, arrear.id).voided_on is None
    wrong = services.record_arrear(
        coordinator,
        arrear.account,
        services.ArrearData(
            arrear.period_from, arrear.period_to, 196_805_00, 0, "EVN-777/2026", arrear.received_on
        ),
        today=TODAY,
    )
    no_reason = api.post(f"/arrears/{wrong.id}/replace", _statement_body(wrong) | {"reason": ""})
    assert no_reason.status_code == 422 and set(error_of(no_reason)["fields"]) == {"reason"}
    bad = api.post(
        f"/arrears/{wrong.id}/replace",
        _statement_body(wrong, principal_deni=-1) | {"reason": "Една нула повеќе"},
    )
    assert bad.status_code == 422 and set(error_of(bad)["fields"]) == {"principal_deni"}
    replaced = api.post(
        f"/arrears/{wrong.id}/replace",
        _statement_body(wrong, principal_deni=19_680_50) | {"reason": "Една нула повеќе"},
    )
    assert replaced.status_code == 201, replaced.get_json()
    body = replaced.get_json()
    assert (body["replaces_id"], body["total_deni"], body["voided_on"]) == (
        wrong.id,
        19_680_50,
        None,
    )
    old = db.session.get_one(Arrear, wrong.id)
    assert (old.voided_on, old.voided_by_id, old.void_reason) == (
        TODAY,
        user.id,
        "Една нула повеќе",
    )
    voided = api.post(f"/arrears/{body['id']}/void", {"reason": "Пак погрешно"})
    assert voided.status_code == 200
    assert (voided.get_json()["voided_on"], voided.get_json()["void_reason"]) == (
        TODAY.isoformat(),
        "Пак погрешно",
    )
    twice = api.post(f"/arrears/{body['id']}/void", {"reason": "Пак"})
    assert twice.status_code == 409
    assert count(Arrear, Arrear.voided_on.is_(None)) == 1


def test_the_api_corrects_a_customer_number_and_keeps_the_old_one(  # type: ignore[no-untyped-def]
    api_as, make: Factory, arrear: Arrear
) -> None:
    api, user = api_as(Role.COORDINATOR)
    old = arrear.account.customer_number
    url = f"/accounts/{arrear.account_id}/customer-number"
    missing = api.post(url, {"customer_number": "EVN-DEMO-00012345"})
    assert missing.status_code == 422
    done = api.post(url, {"customer_number": "EVN-DEMO-00012345", "reason": "Грешна цифра"})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["customer_number"] == "EVN-DEMO-00012345"
    assert [
        (c["old_number"], c["new_number"], c["corrected_by_id"]) for c in body["corrections"]
    ] == [(old, "EVN-DEMO-00012345", user.id)]
    assert db.session.get_one(UtilityAccount, arrear.account_id).customer_number == (
        "EVN-DEMO-00012345"
    )
    officer_api, _officer = api_as(Role.OFFICER)
    forbidden = officer_api.post(url, {"customer_number": "X-2", "reason": "Грешка"})
    assert forbidden.status_code == 403
    assert officer_api.post(f"/arrears/{arrear.id}/void", {"reason": "Грешка"}).status_code == 403

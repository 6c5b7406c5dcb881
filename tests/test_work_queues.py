"""The work queues of issue 21: the officer's approved requests whose payment is still to be
recorded, the coordinator's requests rejected back to it, a first approval that waits for a
second officer, and the supervisor's confirmation that says whose hours."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from casework.audit.models import AccessRecord
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.payments import queries, services
from casework.payments.models import Approval, Arrear, PaymentRequest, RequestEvent
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import Role, User
from casework.work import services as work_services
from casework.work.models import LogStatus, WorkLog, WorkSite
from tests.conftest import TODAY, Factory

APPROVED_ON = date(2022, 1, 5)


@pytest.fixture
def officer(make: Factory) -> User:
    return make.user(Role.OFFICER, username="officer_first")


@pytest.fixture
def officer2(make: Factory) -> User:
    return make.user(Role.OFFICER, username="officer_second")


def _submitted(
    coordinator: User, enrollment: Enrollment, arrear: Arrear, amount: int
) -> PaymentRequest:
    request = services.create_request(coordinator, enrollment, arrear, amount, "", today=TODAY)
    return services.submit(coordinator, request, today=TODAY)


def _approved(
    coordinator: User, officer: User, enrollment: Enrollment, arrear: Arrear, amount: int
) -> PaymentRequest:
    request = _submitted(coordinator, enrollment, arrear, amount)
    return services.approve(officer, request, today=APPROVED_ON)


def _rejected(
    coordinator: User, officer: User, enrollment: Enrollment, arrear: Arrear, reason: str
) -> PaymentRequest:
    request = _submitted(coordinator, enrollment, arrear, 1_000_00)
    return services.reject(officer, request, reason, today=APPROVED_ON)


def _ids(page: queries.Page) -> list[int]:
    return [row[0].id for row in page.items]


@contextmanager
def _statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def _count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", _count)


# --- the officer's "approved, payment to record" ------------------------------------------------


def test_the_officers_list_holds_the_approved_requests_not_yet_paid_of_its_municipality(
    make: Factory,
    coordinator: User,
    officer: User,
    programme: Programme,
    enrollment: Enrollment,
    arrear: Arrear,
) -> None:
    waiting = _approved(coordinator, officer, enrollment, arrear, 5_000_00)
    _submitted(coordinator, enrollment, arrear, 1_000_00)  # not approved yet
    paid = _approved(coordinator, officer, enrollment, arrear, 2_000_00)
    services.record_payment(
        officer, paid, services.PaymentData(APPROVED_ON, "Извод 1", 2_000_00), today=TODAY
    )
    elsewhere = make.municipality("PRI", "Прилеп")
    other = make.active_enrollment(
        make.programme(elsewhere), make.household(elsewhere, address="ул. Маршал Тито бр. 3")
    )
    _approved(
        make.coordinator(elsewhere), make.user(Role.OFFICER, elsewhere), other,
        make.arrear(other), 3_000_00,
    )  # fmt: skip
    found = queries.payments_to_record(officer)
    assert (_ids(found), found.total) == ([waiting.id], 1)
    assert queries.count_payments_to_record(officer) == 1
    assert queries.count_payments_to_record(coordinator) == 0  # no officer anywhere: nothing


def test_the_officer_opens_its_payments_to_record_from_the_home_card(  # type: ignore[no-untyped-def]
    login_as, coordinator: User, programme: Programme, enrollment: Enrollment, arrear: Arrear
) -> None:
    browser, officer = login_as(Role.OFFICER)
    request = _approved(coordinator, officer, enrollment, arrear, 5_000_00)
    home = browser.get("/home/officer").get_data(as_text=True)
    card = home[home.index("Approved, payment to record") :]
    assert re.search(r'class="big">1<', card)
    assert 'href="/payments/to-record"' in card.split("</article>")[0]
    page = browser.get("/payments/to-record")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    household = enrollment.household
    assert f'href="/payments/requests/{request.id}"' in text
    assert household.case_number in text and household.head.full_name in text
    assert "5,000.00 MKD" in text and "05.01.2022" in text
    assert officer.full_name in text and "EVN Home" in text
    assert 'class="stack"' in text and 'data-label="Amount"' in text
    # The page names the families it shows: the access log says who saw them.
    seen = db.session.scalars(
        select(AccessRecord.household_id).where(AccessRecord.user_id == officer.id)
    ).all()
    assert household.id in seen


def test_the_lists_are_paged_and_read_a_page_in_a_fixed_number_of_queries(
    make: Factory,
    coordinator: User,
    officer: User,
    programme: Programme,
    enrollment: Enrollment,
) -> None:
    arrear = make.arrear(enrollment, principal_deni=100_000_00)
    _approved(coordinator, officer, enrollment, arrear, 1_000_00)
    db.session.expire_all()
    with _statements() as one:
        queries.payments_to_record(officer)
    made = [_approved(coordinator, officer, enrollment, arrear, 1_000_00) for _ in range(4)]
    db.session.expire_all()
    with _statements() as five:
        everything = queries.payments_to_record(officer)
    assert len(everything.items) == 5 and len(one) == len(five)
    second = queries.payments_to_record(officer, page=2, per_page=2)
    assert (second.page, second.pages, second.total) == (2, 3, 5)
    assert _ids(second) == [made[1].id, made[2].id]  # the oldest approval first, then by number


# --- the coordinator's "returned to you" ---------------------------------------------------------


def test_the_coordinators_list_holds_each_rejected_request_with_its_reason_who_and_when(
    make: Factory,
    coordinator: User,
    officer: User,
    programme: Programme,
    enrollment: Enrollment,
    arrear: Arrear,
) -> None:
    returned = _rejected(coordinator, officer, enrollment, arrear, "Приложете ја опомената.")
    again = _rejected(coordinator, officer, enrollment, arrear, "Погрешен износ.")
    services.submit(coordinator, again, today=TODAY)  # sent again: no longer back with them
    twice = _rejected(coordinator, officer, enrollment, arrear, "Прва причина.")
    services.submit(coordinator, twice, today=TODAY)
    services.reject(officer, twice, "Втора причина.", today=TODAY + timedelta(days=1))
    found = queries.returned_requests(coordinator)
    assert _ids(found) == [twice.id, returned.id]  # the latest rejection first
    rows = {row[0].id: row for row in found.items}
    _request, _household, event_, who = rows[twice.id]
    assert (event_.note, event_.effective_on, who.id) == (
        "Втора причина.",
        TODAY + timedelta(days=1),
        officer.id,
    )
    assert queries.count_returned_requests(coordinator) == 2
    assert queries.count_returned_requests(officer) == 0


def test_the_coordinator_opens_the_returned_requests_from_the_home_card(  # type: ignore[no-untyped-def]
    login_as, make: Factory, officer: User, programme: Programme, enrollment: Enrollment
) -> None:
    browser, coordinator = login_as(Role.COORDINATOR)
    arrear = make.arrear(enrollment)
    request = _rejected(coordinator, officer, enrollment, arrear, "Приложете ја опомената од ЕВН.")
    home = browser.get("/home/coordinator").get_data(as_text=True)
    card = home[home.index("Payment requests rejected back to you") :].split("</article>")[0]
    assert re.search(r'class="big">1<', card) and 'href="/payments/returned"' in card
    text = browser.get("/payments/returned").get_data(as_text=True)
    assert f'href="/payments/requests/{request.id}"' in text
    assert f'href="/households/{enrollment.household_id}/money"' in text
    assert "Приложете ја опомената од ЕВН." in text and officer.full_name in text
    assert "05.01.2022" in text and 'data-label="Reason for rejection"' in text


def test_only_officers_open_the_payments_to_record_and_only_coordinators_the_returned(  # type: ignore[no-untyped-def]
    login_as,
) -> None:
    officer, _o = login_as(Role.OFFICER)
    coordinator, _c = login_as(Role.COORDINATOR)
    assert officer.get("/payments/returned").status_code == 403
    assert coordinator.get("/payments/to-record").status_code == 403
    assert officer.get("/payments/to-record").status_code == 200
    assert "No approved request is waiting" in officer.get("/payments/to-record").get_data(
        as_text=True
    )
    assert coordinator.get("/payments/returned").status_code == 200


# --- a first approval waits for a second officer ------------------------------------------------


def test_the_officer_who_gave_the_first_approval_is_not_offered_approve_or_reject(  # type: ignore[no-untyped-def]
    login_as, make: Factory, coordinator: User, programme: Programme, enrollment: Enrollment
) -> None:
    first, officer = login_as(Role.OFFICER)
    second, officer2 = login_as(Role.OFFICER)
    big = make.arrear(enrollment, principal_deni=60_000_00, penalty_deni=0)
    request = _submitted(coordinator, enrollment, big, 30_000_00)  # above the threshold: two
    request_id = request.id
    assert policies.may_decide_now(officer, request)
    services.approve(officer, request, today=TODAY)
    assert policies.has_given_first_approval(officer, request)
    assert not policies.may_decide_now(officer, request)
    assert policies.may_decide_now(officer2, request)
    page = first.get(f"/payments/requests/{request_id}").get_data(as_text=True)
    assert f"/payments/requests/{request_id}/approve" not in page
    assert f"/payments/requests/{request_id}/reject" not in page
    assert "You have approved this request already: a second officer must." in page
    queue = first.get("/payments/queue").get_data(as_text=True)
    assert f'id="pick-{request_id}"' not in queue  # nothing to tick for it
    waiting = queue[queue.index("Waiting for a second officer") :]
    assert f'href="/payments/requests/{request_id}"' in waiting
    assert [r.id for r, _h in queries.waiting_for_second_officer(officer)] == [request_id]
    assert queries.waiting_for_second_officer(officer2) == []
    other = second.get(f"/payments/requests/{request_id}").get_data(as_text=True)
    assert f"/payments/requests/{request_id}/approve" in other
    assert "a second officer must" not in other
    other_queue = second.get("/payments/queue").get_data(as_text=True)
    assert f'id="pick-{request_id}"' in other_queue
    assert "Waiting for a second officer" not in other_queue
    stored = db.session.scalars(select(Approval.officer_id)).all()
    assert stored == [officer.id]


def test_a_first_approval_is_shown_in_the_history_as_the_first_of_two(  # type: ignore[no-untyped-def]
    login_as, make: Factory, coordinator: User, programme: Programme, enrollment: Enrollment
) -> None:
    browser, officer = login_as(Role.OFFICER)
    big = make.arrear(enrollment, principal_deni=60_000_00, penalty_deni=0)
    request = _submitted(coordinator, enrollment, big, 30_000_00)
    services.approve(officer, request, today=TODAY)
    steps = [e.is_first_of_two_approvals for e in db.session.scalars(select(RequestEvent))]
    assert steps == [False, False, True]  # drafted, submitted, first approval
    page = browser.get(f"/payments/requests/{request.id}").get_data(as_text=True)
    history = page[page.index("<h2>History</h2>") :]
    cell = r"<td[^>]*>([^<]*)</td>"
    cells = [(step, who) for _when, step, who in re.findall(f"<tr>{cell * 3}", history)]
    assert cells[-1] == ("first of two approvals", officer.full_name)
    assert [step for step, _who in cells].count("first of two approvals") == 1


# --- the supervisor's confirmation --------------------------------------------------------------


def test_the_supervisors_confirmation_names_whose_hours_and_how_many(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite
) -> None:
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment)
    member = enrollment.household.members[0]
    today = date.today()
    log = work_services.log_work(
        make.coordinator(make.municipality()),
        member,
        site,
        work_services.Shift(today, duration_minutes=240),
        "метење",
        today=today,
    )
    log_id, name = log.id, member.full_name
    browser, _supervisor = login_as(Role.SUPERVISOR, organization=site.enterprise)
    response = browser.post(f"/work/logs/{log_id}/verify", follow_redirects=True)
    assert f"Confirmed 4:00 for {name}." in response.get_data(as_text=True)
    assert db.session.get_one(WorkLog, log_id).status == LogStatus.VERIFIED

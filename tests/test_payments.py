"""Arrears, payment requests, approvals, payments and reversals: every step and every refusal,
through the services and through the pages, with the budget and the hours they create."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from casework.audit.models import AuditEvent
from casework.enrollment.models import Enrollment
from casework.errors import ConflictError, DomainError, PermissionDenied, ValidationError
from casework.extensions import db
from casework.organizations.models import Organization, OrganizationKind
from casework.payments import queries, services
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
from casework.work.models import WorkLog
from tests.conftest import PASSWORD, TODAY, Factory, count

PAID_ON = date(2022, 1, 10)


@pytest.fixture
def officer(make: Factory) -> User:
    return make.user(Role.OFFICER)


@pytest.fixture
def officer2(make: Factory) -> User:
    return make.user(Role.OFFICER)


def submitted(
    coordinator: User, enrollment: Enrollment, arrear: Arrear, amount: int = 20_000_00
) -> PaymentRequest:
    request = services.create_request(
        coordinator, enrollment, arrear, amount, "Исклучување на струја", today=TODAY
    )
    services.submit(coordinator, request, today=TODAY)
    return request


def approved(
    coordinator: User,
    officer: User,
    enrollment: Enrollment,
    arrear: Arrear,
    amount: int = 20_000_00,
) -> PaymentRequest:
    request = submitted(coordinator, enrollment, arrear, amount)
    services.approve(officer, request, today=date(2022, 1, 5))
    return request


def committed(programme: Programme) -> int:
    return (
        db.session.scalar(select(Programme.committed_deni).where(Programme.id == programme.id)) or 0
    )


# --- the path of a request ---------------------------------------------------------------------


def test_a_paid_request_creates_the_familys_hours_at_that_days_rate(
    coordinator: User, officer: User, programme: Programme, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = approved(coordinator, officer, enrollment, arrear, 20_000_00)
    assert request.status == RequestStatus.APPROVED
    assert committed(programme) == 20_000_00
    payment = services.record_payment(
        officer, request, services.PaymentData(PAID_ON, "Извод 114/2022", 20_000_00), today=TODAY
    )
    obligation = db.session.scalars(select(Obligation)).one()
    assert (obligation.payment_id, obligation.minutes, obligation.hourly_value_deni) == (
        payment.id,
        200 * 60,
        100_00,
    )
    assert obligation.due_on == PAID_ON + timedelta(days=programme.work_deadline_days)
    assert request.status == RequestStatus.PAID
    assert services.outstanding(arrear) == 42_500_00 - 20_000_00
    assert committed(programme) == 20_000_00
    steps = [(e.from_status, e.to_status) for e in request.events]
    assert steps == [
        (None, "draft"),
        ("draft", "submitted"),
        ("submitted", "approved"),
        ("approved", "paid"),
    ]
    assert [e.effective_on for e in request.events][-2:] == [date(2022, 1, 5), PAID_ON]
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"payment_request.approved", "payment.create", "arrear.create"} <= actions


def test_a_rejected_request_goes_back_with_the_reason_and_can_be_resubmitted(
    coordinator: User, officer: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = submitted(coordinator, enrollment, arrear)
    with pytest.raises(ValidationError) as refused:
        services.reject(officer, request, "  ", today=TODAY)
    assert refused.value.field == "reason"
    services.reject(officer, request, "Износот не е од опомената", today=TODAY)
    assert (request.status, request.rejection_reason) == ("rejected", "Износот не е од опомената")
    services.edit_request(coordinator, request, 18_000_00, "Според опомената", today=TODAY)
    services.submit(coordinator, request, today=TODAY)
    assert (request.status, request.round, request.amount_deni) == ("submitted", 2, 18_000_00)
    services.approve(officer, request, today=TODAY)
    assert request.status == "approved"


def test_an_approval_before_a_rejection_does_not_count_after_resubmission(
    make: Factory, coordinator: User, officer: User, officer2: User, enrollment: Enrollment
) -> None:
    big = make.arrear(enrollment, principal_deni=60_000_00, penalty_deni=0)
    request = submitted(coordinator, enrollment, big, 30_000_00)  # above the 25.000 threshold
    assert request.approvals_needed == 2
    services.approve(officer, request, today=TODAY)
    services.reject(officer2, request, "Недостасува изјава", today=TODAY)
    services.submit(coordinator, request, today=TODAY)
    assert request.approvals_count == 0
    services.approve(officer, request, today=TODAY)
    assert request.status == "submitted"
    services.approve(officer2, request, today=TODAY)
    assert request.status == "approved"
    assert count(Approval) == 3


def test_above_the_threshold_two_different_officers_approve(
    make: Factory, coordinator: User, officer: User, officer2: User, enrollment: Enrollment
) -> None:
    big = make.arrear(enrollment, principal_deni=60_000_00, penalty_deni=0)
    request = submitted(coordinator, enrollment, big, 30_000_00)
    services.approve(officer, request, today=TODAY)
    assert (request.status, request.approvals_count) == ("submitted", 1)
    with pytest.raises(ConflictError, match="second officer"):
        services.approve(officer, request, today=TODAY)
    services.approve(officer2, request, today=TODAY)
    assert (request.status, request.approvals_count) == ("approved", 2)


def test_nobody_approves_a_request_they_made_or_changed(
    make: Factory, programme: Programme, enrollment: Enrollment, arrear: Arrear
) -> None:
    both = create_user(
        None,
        "both",
        "Координатор и службеник",
        PASSWORD,
        [
            RoleGrant(Role.COORDINATOR, make.municipality()),
            RoleGrant(Role.OFFICER, make.municipality()),
        ],
    )
    request = submitted(both, enrollment, arrear)
    with pytest.raises(PermissionDenied, match="another officer"):
        services.approve(both, request, today=TODAY)
    assert (request.status, count(Approval)) == ("submitted", 0)
    # Changing someone else's request makes one a maker too.
    other = submitted(make.coordinator(make.municipality()), enrollment, arrear, 1_000_00)
    services.reject(make.user(Role.OFFICER), other, "Поправи", today=TODAY)
    services.edit_request(both, other, 1_500_00, "", today=TODAY)
    services.submit(both, other, today=TODAY)
    with pytest.raises(PermissionDenied):
        services.approve(both, other, today=TODAY)


def test_approving_twice_or_out_of_turn_is_refused(
    coordinator: User, officer: User, officer2: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = services.create_request(coordinator, enrollment, arrear, 5_000_00, "", today=TODAY)
    with pytest.raises(ConflictError, match="draft"):
        services.approve(officer, request, today=TODAY)
    services.submit(coordinator, request, today=TODAY)
    services.approve(officer, request, today=TODAY)
    with pytest.raises(ConflictError, match="approved"):
        services.approve(officer2, request, today=TODAY)
    assert count(Approval) == 1


def test_an_approved_request_can_be_cancelled_before_payment_and_frees_the_budget(
    coordinator: User, officer: User, programme: Programme, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = approved(coordinator, officer, enrollment, arrear, 10_000_00)
    assert committed(programme) == 10_000_00
    with pytest.raises(ValidationError):
        services.cancel(officer, request, "", today=TODAY)
    services.cancel(officer, request, "Семејството го плати само", today=TODAY)
    assert (request.status, committed(programme)) == ("cancelled", 0)
    with pytest.raises(ConflictError):
        services.record_payment(
            officer, request, services.PaymentData(PAID_ON, "x", 10_000_00), today=TODAY
        )


# --- amounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -100])
def test_zero_or_negative_amounts_are_refused(
    coordinator: User, enrollment: Enrollment, arrear: Arrear, amount: int
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.create_request(coordinator, enrollment, arrear, amount, "", today=TODAY)
    assert refused.value.field == "amount"
    assert count(PaymentRequest) == 0


def test_a_request_asks_at_most_what_is_outstanding_less_other_open_requests(
    coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    with pytest.raises(ValidationError, match=r"42\.500,00|42,500\.00"):
        services.create_request(coordinator, enrollment, arrear, 42_500_01, "", today=TODAY)
    services.create_request(coordinator, enrollment, arrear, 30_000_00, "", today=TODAY)
    with pytest.raises(ValidationError, match=r"12\.500,00|12,500\.00") as refused:
        services.create_request(coordinator, enrollment, arrear, 12_500_01, "", today=TODAY)
    assert refused.value.field == "amount"
    services.create_request(coordinator, enrollment, arrear, 12_500_00, "", today=TODAY)
    assert count(PaymentRequest) == 2


def test_a_debt_outside_the_programmes_period_or_creditors_is_not_paid(
    make: Factory, coordinator: User, enrollment: Enrollment
) -> None:
    old = make.arrear(enrollment, period=(date(2019, 1, 1), date(2020, 12, 31)))
    with pytest.raises(ValidationError, match=r"01\.11\.2020") as refused:
        services.create_request(coordinator, enrollment, old, 1_000_00, "", today=TODAY)
    assert refused.value.field == "arrear_id"
    phone = make.arrear(enrollment, creditor="Македонски Телеком")
    with pytest.raises(ValidationError, match="Телеком"):
        services.create_request(coordinator, enrollment, phone, 1_000_00, "", today=TODAY)
    assert count(PaymentRequest) == 0


def test_payments_are_requested_only_for_an_active_enrollment(
    make: Factory, coordinator: User, programme: Programme
) -> None:
    from casework.enrollment import services as enrollment_services

    enrollment = make.active_enrollment(programme)
    arrear = make.arrear(enrollment)
    enrollment_services.withdraw(coordinator, enrollment, on=TODAY, reason="Се исели", today=TODAY)
    with pytest.raises(ConflictError, match="active enrollment"):
        services.create_request(coordinator, enrollment, arrear, 1_000_00, "", today=TODAY)


def test_an_arrear_with_wrong_dates_or_nothing_owed_is_refused(
    make: Factory, coordinator: User, enrollment: Enrollment
) -> None:
    account = services.open_account(
        coordinator, enrollment.household, make.creditor("EVN Home"), "555"
    )

    def arrear(**changes: object) -> None:
        data = {
            "period_from": date(2021, 1, 1),
            "period_to": date(2021, 6, 30),
            "principal_deni": 1_000_00,
            "penalty_deni": 0,
            "statement_ref": "Опомена 1",
            "received_on": date(2021, 7, 5),
        } | changes
        services.record_arrear(coordinator, account, services.ArrearData(**data), today=TODAY)  # type: ignore[arg-type]

    for changes, field in [
        ({"period_to": date(2020, 12, 31)}, "period_to"),
        ({"received_on": date(2022, 2, 1)}, "received_on"),
        ({"principal_deni": 0}, "principal"),
        ({"penalty_deni": -1}, "penalty"),
        ({"statement_ref": " "}, "statement_ref"),
    ]:
        with pytest.raises(ValidationError) as refused:
            arrear(**changes)
        assert refused.value.field == field, changes
    assert count(Arrear) == 0
    with pytest.raises(ValidationError, match="already registered") as taken:
        services.open_account(coordinator, enrollment.household, make.creditor("EVN Home"), "555")
    assert taken.value.field == "customer_number"


# --- payments and reversals --------------------------------------------------------------------


def test_a_payment_may_settle_less_than_approved_but_never_more(
    coordinator: User, officer: User, programme: Programme, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = approved(coordinator, officer, enrollment, arrear, 20_000_00)
    with pytest.raises(ValidationError, match="approved") as refused:
        services.record_payment(
            officer, request, services.PaymentData(PAID_ON, "Извод 1", 20_000_01), today=TODAY
        )
    assert refused.value.field == "amount"
    services.record_payment(
        officer, request, services.PaymentData(PAID_ON, "Извод 1", 19_999_99), today=TODAY
    )
    assert committed(programme) == 19_999_99
    assert db.session.scalars(select(Obligation.minutes)).one() == 19_999_99 * 60 // 100_00


def test_a_payment_date_in_the_future_or_before_approval_is_refused(
    coordinator: User, officer: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = approved(coordinator, officer, enrollment, arrear)  # approved on 05.01.2022
    for paid_on in (TODAY + timedelta(days=1), date(2022, 1, 4)):
        with pytest.raises(ValidationError) as refused:
            services.record_payment(
                officer, request, services.PaymentData(paid_on, "Извод 1", 1_000_00), today=TODAY
            )
        assert refused.value.field == "paid_on"
    with pytest.raises(ValidationError) as no_reference:
        services.record_payment(
            officer, request, services.PaymentData(PAID_ON, " ", 1_000_00), today=TODAY
        )
    assert no_reference.value.field == "reference"
    assert count(Payment) == 0


def test_a_reversal_cancels_the_payment_and_its_hours_and_the_trail_keeps_both(
    coordinator: User, officer: User, programme: Programme, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = approved(coordinator, officer, enrollment, arrear, 20_000_00)
    payment = services.record_payment(
        officer, request, services.PaymentData(PAID_ON, "Извод 2", 20_000_00), today=TODAY
    )
    money = queries.household_money(enrollment.household, programme)
    assert money.minutes_owed == 200 * 60
    with pytest.raises(ValidationError):
        services.reverse_payment(officer, payment, "", on=TODAY, today=TODAY)
    services.reverse_payment(officer, payment, "Погрешна сметка", on=TODAY, today=TODAY)
    assert request.status == "reversed"
    assert committed(programme) == 0
    assert services.outstanding(arrear) == 42_500_00
    money = queries.household_money(enrollment.household, programme)
    assert (money.minutes_owed, money.paid_total) == (0, 0)
    stored = db.session.get(Payment, payment.id)
    assert stored is not None and stored.amount_deni == 20_000_00  # never edited
    with pytest.raises(ConflictError, match="reversed already"):
        services.reverse_payment(officer, payment, "Пак", on=TODAY, today=TODAY)
    assert count(PaymentReversal) == 1
    actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert "payment.create" in actions and "payment.reverse" in actions


def test_a_reversal_after_work_keeps_the_verified_minutes_against_the_other_obligations(
    make: Factory, officer: User, programme: Programme, enrollment: Enrollment
) -> None:
    """Minutes worked for a payment later reversed count against the family's other
    obligations; what is left over is worked beyond what is owed, never lost."""
    from casework.work import services as work
    from casework.work.queries import balances

    make.paid(enrollment, 200_00)  # 2 h, kept
    reversed_payment = make.paid(enrollment, 800_00)  # 8 h, reversed after 6 h of work
    site = make.site()
    supervisor = make.user(Role.SUPERVISOR, organization=site.enterprise)
    for day in (date(2021, 12, 6), date(2021, 12, 7)):
        shift = work.Shift(day, 8 * 60, 11 * 60)
        entry = work.log_work(
            make.coordinator(make.municipality()),
            enrollment.household.members[0],
            site,
            shift,
            "Чистење",
            today=TODAY,
        )
        work.verify(supervisor, entry, today=TODAY)
    household_id = enrollment.household_id
    before = balances([household_id])[household_id]
    assert (before.owed, before.verified, before.remaining, before.beyond) == (600, 360, 240, 0)
    services.reverse_payment(officer, reversed_payment, "Погрешна сметка", on=TODAY, today=TODAY)
    after = balances([household_id])[household_id]
    assert (after.owed, after.verified, after.remaining, after.beyond) == (120, 360, 0, 240)
    assert count(WorkLog, WorkLog.household_id == household_id) == 2  # nothing reversed


def test_an_officer_of_another_municipality_can_do_nothing_with_a_request(
    make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    outsider = make.user(Role.OFFICER, make.municipality("PRI", "Прилеп"))
    request = submitted(coordinator, enrollment, arrear)
    for act in (
        lambda: services.approve(outsider, request, today=TODAY),
        lambda: services.reject(outsider, request, "Не", today=TODAY),
    ):
        with pytest.raises(PermissionDenied):
            act()
    assert request.status == "submitted"
    assert queries.get_visible_request(outsider, request.id) is None
    assert queries.officer_queue(outsider) == []


# --- the budget ----------------------------------------------------------------------------------


def test_an_approval_that_would_cross_the_budget_is_refused_with_the_figures(
    make: Factory, coordinator: User, officer: User
) -> None:
    programme = make.programme(budget_deni=30_000_00, threshold_deni=100_000_00)
    enrollment = make.active_enrollment(programme)
    first = make.arrear(enrollment)
    approved(coordinator, officer, enrollment, first, 20_000_00)
    second = submitted(coordinator, enrollment, make.arrear(enrollment), 10_000_01)
    with pytest.raises(ValidationError, match="budget") as refused:
        services.approve(officer, second, today=TODAY)
    for figure in ("30,000.00", "20,000.00", "10,000.00"):
        assert figure in refused.value.message
    db.session.refresh(second)
    assert (second.status, second.approvals_count, committed(programme)) == (
        "submitted",
        0,
        20_000_00,
    )
    assert db.session.scalar(select(func.count()).where(Approval.request_id == second.id)) == 0


# --- obligation arithmetic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rate", "minutes"),
    [
        (100_00, 100_00, 60),
        (99_99, 100_00, 59),  # 59.994 minutes: the fraction is waived
        (1, 100_00, 0),
        (166_050_00, 100_00, 99_630),
        (10_000_00, 150_00, 4_000),
        (10_000_01, 150_00, 4_000),
    ],
)
def test_minutes_owed_round_down_in_the_familys_favour(
    amount: int, rate: int, minutes: int
) -> None:
    assert services.obligation_minutes(amount, rate) == minutes


@given(st.integers(1, 10**12), st.integers(1, 10**7))
def test_minutes_owed_are_never_more_than_the_payment_is_worth(amount: int, rate: int) -> None:
    minutes = services.obligation_minutes(amount, rate)
    assert minutes * rate <= amount * 60 < (minutes + 1) * rate


def test_a_later_change_of_the_hourly_value_never_rewrites_an_obligation(
    coordinator: User, officer: User, programme: Programme, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = approved(coordinator, officer, enrollment, arrear, 15_000_00)
    services.record_payment(
        officer, request, services.PaymentData(PAID_ON, "Извод 3", 15_000_00), today=TODAY
    )
    programme.hourly_value_deni = 150_00
    db.session.flush()
    obligation = db.session.scalars(select(Obligation)).one()
    assert (obligation.minutes, obligation.hourly_value_deni) == (150 * 60, 100_00)
    second = approved(coordinator, officer, enrollment, arrear, 15_000_00)
    services.record_payment(
        officer, second, services.PaymentData(PAID_ON, "Извод 4", 15_000_00), today=TODAY
    )
    rates = sorted(db.session.scalars(select(Obligation.hourly_value_deni)))
    assert rates == [100_00, 150_00]
    assert (
        queries.household_money(enrollment.household, programme).minutes_owed == 150 * 60 + 100 * 60
    )


# --- races, with real threads on the suite's file database ---------------------------------------


def _race(app: Flask, actions: list[tuple[int, int]]) -> list[str]:
    """Run ``approve(officer, request)`` for each (officer id, request id) pair at once."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[str] = []

    def run(officer_id: int, request_id: int) -> None:
        with app.app_context():
            barrier.wait()  # before any query: on SQLite the first BEGIN holds the write lock
            try:
                actor = db.session.get(User, officer_id)
                request = db.session.get(PaymentRequest, request_id)
                assert actor is not None and request is not None
                services.approve(actor, request, today=TODAY)
                db.session.commit()
                outcomes.append("approved")
            except DomainError:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=pair) for pair in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("attempt", range(10))
def test_two_officers_approving_one_request_at_once_record_one_approval(
    app: Flask,
    coordinator: User,
    officer: User,
    officer2: User,
    programme: Programme,
    enrollment: Enrollment,
    arrear: Arrear,
    attempt: int,
) -> None:
    request_id = submitted(coordinator, enrollment, arrear, 5_000_00).id
    ids = (officer.id, officer2.id, programme.id)
    db.session.commit()
    outcomes = _race(app, [(ids[0], request_id), (ids[1], request_id)])
    assert sorted(outcomes) == ["approved", "refused"]
    assert db.session.scalar(select(func.count()).where(Approval.request_id == request_id)) == 1
    assert (
        db.session.scalar(select(PaymentRequest.status).where(PaymentRequest.id == request_id))
        == "approved"
    )
    assert (
        db.session.scalar(select(Programme.committed_deni).where(Programme.id == ids[2]))
        == 5_000_00
    )


@pytest.mark.parametrize("attempt", range(5))
def test_concurrent_approvals_never_cross_the_budget_together(
    app: Flask, make: Factory, coordinator: User, officer: User, officer2: User, attempt: int
) -> None:
    programme = make.programme(budget_deni=30_000_00, threshold_deni=100_000_00)
    enrollment = make.active_enrollment(programme)
    first = submitted(coordinator, enrollment, make.arrear(enrollment), 20_000_00).id
    second = submitted(coordinator, enrollment, make.arrear(enrollment), 20_000_00).id
    officers, programme_id = (officer.id, officer2.id), programme.id
    db.session.commit()
    outcomes = _race(app, [(officers[0], first), (officers[1], second)])
    assert sorted(outcomes) == ["approved", "refused"]
    assert (
        db.session.scalar(select(Programme.committed_deni).where(Programme.id == programme_id))
        == 20_000_00
    )
    statuses = db.session.scalars(
        select(PaymentRequest.status).where(PaymentRequest.id.in_([first, second]))
    ).all()
    assert sorted(statuses) == ["approved", "submitted"]


# --- through the pages ----------------------------------------------------------------------------


def test_a_coordinator_records_debts_and_proposes_a_payment_through_the_pages(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme
) -> None:
    enrollment = make.active_enrollment(programme)
    household_id = enrollment.household_id
    evn = make.creditor("EVN Home").id
    browser, _user = login_as(Role.COORDINATOR)
    page = browser.get(f"/households/{household_id}/money")
    assert page.status_code == 200 and "No utility account yet." in page.get_data(as_text=True)
    response = browser.post(
        f"/households/{household_id}/accounts",
        {"account-creditor_id": evn, "account-customer_number": "4401-778"},
    )
    assert response.status_code == 302
    account_id = db.session.scalar(select(func.max(Arrear.id)).select_from(Arrear)) or 0
    from casework.payments.models import UtilityAccount

    account_id = db.session.scalars(select(UtilityAccount.id)).one()
    arrear_form = {
        "arrear-account_id": account_id,
        "arrear-period_from": "2020-11-01",
        "arrear-period_to": "2021-10-31",
        "arrear-principal": "abc",
        "arrear-penalty": "2.500,00",
        "arrear-statement_ref": "Опомена 17/2021",
        "arrear-received_on": "2021-11-15",
    }
    bad = browser.post(f"/households/{household_id}/arrears", arrear_form)
    assert bad.status_code == 200 and "Enter an amount such as 15.000,00." in bad.get_data(
        as_text=True
    )
    bad = browser.post(
        f"/households/{household_id}/arrears", arrear_form | {"arrear-principal": "1,5555"}
    )
    assert "at most two decimals" in bad.get_data(as_text=True)
    assert count(Arrear) == 0
    good = browser.post(
        f"/households/{household_id}/arrears", arrear_form | {"arrear-principal": "40.000,00"}
    )
    assert good.status_code == 302
    arrear = db.session.scalars(select(Arrear)).one()
    assert (arrear.principal_deni, arrear.penalty_deni) == (40_000_00, 2_500_00)
    too_much = browser.post(
        f"/households/{household_id}/requests",
        {"request-arrear_id": arrear.id, "request-amount": "42.500,01", "request-submit_now": "y"},
    )
    assert "can still be requested" in too_much.get_data(as_text=True)
    assert count(PaymentRequest) == 0
    ok = browser.post(
        f"/households/{household_id}/requests",
        {
            "request-arrear_id": arrear.id,
            "request-amount": "20.000",
            "request-submit_now": "y",
            "request-justification": "Исклучена струја",
        },
    )
    assert ok.status_code == 302
    request = db.session.scalars(select(PaymentRequest)).one()
    assert (request.amount_deni, request.status) == (20_000_00, "submitted")
    page = browser.get(f"/households/{household_id}/money").get_data(as_text=True)
    assert "42,500.00 MKD" in page and "submitted" in page


def test_an_officer_approves_from_the_queue_records_and_reverses_the_payment(  # type: ignore[no-untyped-def]
    login_as,
    make: Factory,
    coordinator: User,
    programme: Programme,
    enrollment: Enrollment,
    arrear: Arrear,
) -> None:
    first = submitted(coordinator, enrollment, arrear, 10_000_00).id
    second = submitted(coordinator, enrollment, arrear, 5_000_00).id
    browser, _officer = login_as(Role.OFFICER)
    queue = browser.get("/payments/queue").get_data(as_text=True)
    assert f"#{first}" in queue and f"#{second}" in queue and "42,500.00 MKD" in queue
    response = browser.post("/payments/queue", {"request_id": [str(first), str(second)]})
    assert response.status_code == 302
    statuses = db.session.scalars(select(PaymentRequest.status).order_by(PaymentRequest.id)).all()
    assert statuses == ["approved", "approved"]
    assert "Nothing is waiting" in browser.get("/payments/queue").get_data(as_text=True)
    today = date.today().isoformat()
    refused = browser.post(
        f"/payments/requests/{first}/payment",
        {"payment-paid_on": today, "payment-reference": "Извод 9", "payment-amount": "10.000,01"},
    )
    assert "At most the approved" in refused.get_data(as_text=True)
    assert count(Payment) == 0
    paid = browser.post(
        f"/payments/requests/{first}/payment",
        {"payment-paid_on": today, "payment-reference": "Извод 9", "payment-amount": "10.000,00"},
    )
    assert paid.status_code == 302
    assert db.session.scalars(select(Obligation.minutes)).one() == 100 * 60
    reversed_ = browser.post(
        f"/payments/requests/{first}/reverse",
        {"reversal-reversed_on": today, "reversal-reason": "Двојно платено"},
    )
    assert reversed_.status_code == 302
    assert db.session.scalars(select(PaymentReversal.reason)).one() == "Двојно платено"
    budget = browser.get(f"/programmes/{programme.id}/budget").get_data(as_text=True)
    assert "5,000.00 MKD" in budget  # the second request, approved and not yet paid


def test_the_queue_approves_each_request_on_its_own(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, enrollment: Enrollment, arrear: Arrear
) -> None:
    browser, officer = login_as(Role.OFFICER)
    own = make.coordinator(make.municipality())
    fine = submitted(own, enrollment, arrear, 1_000_00).id
    # A request this officer changed: refused for it, while the other one goes through.
    mine = services.create_request(own, enrollment, arrear, 2_000_00, "", today=TODAY)
    mine.last_changed_by_id = officer.id
    services.submit(own, mine, today=TODAY)
    mine.last_changed_by_id = officer.id
    mine_id = mine.id
    browser.post("/payments/queue", {"request_id": [str(fine), str(mine_id)]})
    statuses = dict(db.session.execute(select(PaymentRequest.id, PaymentRequest.status)).all())
    assert statuses == {fine: "approved", mine_id: "submitted"}


def test_requests_of_another_municipality_are_not_found(  # type: ignore[no-untyped-def]
    login_as, make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request_id = submitted(coordinator, enrollment, arrear).id
    browser, _officer = login_as(Role.OFFICER, make.municipality("PRI", "Прилеп"))
    assert browser.get(f"/payments/requests/{request_id}").status_code == 404
    assert browser.post(f"/payments/requests/{request_id}/approve").status_code == 404
    assert browser.get(f"/households/{enrollment.household_id}/money").status_code == 404
    assert count(Approval) == 0


def test_only_officers_decide_and_only_coordinators_record_debts(  # type: ignore[no-untyped-def]
    login_as, make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request_id = submitted(coordinator, enrollment, arrear).id
    browser, _c = login_as(Role.COORDINATOR)
    browser.post(f"/payments/requests/{request_id}/approve")
    assert count(Approval) == 0
    officer_browser, _o = login_as(Role.OFFICER)
    response = officer_browser.post(
        f"/households/{enrollment.household_id}/accounts",
        {"account-creditor_id": make.creditor("EVN Home").id, "account-customer_number": "1"},
    )
    assert response.status_code == 403


def test_an_admin_adds_a_creditor_once(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, _admin = login_as(Role.ADMIN)
    assert browser.post("/admin/creditors", {"name": "Водовод Кичево"}).status_code == 302
    again = browser.post("/admin/creditors", {"name": "водовод кичево"})
    assert "exists already" in again.get_data(as_text=True)
    names = db.session.scalars(
        select(Organization.name).where(Organization.kind == OrganizationKind.CREDITOR.value)
    ).all()
    assert names == ["Водовод Кичево"]
    coordinator_browser, _c = login_as(Role.COORDINATOR)
    assert coordinator_browser.post("/admin/creditors", {"name": "X"}).status_code == 403


def test_a_coordinator_sees_and_chooses_only_the_creditors_serving_its_municipality(  # type: ignore[no-untyped-def]
    login_as, make: Factory, enrollment: Enrollment
) -> None:
    household = enrollment.household
    kicevo, gostivar = household.municipality, make.municipality("GOS", "Гостивар")
    make.creditor("EVN Home")  # a national utility: every municipality's
    own = make.creditor("Komunalec Kicevo", kicevo)
    foreign = make.creditor("Vodovod Gostivar", gostivar)
    browser, coordinator = login_as(Role.COORDINATOR, kicevo)
    seen = [c.name for c in queries.creditors(coordinator)]
    assert {"EVN Home", "Komunalec Kicevo"} <= set(seen) and "Vodovod Gostivar" not in seen

    page = browser.get(f"/households/{household.id}/money").get_data(as_text=True)
    assert "EVN Home" in page and "Komunalec Kicevo" in page
    assert "Vodovod Gostivar" not in page and f'value="{foreign.id}"' not in page
    url = f"/households/{household.id}/accounts"
    refused = browser.post(
        url, {"account-creditor_id": foreign.id, "account-customer_number": "GV-1"}
    )
    assert refused.status_code == 200 and "Vodovod Gostivar" not in refused.get_data(as_text=True)
    assert count(UtilityAccount) == 0
    with pytest.raises(ValidationError) as wrong:
        services.open_account(coordinator, household, foreign, "GV-1")
    assert wrong.value.field == "creditor_id"
    assert count(UtilityAccount) == 0
    taken = browser.post(url, {"account-creditor_id": own.id, "account-customer_number": "KI-1"})
    assert taken.status_code == 302
    assert db.session.scalars(select(UtilityAccount.creditor_id)).all() == [own.id]


def test_the_creditors_page_lists_an_admins_own_municipalitys_and_the_shared_ones(  # type: ignore[no-untyped-def]
    login_as, make: Factory
) -> None:
    kicevo, gostivar = make.municipality(), make.municipality("GOS", "Гостивар")
    make.creditor("EVN Home")
    make.creditor("Komunalec Kicevo", kicevo)
    make.creditor("Vodovod Gostivar", gostivar)
    local, _admin = login_as(Role.ADMIN, kicevo)
    page = local.get("/admin/creditors").get_data(as_text=True)
    assert "EVN Home" in page and "Komunalec Kicevo" in page
    assert "Vodovod Gostivar" not in page
    everywhere, _global_admin = login_as(Role.ADMIN)
    page = everywhere.get("/admin/creditors").get_data(as_text=True)
    assert all(n in page for n in ("EVN Home", "Komunalec Kicevo", "Vodovod Gostivar"))


def test_the_application_page_shows_whether_the_debts_meet_the_call(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme
) -> None:
    household = make.household()
    coordinator = make.coordinator(household.municipality)

    def statement(creditor: str, start: date, end: date) -> None:
        account = services.open_account(
            coordinator, household, make.creditor(creditor), f"{creditor[:3]}-{start.year}"
        )
        services.record_arrear(
            coordinator,
            account,
            services.ArrearData(start, end, 9_000_00, 0, f"Опомена {start.year}", end),
            today=TODAY,
        )

    browser, _c = login_as(Role.COORDINATOR)
    empty = browser.get(f"/households/{household.id}/apply").get_data(as_text=True)
    assert "No debts entered yet." in empty
    statement("EVN Home", date(2019, 1, 1), date(2019, 12, 31))
    only_old = browser.get(f"/households/{household.id}/apply").get_data(as_text=True)
    assert "None of the debts entered is covered by the call." in only_old
    statement("ЈКП Комуналец", date(2020, 11, 1), date(2021, 10, 31))
    page = browser.get(f"/households/{household.id}/apply").get_data(as_text=True)
    assert "The household meets the call: 9,000.00 MKD of its debts are covered." in page
    assert "the programme pays debts of 01.11.2020–31.10.2021 only" in page


def test_through_the_pages_a_rejected_request_is_edited_resubmitted_and_cancelled(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, enrollment: Enrollment, arrear: Arrear
) -> None:
    coordinator_browser, _c = login_as(Role.COORDINATOR)
    officer_browser, _o = login_as(Role.OFFICER)
    request_id = submitted(make.coordinator(make.municipality()), enrollment, arrear).id
    url = f"/payments/requests/{request_id}"
    no_reason = officer_browser.post(f"{url}/reject", {"reject-reason": ""})
    assert "This field is required." in no_reason.get_data(as_text=True)
    officer_browser.post(f"{url}/reject", {"reject-reason": "Приложете ја опомената"})
    page = coordinator_browser.get(url).get_data(as_text=True)
    assert "Приложете ја опомената" in page
    coordinator_browser.post(
        f"{url}/edit", {"edit-amount": "12.000,00", "edit-justification": "Нова"}
    )
    coordinator_browser.post(f"{url}/submit")
    officer_browser.post(f"{url}/approve")
    request = db.session.get(PaymentRequest, request_id)
    assert request is not None
    assert (request.status, request.amount_deni, request.round) == ("approved", 12_000_00, 2)
    officer_browser.post(f"{url}/cancel", {"cancel-reason": "Семејството плати само"})
    db.session.refresh(request)
    assert request.status == "cancelled"
    assert [e.to_status for e in request.events] == [
        "draft",
        "submitted",
        "rejected",
        "submitted",
        "approved",
        "cancelled",
    ]
    assert committed(programme) == 0


# --- every mistake at once, and amounts too large ------------------------------------------


def test_a_statement_with_four_mistakes_reports_all_four_at_once(
    make: Factory, coordinator: User, enrollment: Enrollment
) -> None:
    account = services.open_account(
        coordinator, enrollment.household, make.creditor("EVN Home"), "556"
    )
    data = services.ArrearData(
        period_from=date(2021, 6, 30),
        period_to=date(2021, 1, 1),  # reversed
        principal_deni=1_000_00,
        penalty_deni=-1,
        statement_ref=" ",
        received_on=TODAY + timedelta(days=1),
    )
    with pytest.raises(ValidationError) as refused:
        services.record_arrear(coordinator, account, data, today=TODAY)
    fields = dict(refused.value.errors)
    assert set(fields) == {"period_to", "received_on", "penalty", "statement_ref"}
    assert fields["received_on"] == "The date cannot be in the future."
    assert refused.value.field == "period_to"  # the first one still leads
    assert count(Arrear) == 0


def test_an_amount_above_ten_million_denars_is_refused_as_too_large_naming_it(
    make: Factory, coordinator: User, enrollment: Enrollment
) -> None:
    account = services.open_account(
        coordinator, enrollment.household, make.creditor("EVN Home"), "557"
    )
    data = services.ArrearData(
        period_from=date(2021, 1, 1),
        period_to=date(2021, 6, 30),
        principal_deni=10_000_000_00 + 1,
        penalty_deni=0,
        statement_ref="Опомена 3",
        received_on=date(2021, 7, 5),
    )
    with pytest.raises(ValidationError) as refused:
        services.record_arrear(coordinator, account, data, today=TODAY)
    assert refused.value.field == "principal"
    assert "Principal" in refused.value.message and "too large" in refused.value.message
    assert "zero or more" not in refused.value.message
    assert count(Arrear) == 0
    at_the_bound = services.record_arrear(
        coordinator,
        account,
        services.ArrearData(**vars(data) | {"principal_deni": 10_000_000_00}),
        today=TODAY,
    )
    assert at_the_bound.principal_deni == 10_000_000_00


def test_a_request_above_the_bound_is_too_large(
    coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    with pytest.raises(ValidationError, match="too large") as refused:
        services.create_request(coordinator, enrollment, arrear, 10_000_000_01, "", today=TODAY)
    assert refused.value.field == "amount"
    assert count(PaymentRequest) == 0


def test_a_payment_reports_its_amount_date_and_reference_at_once(
    coordinator: User, officer: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = approved(coordinator, officer, enrollment, arrear)
    wrong = services.PaymentData(
        paid_on=TODAY + timedelta(days=1), reference=" ", amount_deni=request.amount_deni + 1
    )
    with pytest.raises(ValidationError) as refused:
        services.record_payment(officer, request, wrong, today=TODAY)
    assert {field for field, _message in refused.value.errors} == {
        "amount",
        "paid_on",
        "reference",
    }
    assert count(Payment) == 0


def test_a_reversal_without_a_reason_dated_in_the_future_reports_both(
    coordinator: User, officer: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = approved(coordinator, officer, enrollment, arrear)
    payment = services.record_payment(
        officer, request, services.PaymentData(PAID_ON, "BR-1", request.amount_deni), today=TODAY
    )
    with pytest.raises(ValidationError) as refused:
        services.reverse_payment(officer, payment, " ", on=TODAY + timedelta(days=1), today=TODAY)
    assert {field for field, _message in refused.value.errors} == {"reason", "reversed_on"}
    assert count(PaymentReversal) == 0


def test_the_statement_page_shows_every_mistake_in_one_answer_and_stores_nothing(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, today_is
) -> None:
    today_is(TODAY)
    enrollment = make.active_enrollment(programme)
    household_id = enrollment.household_id
    browser, coordinator = login_as(Role.COORDINATOR)
    account = services.open_account(
        coordinator, enrollment.household, make.creditor("EVN Home"), "4401-779"
    )
    db.session.commit()
    form = {
        "arrear-account_id": account.id,
        "arrear-period_from": "2021-10-31",
        "arrear-period_to": "2020-11-01",  # reversed
        "arrear-principal": "",  # missing: the form's own refusal
        "arrear-penalty": "2.500,00",
        "arrear-statement_ref": "Опомена 17/2021",
        "arrear-received_on": (TODAY + timedelta(days=3)).isoformat(),  # in the future
    }
    body = browser.post(f"/households/{household_id}/arrears", form).get_data(as_text=True)
    assert "This field is required." in body
    assert "The period must end on or after its start." in body
    assert "The date cannot be in the future." in body
    assert count(Arrear) == 0
    huge = browser.post(
        f"/households/{household_id}/arrears",
        form
        | {
            "arrear-principal": "1000000000000",
            "arrear-period_to": "2021-10-31",
            "arrear-received_on": "2021-11-15",
        },
    ).get_data(as_text=True)
    assert "too large" in huge and "zero or more" not in huge
    impossible = browser.post(
        f"/households/{household_id}/arrears",
        form | {"arrear-principal": "1.000,00", "arrear-received_on": "2021-02-31"},
    ).get_data(as_text=True)
    assert "The date 2021-02-31 does not exist." in impossible
    assert count(Arrear) == 0


def statement_data(arrear: Arrear, **changes: object) -> services.ArrearData:
    """The figures of a stored statement, as they would be typed again (with ``changes``)."""
    figures: dict[str, object] = {
        "period_from": arrear.period_from,
        "period_to": arrear.period_to,
        "principal_deni": arrear.principal_deni,
        "penalty_deni": arrear.penalty_deni,
        "statement_ref": arrear.statement_ref,
        "received_on": arrear.received_on,
    }
    return services.ArrearData(**(figures | changes))  # type: ignore[arg-type]


def test_a_statement_number_is_stored_once_per_account(
    make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.record_arrear(coordinator, arrear.account, statement_data(arrear), today=TODAY)
    assert refused.value.field == "statement_ref"
    message = refused.value.message
    assert f"Statement {arrear.statement_ref} is already recorded on this account" in message
    assert "01.11.2020" in message and "31.10.2021" in message and "15.11.2021" in message
    assert count(Arrear, Arrear.account_id == arrear.account_id) == 1
    # Other figures under the same number are refused too; the number on another account is not.
    with pytest.raises(ValidationError, match="already recorded"):
        services.record_arrear(
            coordinator,
            arrear.account,
            statement_data(arrear, principal_deni=1_00, statement_ref=f" {arrear.statement_ref} "),
            today=TODAY,
        )
    other = make.arrear(enrollment, creditor="ЈКП Комуналец")
    services.record_arrear(
        coordinator, other.account, statement_data(arrear, principal_deni=1_00), today=TODAY
    )
    assert count(Arrear) == 3


def test_a_statement_stored_by_a_concurrent_request_is_refused_by_the_database_alike(
    monkeypatch: pytest.MonkeyPatch, coordinator: User, arrear: Arrear
) -> None:
    """The other request committed between this one's check and its insert: the unique index
    refuses it, with the same message, and the rest of the unit of work stands."""
    monkeypatch.setattr(services, "check_statement_is_new", lambda *_args: None)
    arrear_id, account_id = arrear.id, arrear.account_id
    with pytest.raises(ValidationError) as refused:
        services.record_arrear(coordinator, arrear.account, statement_data(arrear), today=TODAY)
    assert refused.value.field == "statement_ref"
    assert f"Statement {arrear.statement_ref} is already recorded" in refused.value.message
    db.session.commit()  # the transaction is whole: only the savepoint was rolled back
    assert db.session.scalars(select(Arrear.id).where(Arrear.account_id == account_id)).all() == [
        arrear_id
    ]


def _record_at_once(
    app: Flask, actor_id: int, account_id: int, data: services.ArrearData
) -> list[str]:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run() -> None:
        with app.app_context():
            barrier.wait()
            try:
                actor = db.session.get_one(User, actor_id)
                account = db.session.get_one(UtilityAccount, account_id)
                services.record_arrear(actor, account, data, today=TODAY)
                db.session.commit()
                outcomes.append("recorded")
            except ValidationError as error:
                db.session.rollback()
                outcomes.append(f"refused {error.field}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("attempt", range(3))
def test_two_requests_recording_one_statement_at_once_store_it_once(
    app: Flask, coordinator: User, enrollment: Enrollment, arrear: Arrear, attempt: int
) -> None:
    data = statement_data(arrear, statement_ref="EVN-777/2026", principal_deni=19_680_50)
    actor_id, account_id = coordinator.id, arrear.account_id
    db.session.commit()
    outcomes = _record_at_once(app, actor_id, account_id, data)
    assert sorted(outcomes) == ["recorded", "refused statement_ref"]
    assert count(Arrear, Arrear.statement_ref == "EVN-777/2026") == 1


def test_a_voided_statement_counts_nowhere_but_stays_in_the_history(
    make: Factory,
    coordinator: User,
    officer: User,
    programme: Programme,
    enrollment: Enrollment,
    arrear: Arrear,
) -> None:
    from casework.reports.queries import statement

    twice = services.record_arrear(
        coordinator,
        arrear.account,
        statement_data(arrear, statement_ref="EVN-777/2026"),
        today=TODAY,
    )
    submitted(coordinator, enrollment, arrear, 5_000_00)  # a request: the family is in the queue
    household = enrollment.household
    assert queries.household_money(household, programme).arrears_total == 2 * 42_500_00
    services.void_arrear(coordinator, twice, "Внесена двапати", today=TODAY)
    stored = db.session.get_one(Arrear, twice.id)
    assert (stored.voided_on, stored.voided_by_id, stored.void_reason) == (
        TODAY,
        coordinator.id,
        "Внесена двапати",
    )
    money = queries.household_money(household, programme)
    assert (money.arrears_total, money.outstanding_total) == (42_500_00, 42_500_00)
    assert money.eligible_outstanding == 42_500_00
    assert [line.arrear.id for line in money.lines] == [arrear.id]
    assert [c.arrears for c in money.by_creditor] == [42_500_00]
    assert [line.arrear.id for line in money.lines_by_account[arrear.account_id]] == [
        arrear.id,
        twice.id,
    ]
    assert services.outstanding(stored) == 0
    assert [row.arrears_total for row in queries.officer_queue(officer)] == [42_500_00]
    assert statement(household, TODAY).money.arrears_total == 42_500_00
    with pytest.raises(ValidationError, match="voided") as refused:
        services.create_request(coordinator, enrollment, stored, 1_000_00, "", today=TODAY)
    assert refused.value.field == "arrear_id"
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "arrear.void", AuditEvent.entity_id == twice.id
        )
    ).all()
    assert len(events) == 1 and events[0].actor_id == coordinator.id
    with pytest.raises(ConflictError, match="voided already"):
        services.void_arrear(coordinator, stored, "Again", today=TODAY)


def test_a_statement_is_voided_only_while_no_request_stands_on_it(
    make: Factory, coordinator: User, officer: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = services.create_request(coordinator, enrollment, arrear, 5_000_00, "", today=TODAY)
    for step in (
        lambda: None,  # a draft
        lambda: services.submit(coordinator, request, today=TODAY),
        lambda: services.approve(officer, request, today=TODAY),
    ):
        step()
        with pytest.raises(ConflictError) as refused:
            services.void_arrear(coordinator, arrear, "Погрешен износ", today=TODAY)
        assert f"payment request #{request.id} on it is {request.status}" in refused.value.message
        assert db.session.get_one(Arrear, arrear.id).voided_on is None
    services.cancel(coordinator, request, "Нема да се плати", today=TODAY)
    services.void_arrear(coordinator, arrear, "Погрешен износ", today=TODAY)
    assert db.session.get_one(Arrear, arrear.id).voided_on == TODAY
    paid = make.paid(enrollment).request.arrear
    with pytest.raises(ConflictError, match="is paid"):
        services.void_arrear(coordinator, paid, "Погрешен износ", today=TODAY)
    with pytest.raises(ValidationError) as no_reason:
        services.void_arrear(coordinator, make.arrear(enrollment), "  ", today=TODAY)
    assert no_reason.value.field == "reason"


def test_a_rejected_request_does_not_keep_its_statement_from_being_voided(
    coordinator: User, officer: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = submitted(coordinator, enrollment, arrear, 5_000_00)
    services.reject(officer, request, "Нема копија од опомената", today=TODAY)
    services.void_arrear(coordinator, arrear, "Погрешен износ", today=TODAY)
    with pytest.raises(ValidationError, match="voided"):
        services.submit(coordinator, request, today=TODAY)  # nor goes back on a voided one
    assert db.session.get_one(PaymentRequest, request.id).status == RequestStatus.REJECTED


def test_a_replacement_voids_the_wrong_statement_and_points_at_it(
    programme: Programme, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    replacement = services.replace_arrear(
        coordinator,
        arrear,
        statement_data(arrear, principal_deni=4_000_00),  # the same number, the right amount
        "Внесено 40.000 наместо 4.000",
        today=TODAY,
    )
    old = db.session.get_one(Arrear, arrear.id)
    assert old.voided_on == TODAY and old.void_reason == "Внесено 40.000 наместо 4.000"
    assert replacement.replaces_id == old.id and old.replaced_by is replacement
    assert (replacement.statement_ref, replacement.total_deni) == (old.statement_ref, 6_500_00)
    money = queries.household_money(enrollment.household, programme)
    assert money.arrears_total == 6_500_00
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "arrear").order_by(AuditEvent.id)
    ).all()
    assert actions[-3:] == ["arrear.void", "arrear.create", "arrear.replace"]


def test_a_replacement_refused_leaves_the_wrong_statement_as_it_was(
    coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.replace_arrear(
            coordinator,
            arrear,
            statement_data(arrear, period_to=date(2019, 1, 1)),
            "Погрешен период",
            today=TODAY,
        )
    assert refused.value.field == "period_to"
    assert db.session.get_one(Arrear, arrear.id).voided_on is None
    assert count(Arrear) == 1


def test_a_customer_number_is_corrected_and_the_old_one_kept_in_the_history(
    make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    from casework.payments.models import CustomerNumberCorrection

    account = arrear.account
    old = account.customer_number
    payment = make.paid(enrollment)  # on another account: it stays where it was
    services.correct_customer_number(
        coordinator, account, " EVN-DEMO-00012345 ", "Грешна цифра", today=TODAY
    )
    stored = db.session.get_one(UtilityAccount, account.id)
    assert stored.customer_number == "EVN-DEMO-00012345"
    assert [
        (c.old_number, c.new_number, c.reason, c.corrected_by_id) for c in stored.corrections
    ] == [(old, "EVN-DEMO-00012345", "Грешна цифра", coordinator.id)]
    assert [a.id for a in stored.arrears] == [arrear.id]
    assert count(CustomerNumberCorrection) == 1
    assert db.session.get_one(Payment, payment.id).request.arrear.account_id != account.id
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "utility_account.correct_number")
    ).one()
    assert event.entity_id == account.id
    taken = payment.request.arrear.account.customer_number
    for number, reason, field in (
        ("EVN-DEMO-00012345", "Пак", "customer_number"),  # its number already
        (taken, "Пак", "customer_number"),  # another family's
        ("", "Пак", "customer_number"),
        ("EVN-DEMO-1", " ", "reason"),
    ):
        with pytest.raises(ValidationError) as refused:
            services.correct_customer_number(coordinator, stored, number, reason, today=TODAY)
        assert refused.value.field == field
    assert count(CustomerNumberCorrection) == 1


def test_only_those_who_record_statements_correct_them(
    make: Factory, worker: User, officer: User, arrear: Arrear
) -> None:
    for actor in (worker, officer):
        with pytest.raises(PermissionDenied):
            services.void_arrear(actor, arrear, "Грешка", today=TODAY)
        with pytest.raises(PermissionDenied):
            services.replace_arrear(actor, arrear, statement_data(arrear), "Грешка", today=TODAY)
        with pytest.raises(PermissionDenied):
            services.correct_customer_number(actor, arrear.account, "X-1", "Грешка", today=TODAY)
    assert db.session.get_one(Arrear, arrear.id).voided_on is None


def _statement_form(account_id: int, **changes: str) -> dict[str, object]:
    return {
        "arrear-account_id": account_id,
        "arrear-period_from": "2020-11-01",
        "arrear-period_to": "2021-10-31",
        "arrear-principal": "19.680,50",
        "arrear-penalty": "",
        "arrear-statement_ref": "EVN-777/2026",
        "arrear-received_on": "2021-11-15",
    } | changes


def test_a_double_submit_of_the_statement_form_stores_one_statement(  # type: ignore[no-untyped-def]
    login_as, enrollment: Enrollment, arrear: Arrear
) -> None:
    browser, _user = login_as(Role.COORDINATOR)
    url = f"/households/{enrollment.household_id}/arrears"
    form = _statement_form(arrear.account_id)
    first = browser.post(url, form)
    second = browser.post(url, form)
    assert first.status_code == 302
    assert count(Arrear, Arrear.statement_ref == "EVN-777/2026") == 1
    assert second.status_code in (200, 302)  # refused beside the field, or the first's answer
    again = browser.post(url, form | {"arrear-principal": "1.000,00"})
    page = again.get_data(as_text=True)
    assert again.status_code == 200
    assert "Statement EVN-777/2026 is already recorded on this account" in page
    assert count(Arrear, Arrear.statement_ref == "EVN-777/2026") == 1
    money = browser.get(f"/households/{enrollment.household_id}/money").get_data(as_text=True)
    assert "62,180.50 MKD" in money  # 42.500,00 + 19.680,50, not twice


def test_through_the_pages_a_statement_is_voided_or_replaced_and_struck_out(  # type: ignore[no-untyped-def]
    login_as, make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    wrong = services.record_arrear(
        coordinator,
        arrear.account,
        statement_data(arrear, statement_ref="EVN-777/2026", principal_deni=196_805_00),
        today=TODAY,
    )
    household_id = enrollment.household_id
    browser, user = login_as(Role.COORDINATOR)
    money = browser.get(f"/households/{household_id}/money").get_data(as_text=True)
    assert f"/arrears/{wrong.id}/correct" in money
    page = browser.get(f"/arrears/{wrong.id}/correct")
    assert page.status_code == 200 and "Void the statement" in page.get_data(as_text=True)
    no_reason = browser.post(f"/arrears/{wrong.id}/replace", {"replace-reason": ""})
    assert no_reason.status_code == 200
    assert db.session.get_one(Arrear, wrong.id).voided_on is None
    replaced = browser.post(
        f"/arrears/{wrong.id}/replace",
        {
            "replace-period_from": "2020-11-01",
            "replace-period_to": "2021-10-31",
            "replace-principal": "19.680,50",
            "replace-statement_ref": "EVN-777/2026",
            "replace-received_on": "2021-11-15",
            "replace-reason": "Една нула повеќе",
        },
    )
    assert replaced.status_code == 302
    old = db.session.get_one(Arrear, wrong.id)
    assert (old.voided_on is not None, old.voided_by_id, old.void_reason) == (
        True,
        user.id,
        "Една нула повеќе",
    )
    new = db.session.scalars(select(Arrear).where(Arrear.replaces_id == wrong.id)).one()
    assert (new.statement_ref, new.principal_deni) == ("EVN-777/2026", 19_680_50)
    money = browser.get(f"/households/{household_id}/money").get_data(as_text=True)
    assert "<s>196,805.00 MKD</s>" in money and "Една нула повеќе" in money
    assert "62,180.50 MKD" in money  # the card: 42.500,00 + 19.680,50
    assert "replaced by EVN-777/2026" in money
    voided = browser.post(f"/arrears/{new.id}/void", {"void-reason": "Пак погрешно"})
    assert voided.status_code == 302
    assert db.session.get_one(Arrear, new.id).void_reason == "Пак погрешно"


def test_the_page_names_the_request_that_keeps_a_statement_from_being_voided(  # type: ignore[no-untyped-def]
    login_as, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    request = submitted(coordinator, enrollment, arrear, 5_000_00)
    browser, _user = login_as(Role.COORDINATOR)
    refused = browser.post(f"/arrears/{arrear.id}/void", {"void-reason": "Погрешен износ"})
    assert refused.status_code == 200
    assert f"payment request #{request.id} on it is submitted" in refused.get_data(as_text=True)
    assert db.session.get_one(Arrear, arrear.id).voided_on is None
    worker_browser, _w = login_as(Role.SOCIAL_WORKER)
    assert worker_browser.get(f"/arrears/{arrear.id}/correct").status_code in (403, 404)


def test_through_the_page_a_customer_number_is_corrected(  # type: ignore[no-untyped-def]
    login_as, enrollment: Enrollment, arrear: Arrear
) -> None:
    from casework.payments.models import CustomerNumberCorrection

    old = arrear.account.customer_number
    browser, _user = login_as(Role.COORDINATOR)
    url = f"/accounts/{arrear.account_id}/customer-number"
    assert browser.get(url).status_code == 200
    missing = browser.post(url, {"customer_number": "EVN-DEMO-00012345", "reason": ""})
    assert missing.status_code == 200 and count(CustomerNumberCorrection) == 0
    done = browser.post(url, {"customer_number": "EVN-DEMO-00012345", "reason": "Грешна цифра"})
    assert done.status_code == 302
    assert db.session.get_one(UtilityAccount, arrear.account_id).customer_number == (
        "EVN-DEMO-00012345"
    )
    money = browser.get(f"/households/{enrollment.household_id}/money").get_data(as_text=True)
    assert f"corrected from {old}" in money and "Грешна цифра" in money

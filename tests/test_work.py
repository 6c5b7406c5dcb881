"""Community work: who may work, caps, overlaps, verification, corrections and balances."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from casework.audit.models import AuditEvent
from casework.enrollment import services as enrollment_services
from casework.enrollment.models import Enrollment
from casework.errors import ConflictError, DomainError, PermissionDenied, ValidationError
from casework.extensions import db
from casework.households import services as household_services
from casework.households.models import Member
from casework.programmes.models import Programme
from casework.security.models import Role, User
from casework.work import queries, services
from casework.work.models import LogStatus, WorkLog, WorkSite
from tests.conftest import TODAY, Factory, count

MONDAY = date(2022, 1, 10)  # TODAY is Monday 17.01.2022; the enrollment is active from 01.12.2021


@pytest.fixture
def enrollment(make: Factory, programme: Programme, worker: User) -> Enrollment:
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment, 10_000_00)  # 100 hours owed
    return enrollment


def shift(
    day: date, start: str | None = None, end: str | None = None, minutes: int | None = None
) -> services.Shift:
    def at(hhmm: str | None) -> int | None:
        if hhmm is None:
            return None
        h, m = hhmm.split(":")
        return int(h) * 60 + int(m)

    return services.Shift(day, at(start), at(end), minutes)


def log(worker: User, member: Member, site: WorkSite, s: services.Shift) -> WorkLog:
    return services.log_work(worker, member, site, s, "Чистење на паркот", today=TODAY)


# --- logging ------------------------------------------------------------------------------------


def test_logged_hours_wait_for_verification_and_do_not_count_as_worked(
    worker: User, head: Member, site: WorkSite, enrollment: Enrollment
) -> None:
    stored = log(worker, head, site, shift(MONDAY, "08:00", "11:30"))
    assert (stored.minutes, stored.status, stored.enrollment_id) == (210, "logged", enrollment.id)
    balance = queries.balances([enrollment.household_id])[enrollment.household_id]
    assert (balance.owed, balance.verified, balance.pending, balance.remaining) == (
        6000,
        0,
        210,
        6000,
    )


def test_hours_for_a_child_an_exempt_member_or_before_the_enrollment_are_refused(
    make: Factory, worker: User, head: Member, site: WorkSite, enrollment: Enrollment
) -> None:
    child = make.member(enrollment.household, "Лејла", date(2012, 3, 1), "child")
    mother = make.member(enrollment.household, "Ајше", date(1990, 3, 1), "spouse")
    household_services.add_exemption(
        make.coordinator(make.municipality()), mother, "pregnancy", "Потврда 7", date(2022, 1, 1)
    )
    for member, day, message in [
        (child, MONDAY, "under 18"),
        (mother, MONDAY, "exempt"),
        (head, date(2021, 11, 30), "active only on"),
    ]:
        with pytest.raises(ValidationError, match=message) as refused:
            log(worker, member, site, shift(day, minutes=60))
        assert refused.value.field == "member_id"
    assert count(WorkLog) == 0


def test_hours_for_a_withdrawn_family_are_refused(
    make: Factory, worker: User, head: Member, site: WorkSite, enrollment: Enrollment
) -> None:
    coordinator = make.coordinator(make.municipality())
    enrollment_services.withdraw(
        coordinator, enrollment, on=date(2022, 1, 3), reason="Се исели", today=TODAY
    )
    with pytest.raises(ValidationError, match="no active enrollment"):
        log(worker, head, site, shift(MONDAY, minutes=60))
    assert count(WorkLog) == 0


def test_another_social_workers_caseload_is_refused(
    make: Factory, head: Member, site: WorkSite
) -> None:
    stranger = make.user(Role.SOCIAL_WORKER)
    with pytest.raises(PermissionDenied, match="caseload"):
        log(stranger, head, site, shift(MONDAY, minutes=60))
    assert count(WorkLog) == 0


@pytest.mark.parametrize(
    ("the_shift", "field", "message"),
    [
        (shift(TODAY + timedelta(days=1), minutes=60), "work_date", "future"),
        (shift(MONDAY, minutes=25 * 60), "duration", "24 hours"),
        (shift(MONDAY, minutes=0), "duration", "more than zero"),
        (shift(MONDAY, "10:00", "09:00"), "end_time", "end after it starts"),
        (shift(MONDAY, "10:00"), "end_time", "both the start and the end"),
        (shift(MONDAY), "duration", "how long"),
        (shift(MONDAY, "08:00", "09:00", 90), "duration", "is 1:00, not 1:30"),
    ],
)
def test_impossible_shifts_are_refused(
    worker: User, head: Member, site: WorkSite, the_shift: services.Shift, field: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as refused:
        log(worker, head, site, the_shift)
    assert refused.value.field == field
    assert count(WorkLog) == 0


def test_overlapping_shifts_for_one_member_are_refused(
    worker: User, head: Member, site: WorkSite
) -> None:
    log(worker, head, site, shift(MONDAY, "08:00", "10:00"))
    with pytest.raises(ValidationError, match="already has a shift") as refused:
        log(worker, head, site, shift(MONDAY, "09:30", "10:30"))
    assert refused.value.field == "start_time"
    log(worker, head, site, shift(MONDAY, "10:00", "11:00"))  # back to back is fine
    assert count(WorkLog) == 2


def test_the_daily_and_weekly_caps_hold(worker: User, head: Member, site: WorkSite) -> None:
    log(worker, head, site, shift(MONDAY, minutes=3 * 60))
    with pytest.raises(ValidationError, match="a day"):
        log(worker, head, site, shift(MONDAY, minutes=61))
    log(worker, head, site, shift(MONDAY, minutes=60))  # exactly 4 h
    for offset in range(1, 5):
        log(worker, head, site, shift(MONDAY + timedelta(days=offset), minutes=4 * 60))
    with pytest.raises(ValidationError, match="a week") as refused:
        log(worker, head, site, shift(MONDAY + timedelta(days=5), minutes=30))
    assert refused.value.field == "work_date"
    assert db.session.scalar(select(func.sum(WorkLog.minutes))) == 20 * 60
    log(worker, head, site, shift(TODAY, minutes=4 * 60))  # a new week


def test_rejected_hours_free_the_cap_again(
    make: Factory, worker: User, head: Member, site: WorkSite
) -> None:
    first = log(worker, head, site, shift(MONDAY, minutes=4 * 60))
    services.reject(make.coordinator(make.municipality()), first, "Не се појави", today=TODAY)
    log(worker, head, site, shift(MONDAY, minutes=4 * 60))


# --- verification and corrections ---------------------------------------------------------------


def test_a_supervisor_confirms_only_at_its_own_site(
    make: Factory, worker: User, head: Member, site: WorkSite, enrollment: Enrollment
) -> None:
    own = make.user(Role.SUPERVISOR, organization=site.enterprise)
    other = make.user(Role.SUPERVISOR)  # another enterprise
    entry = log(worker, head, site, shift(MONDAY, minutes=180))
    with pytest.raises(PermissionDenied, match="own work sites"):
        services.verify(other, entry, today=TODAY)
    assert entry.status == "logged"
    services.verify(own, entry, today=TODAY)
    assert (entry.status, entry.decided_by_id) == ("verified", own.id)
    with pytest.raises(ConflictError):
        services.verify(own, entry, today=TODAY)
    balance = queries.balances([enrollment.household_id])[enrollment.household_id]
    assert (balance.verified, balance.pending, balance.remaining, balance.percent_done) == (
        180,
        0,
        5820,
        3,
    )


def test_a_rejection_keeps_its_reason(
    make: Factory, worker: User, head: Member, site: WorkSite
) -> None:
    entry = log(worker, head, site, shift(MONDAY, minutes=60))
    coordinator = make.coordinator(make.municipality())
    with pytest.raises(ValidationError):
        services.reject(coordinator, entry, " ", today=TODAY)
    services.reject(coordinator, entry, "Не беше на локацијата", today=TODAY)
    assert (entry.status, entry.rejection_reason) == ("rejected", "Не беше на локацијата")


def test_a_week_is_confirmed_in_one_action(
    make: Factory, worker: User, head: Member, site: WorkSite
) -> None:
    for offset in range(3):
        log(worker, head, site, shift(MONDAY + timedelta(days=offset), minutes=120))
    log(worker, head, site, shift(TODAY, minutes=60))  # next week: stays pending
    supervisor = make.user(Role.SUPERVISOR, organization=site.enterprise)
    assert services.verify_week(supervisor, site, MONDAY, today=TODAY) == 3
    statuses = db.session.scalars(select(WorkLog.status).order_by(WorkLog.work_date)).all()
    assert statuses == ["verified", "verified", "verified", "logged"]


def test_verified_hours_are_corrected_by_a_reversing_entry_never_edited(
    make: Factory, worker: User, head: Member, site: WorkSite, enrollment: Enrollment
) -> None:
    entry = log(worker, head, site, shift(MONDAY, minutes=180))
    services.verify(make.coordinator(make.municipality()), entry, today=TODAY)
    with pytest.raises(ConflictError, match="correction"):
        services.edit_log(worker, entry, "друго", today=TODAY)
    correction = services.correct(worker, entry, "Погрешен член", today=TODAY)
    assert (correction.minutes, correction.reverses_id, correction.status) == (
        -180,
        entry.id,
        "verified",
    )
    db.session.refresh(entry)
    assert (entry.minutes, entry.status) == (180, "verified")  # the original is untouched
    with pytest.raises(ConflictError, match="corrected already"):
        services.correct(worker, entry, "Пак", today=TODAY)
    balance = queries.balances([enrollment.household_id])[enrollment.household_id]
    assert (balance.verified, balance.remaining) == (0, 6000)
    log(worker, head, site, shift(MONDAY, minutes=180))  # the corrected time may be logged again


# --- the balance, for any sequence of events ----------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("log"), st.integers(0, 40), st.integers(1, 300)),
        st.tuples(st.just("verify"), st.integers(0, 30)),
        st.tuples(st.just("reject"), st.integers(0, 30)),
        st.tuples(st.just("correct"), st.integers(0, 30)),
    ),
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_the_balance_is_owed_minus_verified_minutes_never_counting_one_twice(
    make: Factory,
    programme: Programme,
    ops: list[tuple],  # type: ignore[type-arg]
) -> None:
    worker = make.user(Role.SOCIAL_WORKER)
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment, 5_000_00)
    member = enrollment.household.members[0]
    site = make.site()
    coordinator = make.coordinator(make.municipality())
    logs: list[WorkLog] = []
    worked: dict[int, int] = {}  # log id → minutes that really count
    for op in ops:
        try:
            with db.session.begin_nested():
                if op[0] == "log":
                    day = date(2021, 12, 2) + timedelta(days=op[1])
                    logs.append(log(worker, member, site, shift(day, minutes=op[2])))
                elif logs:
                    target = logs[op[1] % len(logs)]
                    if op[0] == "verify":
                        services.verify(coordinator, target, today=TODAY)
                        worked[target.id] = target.minutes
                    elif op[0] == "reject":
                        services.reject(coordinator, target, "не", today=TODAY)
                    else:
                        services.correct(coordinator, target, "грешка", today=TODAY)
                        worked.pop(target.id)
        except DomainError:
            pass
    balance = queries.balances([enrollment.household_id])[enrollment.household_id]
    assert balance.owed == 50 * 60
    assert balance.verified == sum(worked.values())
    assert balance.pending == sum(
        entry.minutes for entry in logs if entry.status == LogStatus.LOGGED
    )
    assert balance.remaining == max(50 * 60 - sum(worked.values()), 0)
    verified_ids = [e.id for e in logs if e.status == LogStatus.VERIFIED]
    assert len(verified_ids) == len(set(verified_ids))


# --- lists, with a constant number of queries ---------------------------------------------------


def test_the_household_list_shows_balances_with_the_same_number_of_queries_for_any_size(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite
) -> None:
    browser, coordinator = login_as(Role.COORDINATOR)
    statements: list[str] = []

    def counter(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    def queries_for_list() -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            page = browser.get("/households/")
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        assert page.status_code == 200
        return len(statements)

    def add_families(n: int) -> None:
        for _ in range(n):
            enrollment = make.active_enrollment(programme)
            make.paid(enrollment, 2_000_00)
            services.log_work(
                coordinator,
                enrollment.household.members[0],
                site,
                shift(MONDAY, minutes=90),
                "",
                today=TODAY,
            )
        db.session.commit()

    add_families(2)
    few = queries_for_list()
    add_families(10)
    many = queries_for_list()
    assert few == many
    page = browser.get("/households/").get_data(as_text=True)
    assert "20:00 h" in page and "1:30 h pending" in page


# --- through the pages --------------------------------------------------------------------------


def test_a_social_worker_logs_hours_on_the_phone_form(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite
) -> None:
    browser, worker = login_as(Role.SOCIAL_WORKER)
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment)
    member_id, household_id, site_id = (
        enrollment.household.members[0].id,
        enrollment.household_id,
        site.id,
    )
    form = browser.get("/work/log").get_data(as_text=True)
    assert f'value="{member_id}"' in form and date.today().isoformat() in form
    today = date.today().isoformat()
    bad = browser.post(
        "/work/log",
        {"member_id": member_id, "site_id": site_id, "work_date": today, "duration": "25:00"},
    )
    assert "A day has 24 hours." in bad.get_data(as_text=True)
    bad = browser.post(
        "/work/log",
        {"member_id": member_id, "site_id": site_id, "work_date": today, "duration": "three"},
    )
    assert "Enter hours and minutes, such as 3:30." in bad.get_data(as_text=True)
    assert count(WorkLog) == 0
    ok = browser.post(
        "/work/log",
        {
            "member_id": member_id,
            "site_id": site_id,
            "work_date": today,
            "start_time": "08:00",
            "end_time": "11:15",
            "task": "Чистење",
        },
    )
    assert ok.status_code == 302
    stored = db.session.scalars(select(WorkLog)).one()
    assert (stored.minutes, stored.start_minute, stored.logged_by_id) == (195, 480, worker.id)
    detail = browser.get(f"/households/{household_id}").get_data(as_text=True)
    assert "3:15 h" in detail and "waiting for verification" in detail
    home = browser.get("/home/social_worker").get_data(as_text=True)
    assert "Left to work: 100:00 h" in home and "3:15 h pending" in home


def test_a_supervisor_confirms_the_week_on_the_timesheet(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite
) -> None:
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment)
    coordinator = make.coordinator(make.municipality())
    this_monday = date.today() - timedelta(days=date.today().weekday())
    member = enrollment.household.members[0]
    services.log_work(
        coordinator, member, site, shift(this_monday, minutes=120), "", today=date.today()
    )
    site_id = site.id
    browser, _s = login_as(Role.SUPERVISOR, organization=site.enterprise)
    assert "1 logs to confirm" in browser.get("/home/supervisor").get_data(as_text=True)
    sheet = browser.get(f"/work/sites/{site_id}/week").get_data(as_text=True)
    assert member.full_name in sheet and "2:00 h" in sheet and member.national_id not in sheet
    response = browser.post(f"/work/sites/{site_id}/week", {"start": this_monday.isoformat()})
    assert response.status_code == 302
    assert db.session.scalars(select(WorkLog.status)).one() == "verified"
    outsider, _o = login_as(Role.SUPERVISOR)
    assert outsider.get(f"/work/sites/{site_id}/week").status_code == 404


def test_a_phone_sees_the_timesheet_one_day_at_a_time_with_each_persons_week_total(  # type: ignore[no-untyped-def]
    login_as, make: Factory, enrollment: Enrollment, worker: User, site: WorkSite, today_is
) -> None:
    """Any day of a week opens that week on that day (today when none is asked for); the week's
    total counts what stands: a rejected entry does not."""
    head = enrollment.household.members[0]
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    log(worker, head, site, shift(tuesday, "08:00", "10:00"))
    refused = log(worker, head, site, shift(wednesday, "08:00", "11:00"))
    supervisor = make.user(Role.SUPERVISOR, organization=site.enterprise)
    services.reject(supervisor, refused, "Не беше на локацијата", today=TODAY)
    sheet = queries.timesheet(site, MONDAY)
    assert [sheet.week_total(by_day) for _member, by_day in sheet.rows] == [120]
    assert [sheet.entries_on(d) for d in sheet.days] == [0, 1, 1, 0, 0, 0, 0]
    site_id = site.id
    today_is(wednesday)
    browser, _s = login_as(Role.SUPERVISOR, organization=site.enterprise)
    page = browser.get(f"/work/sites/{site_id}/week").get_data(as_text=True)
    assert f'start={wednesday.isoformat()}" aria-current="date"' in page
    assert page.count('class="num picked"') == 2  # the day's header and the person's cell
    asked = browser.get(f"/work/sites/{site_id}/week?start={tuesday.isoformat()}")
    page = asked.get_data(as_text=True)
    assert f'start={tuesday.isoformat()}" aria-current="date"' in page
    assert "2:00 h</td>" in page  # the week total beside the day: the rejected 3:00 h is not in it
    assert count(WorkLog) == 2


@pytest.mark.parametrize(
    ("who", "changes", "message"),
    [
        ("child", {}, "is under 18 and may not work"),
        ("head", {"work_date": (date.today() + timedelta(days=1)).isoformat()}, "future date"),
        ("head", {"start_time": "09:00", "end_time": "10:00"}, "already has a shift"),
        ("head", {"duration": "3:30"}, "allows 4:00 a day"),
        ("head", {"start_time": "12:00", "end_time": "12:30"}, "is 0:30, not 1:00"),
    ],
)
def test_the_log_form_shows_each_refusal_and_stores_nothing(  # type: ignore[no-untyped-def]
    login_as,
    make: Factory,
    programme: Programme,
    site: WorkSite,
    who: str,
    changes: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    browser, worker = login_as(Role.SOCIAL_WORKER)
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment)
    child = make.member(enrollment.household, "Лејла", date(2015, 3, 1), "child")
    head = enrollment.household.members[0]
    today = date.today()
    services.log_work(
        worker, head, site, services.Shift(today, 8 * 60, 9 * 60 + 30), "", today=today
    )
    before = count(WorkLog)
    member_id = child.id if who == "child" else head.id
    page = browser.post(
        "/work/log",
        {
            "member_id": member_id,
            "site_id": site.id,
            "work_date": today.isoformat(),
            "duration": "1:00",
        }
        | changes,
    )
    assert page.status_code == 200 and message in page.get_data(as_text=True)
    assert count(WorkLog) == before


def test_another_workers_family_cannot_be_logged_through_the_form(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite
) -> None:
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = make.user(Role.SOCIAL_WORKER).id
    make.paid(enrollment)
    browser, _w = login_as(Role.SOCIAL_WORKER)
    response = browser.post(
        "/work/log",
        {
            "member_id": enrollment.household.members[0].id,
            "site_id": site.id,
            "work_date": date.today().isoformat(),
            "duration": "1:00",
        },
    )
    assert response.status_code == 404
    assert count(WorkLog) == 0


def test_a_shift_in_the_future_that_ends_before_it_starts_reports_both_at_once(
    worker: User, head: Member, site: WorkSite, enrollment: Enrollment
) -> None:
    with pytest.raises(ValidationError) as refused:
        log(worker, head, site, shift(TODAY + timedelta(days=1), "11:00", "08:00"))
    assert {field for field, _message in refused.value.errors} == {"work_date", "end_time"}
    assert count(WorkLog) == 0


# --- the social worker's own entries: today's list, withdrawing an unverified one --------------


def test_a_withdrawn_entry_is_kept_with_who_when_and_why_and_counts_nowhere(
    worker: User, head: Member, site: WorkSite, enrollment: Enrollment
) -> None:
    wrong = log(worker, head, site, shift(MONDAY, "08:00", "12:00"))
    services.withdraw_log(worker, wrong, "  Погрешно лице  ", today=TODAY)
    db.session.expire_all()
    kept = db.session.get(WorkLog, wrong.id)
    assert kept is not None, "a withdrawal never deletes"
    assert (kept.status, kept.withdrawn_by_id, kept.withdrawal_reason) == (
        LogStatus.WITHDRAWN,
        worker.id,
        "Погрешно лице",
    )
    assert kept.withdrawn_at is not None
    balance = queries.balances([enrollment.household_id])[enrollment.household_id]
    assert (balance.verified, balance.pending, balance.last_work_date) == (0, 0, None)
    assert queries.member_totals(enrollment.household) == {head.id: (0, 0)}
    assert queries.timesheet(site, MONDAY).pending == 0
    assert queries.pending_by_site([site.id]) == {}
    # the withdrawn hours free the day's cap and the shift's time again
    again = log(worker, head, site, shift(MONDAY, "08:00", "12:00"))
    assert again.status == LogStatus.LOGGED
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "work_log.withdraw")
    ).one()
    assert (event.actor_id, event.entity_id) == (worker.id, wrong.id)


def test_only_its_author_withdraws_an_entry_and_only_before_anyone_decided_it(
    make: Factory, worker: User, head: Member, site: WorkSite, enrollment: Enrollment
) -> None:
    coordinator = make.coordinator(make.municipality())
    entry = log(worker, head, site, shift(MONDAY, minutes=60))
    with pytest.raises(PermissionDenied):
        services.withdraw_log(coordinator, entry, "Погрешно", today=TODAY)
    with pytest.raises(ValidationError) as no_reason:
        services.withdraw_log(worker, entry, "  ", today=TODAY)
    assert no_reason.value.field == "reason"
    services.verify(coordinator, entry, today=TODAY)
    with pytest.raises(ConflictError, match="decided already"):
        services.withdraw_log(worker, entry, "Погрешно", today=TODAY)
    db.session.expire_all()
    assert db.session.get(WorkLog, entry.id).status == LogStatus.VERIFIED  # type: ignore[union-attr]
    moved = log(worker, head, site, shift(MONDAY + timedelta(days=1), minutes=60))
    enrollment.household.assigned_worker_id = make.user(Role.SOCIAL_WORKER).id
    with pytest.raises(PermissionDenied):
        services.withdraw_log(worker, moved, "Погрешно", today=TODAY)
    assert count(WorkLog, WorkLog.status == LogStatus.WITHDRAWN) == 0


def test_the_log_page_starts_with_nobody_chosen_and_names_the_missing_choice(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite
) -> None:
    browser, worker = login_as(Role.SOCIAL_WORKER)
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment)
    head_id = enrollment.household.members[0].id
    page = browser.get("/work/log").get_data(as_text=True)
    select_html = page.split('name="member_id"', 1)[1].split("</select>", 1)[0]
    first_option = select_html.split("<option", 2)[1]
    assert 'value="0"' in first_option and "Choose…" in first_option
    assert "selected" not in select_html, "nobody is preselected"
    empty = browser.post(
        "/work/log",
        {
            "member_id": "0",
            "site_id": site.id,
            "work_date": date.today().isoformat(),
            "duration": "1:00",
        },
    )
    body = empty.get_data(as_text=True)
    assert empty.status_code == 200 and "Choose who worked." in body
    assert f'value="{head_id}" selected' not in body
    assert count(WorkLog) == 0


def test_after_logging_the_page_repeats_what_was_logged_and_lists_todays_entries(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite
) -> None:
    browser, worker = login_as(Role.SOCIAL_WORKER)
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment)
    head = enrollment.household.members[0]
    name, site_name = head.full_name, site.name
    today = date.today()
    other_worker = make.user(Role.SOCIAL_WORKER)
    other = make.active_enrollment(programme, make.household(head_name=("Амет", "Асановски")))
    other.household.assigned_worker_id = other_worker.id
    make.paid(other)
    services.log_work(
        other_worker, other.household.members[0], site, shift(today, minutes=90), "", today=today
    )
    done = browser.post(
        "/work/log",
        {
            "member_id": head.id,
            "site_id": site.id,
            "work_date": today.isoformat(),
            "start_time": "08:00",
            "end_time": "11:15",
        },
        follow_redirects=True,
    )
    page = done.get_data(as_text=True)
    stored = db.session.scalars(select(WorkLog).where(WorkLog.logged_by_id == worker.id)).one()
    assert (stored.member_id, stored.minutes) == (head.id, 195)
    confirmation = f"Hours logged for {name}: {today.strftime('%d.%m.%Y')}, 08:00–11:15, 3:15 h"
    assert confirmation in page and site_name in page
    entries = page.split('id="today"', 1)[1]
    assert name in entries and "08:00–11:15" in entries and "3:15 h" in entries
    assert "Асановски" not in entries, "only the user's own entries"
    assert f"/work/logs/{stored.id}/withdraw" in entries
    select_html = page.split('name="member_id"', 1)[1].split("</select>", 1)[0]
    assert "selected" not in select_html, "the next person is chosen, not assumed"


def test_a_social_worker_withdraws_its_own_entry_on_the_log_page(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite
) -> None:
    browser, worker = login_as(Role.SOCIAL_WORKER)
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment)
    today = date.today()
    entry = services.log_work(
        worker, enrollment.household.members[0], site, shift(today, minutes=120), "", today=today
    )
    entry_id = entry.id
    no_reason = browser.post(f"/work/logs/{entry_id}/withdraw", {"reason": ""})
    assert no_reason.status_code == 302
    shown = browser.get("/work/log").get_data(as_text=True)
    assert "Reason: This field is required." in shown, "the refusal names its field"
    assert count(WorkLog, WorkLog.status == LogStatus.WITHDRAWN) == 0
    done = browser.post(
        f"/work/logs/{entry_id}/withdraw", {"reason": "Погрешно лице"}, follow_redirects=True
    )
    page = done.get_data(as_text=True)
    db.session.expire_all()
    kept = db.session.get(WorkLog, entry_id)
    assert kept is not None and kept.status == LogStatus.WITHDRAWN
    assert (kept.withdrawn_by_id, kept.withdrawal_reason) == (worker.id, "Погрешно лице")
    entries = page.split('id="today"', 1)[1]
    assert "log-withdrawn" in entries and "withdrawn: Погрешно лице" in entries
    assert f"/work/logs/{entry_id}/withdraw" not in entries, "nothing left to withdraw"
    balance = queries.balances([enrollment.household_id])[enrollment.household_id]
    assert balance.pending == 0
    coordinator_browser, _c = login_as(Role.COORDINATOR)
    other = services.log_work(
        worker, enrollment.household.members[0], site, shift(today, minutes=60), "", today=today
    )
    other_id = other.id
    assert (
        coordinator_browser.post(f"/work/logs/{other_id}/withdraw", {"reason": "x"}).status_code
        == 403
    )
    assert db.session.get(WorkLog, other_id).status == LogStatus.LOGGED  # type: ignore[union-attr]


def test_the_supervisors_week_strikes_out_a_withdrawn_entry_and_offers_nothing_on_it(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite
) -> None:
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment)
    coordinator = make.coordinator(make.municipality())
    this_monday = date.today() - timedelta(days=date.today().weekday())
    entry = services.log_work(
        coordinator,
        enrollment.household.members[0],
        site,
        shift(this_monday, minutes=120),
        "",
        today=date.today(),
    )
    services.withdraw_log(coordinator, entry, "Двапати внесено", today=date.today())
    entry_id, site_id = entry.id, site.id
    browser, _s = login_as(Role.SUPERVISOR, organization=site.enterprise)
    sheet = browser.get(f"/work/sites/{site_id}/week").get_data(as_text=True)
    assert "log-withdrawn" in sheet and ">withdrawn<" in sheet
    assert f"/work/logs/{entry_id}/verify" not in sheet
    assert "Confirm the whole week" not in sheet
    assert (
        browser.post(f"/work/sites/{site_id}/week", {"start": this_monday.isoformat()}).status_code
        == 302
    )
    assert db.session.get(WorkLog, entry_id).status == LogStatus.WITHDRAWN  # type: ignore[union-attr]


def test_the_sites_list_counts_each_sites_waiting_entries_and_opens_the_oldest_week(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite, today_is
) -> None:
    """The coordinator's card "hours waiting for confirmation" opens the sites list: each site
    says how many entries wait there and links to the week of the oldest."""
    today = date(2026, 11, 26)
    today_is(today)
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment)
    member = enrollment.household.members[0]
    browser, coordinator = login_as(Role.COORDINATOR, programme.municipality)
    quiet = make.site(programme.municipality)
    logs = [
        services.log_work(coordinator, member, site, shift(day, minutes=60), "", today=today)
        for day in (date(2026, 11, 17), date(2026, 11, 24), date(2026, 11, 25))
    ]
    services.verify(coordinator, logs[2], today=today)  # decided: no longer waiting
    home = browser.get("/home/coordinator").get_data(as_text=True)
    card = home[home.index("Hours waiting for confirmation") :][:400]
    assert ">2<" in card and 'href="/work/sites"' in card
    page = browser.get("/work/sites").get_data(as_text=True)
    rows = {
        site_id: next(r for r in page.split("</tr>") if f'/work/sites/{site_id}/week"' in r)
        for site_id in (site.id, quiet.id)
    }
    assert "2 logs to confirm" in rows[site.id]
    assert f"/work/sites/{site.id}/week?start=2026-11-17" in rows[site.id]
    assert "logs to confirm" not in rows[quiet.id]
    assert queries.waiting_at([site.id, quiet.id]) == {
        site.id: queries.Waiting(2, date(2026, 11, 17))
    }

"""Balance checks: each status at its edges, exactly one run per programme and date, alerts."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy import func, select

from casework.audit.models import AuditEvent
from casework.balances import services
from casework.balances.models import Alert, BalanceRun, BalanceSnapshot, CheckStatus
from casework.balances.scheduler import check_programme, sync_jobs
from casework.balances.services import Due, expected_minutes, status_of
from casework.db import utcnow
from casework.enrollment.models import Enrollment
from casework.errors import PermissionDenied, ValidationError
from casework.extensions import db
from casework.programmes.models import Programme
from casework.security.models import Role, User
from casework.work import services as work_services
from casework.work.models import WorkSite
from tests.conftest import TODAY, Factory, count, run_jobs

PAID = date(2021, 12, 1)
DUE = PAID + timedelta(days=180)
OWED = [Due(6000, PAID, DUE)]  # 100 hours over 180 days
TOLERANCE = 480


# --- the rules, at their edges ----------------------------------------------------------------


def test_expected_minutes_grow_evenly_from_payment_to_due_date() -> None:
    assert expected_minutes(OWED, PAID) == 0
    assert expected_minutes(OWED, PAID + timedelta(days=90)) == 3000
    assert expected_minutes(OWED, PAID + timedelta(days=1)) == 6000 // 180  # rounded down
    assert expected_minutes(OWED, DUE) == 6000
    assert expected_minutes(OWED, DUE + timedelta(days=30)) == 6000


@pytest.mark.parametrize(
    ("obligations", "verified", "as_of", "status"),
    [
        ([], 0, PAID, CheckStatus.NO_OBLIGATION),
        (OWED, 6000, DUE + timedelta(days=10), CheckStatus.COMPLETED),
        (OWED, 5999, DUE, CheckStatus.ON_TRACK),  # on the due date itself: not yet overdue
        (OWED, 5999, DUE + timedelta(days=1), CheckStatus.OVERDUE),
        (OWED, 3000 - TOLERANCE, PAID + timedelta(days=90), CheckStatus.ON_TRACK),
        (OWED, 3000 - TOLERANCE - 1, PAID + timedelta(days=90), CheckStatus.BEHIND),
        (OWED, 0, PAID + timedelta(days=10), CheckStatus.ON_TRACK),  # within tolerance
    ],
)
def test_overdue_begins_the_day_after_the_due_date_and_behind_beyond_the_tolerance(
    obligations: list[Due], verified: int, as_of: date, status: CheckStatus
) -> None:
    assert status_of(obligations, verified, as_of, TOLERANCE) == status


def test_an_old_obligation_past_due_makes_a_family_overdue_even_with_a_new_one() -> None:
    newer = Due(600, DUE - timedelta(days=10), DUE + timedelta(days=170))
    assert (
        status_of([*OWED, newer], 6000, DUE + timedelta(days=1), TOLERANCE) == CheckStatus.ON_TRACK
    )
    assert (
        status_of([*OWED, newer], 5000, DUE + timedelta(days=1), TOLERANCE) == CheckStatus.OVERDUE
    )


# --- runs ---------------------------------------------------------------------------------------


@pytest.fixture
def family(make: Factory, programme: Programme, worker: User) -> Enrollment:
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment, 10_000_00)  # 100 h owed from 01.12.2021, due in 180 days
    return enrollment


def test_running_the_same_check_twice_stores_one_run(
    programme: Programme, family: Enrollment
) -> None:
    first = services.run_check(programme, TODAY, today=TODAY)
    again = services.run_check(programme, TODAY, today=TODAY)
    assert (first.created, again.created, again.run.id) == (True, False, first.run.id)
    assert count(BalanceRun) == 1
    assert db.session.scalar(select(func.count()).select_from(BalanceSnapshot)) == 1


def test_a_check_dated_in_the_future_is_refused(programme: Programme) -> None:
    with pytest.raises(ValidationError) as refused:
        services.run_check(programme, TODAY + timedelta(days=1), today=TODAY)
    assert refused.value.field == "date"
    assert count(BalanceRun) == 0


def test_falling_behind_alerts_the_social_worker_and_the_coordinators_once(
    make: Factory, programme: Programme, family: Enrollment, worker: User, site: WorkSite
) -> None:
    coordinator = make.coordinator(make.municipality())
    member = family.household.members[0]
    work_services.log_work(
        coordinator,
        member,
        site,
        work_services.Shift(date(2021, 12, 6), duration_minutes=240),
        "",
        today=TODAY,
    )
    services.run_check(programme, date(2021, 12, 13), today=TODAY)  # on track
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 0
    services.run_check(programme, date(2022, 1, 17), today=TODAY)  # 47 days: 26 h expected
    alerts = db.session.scalars(select(Alert)).all()
    assert {(a.user_id, a.status, a.previous_status) for a in alerts} == {
        (worker.id, "behind", "on_track"),
        (coordinator.id, "behind", "on_track"),
    }
    services.mark_read(
        worker,
        alerts[0] if alerts[0].user_id == worker.id else alerts[1],
        now=utcnow(),
    )
    unread = db.session.scalars(select(Alert.user_id).where(Alert.read_at.is_(None))).all()
    assert unread == [coordinator.id]


def test_three_checks_behind_in_a_row_flag_the_family_for_review(
    programme: Programme, family: Enrollment
) -> None:
    for day in (date(2022, 1, 3), date(2022, 1, 10), date(2022, 1, 17)):
        services.run_check(programme, day, today=TODAY)
    streaks = db.session.scalars(
        select(BalanceSnapshot.flagged).join(BalanceRun).order_by(BalanceRun.as_of)
    ).all()
    assert streaks == [False, False, True]


def test_a_broken_household_is_reported_and_the_others_are_checked(
    make: Factory, programme: Programme, family: Enrollment, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make.active_enrollment(programme)
    broken_id = family.household_id
    real = services.status_of

    def fail_for_one(obligations, verified, as_of, tolerance):  # type: ignore[no-untyped-def]
        if obligations and obligations[0].minutes == 6000:
            raise ZeroDivisionError
        return real(obligations, verified, as_of, tolerance)

    monkeypatch.setattr(services, "status_of", fail_for_one)
    result = services.run_check(programme, TODAY, today=TODAY)
    assert result.run.errors == [{"household_id": broken_id, "error": "ZeroDivisionError"}]
    checked = db.session.scalars(select(BalanceSnapshot.household_id)).all()
    assert checked == [other.household_id]


@pytest.mark.parametrize("attempt", range(3))
def test_two_schedulers_at_once_record_one_run(
    app: Flask, programme: Programme, family: Enrollment, attempt: int
) -> None:
    programme_id = programme.id
    db.session.commit()
    barrier = threading.Barrier(2)
    outcomes: list[bool] = []

    def run() -> None:
        with app.app_context():
            barrier.wait()
            programme = db.session.get(Programme, programme_id)
            assert programme is not None
            outcomes.append(services.run_check(programme, TODAY, today=TODAY).created)
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == [False, True]
    assert count(BalanceRun) == 1


# --- the scheduler ------------------------------------------------------------------------------


def test_the_scheduler_job_checks_a_programme_once_a_day(
    app: Flask, programme: Programme, family: Enrollment
) -> None:
    programme_id = programme.id
    db.session.commit()
    check_programme(app, programme_id)
    check_programme(app, programme_id)
    assert db.session.scalars(select(BalanceRun.trigger)).all() == ["scheduled"]


def _check_events() -> list[tuple[int | None, str, str]]:
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "balance_check.run").order_by(AuditEvent.id)
    ).all()
    return [(e.actor_id, e.changes["trigger"], e.changes["started_by"]) for e in events]


def test_the_audit_trail_says_who_started_each_balance_check(  # type: ignore[no-untyped-def]
    app: Flask, login_as, today_is, programme: Programme, family: Enrollment
) -> None:
    """A check from the checks page is the coordinator's; a scheduled one the scheduler's."""
    programme_id = programme.id
    db.session.commit()
    today_is(TODAY - timedelta(days=1))
    check_programme(app, programme_id)  # the scheduler, yesterday
    assert _check_events() == [(None, "scheduled", "scheduler")]
    today_is(TODAY)
    browser, coordinator = login_as(Role.COORDINATOR)
    started = browser.post(f"/programmes/{programme_id}/checks")
    assert started.status_code == 302
    assert run_jobs() == 1
    assert _check_events()[-1] == (coordinator.id, "manual", "user")


def test_a_bad_schedule_skips_its_programme_and_keeps_the_others(app: Flask, make: Factory) -> None:
    good = make.programme()
    bad = make.programme(make.municipality("PRI", "Прилеп"))
    bad.check_schedule = "every monday please"
    ids = (good.id, bad.id)
    db.session.commit()
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)  # jobs are real, but none fires during the test
    request_shutdown = scheduler.shutdown
    sync_jobs(app, scheduler)
    assert [job.id for job in scheduler.get_jobs()] == [f"programme-{ids[0]}"]
    job = scheduler.get_job(f"programme-{ids[0]}")
    assert job is not None and "mon" in str(job.trigger)
    assert str(job.trigger.timezone) == "Europe/Skopje"
    # A schedule change is picked up without a restart.
    changed = db.session.get(Programme, ids[0])
    assert changed is not None
    changed.check_schedule = "30 6 * * fri"
    db.session.commit()
    sync_jobs(app, scheduler)
    job = scheduler.get_job(f"programme-{ids[0]}")
    assert job is not None and "fri" in str(job.trigger)
    request_shutdown(wait=False)


def test_a_programme_whose_hours_all_fell_due_long_ago_is_no_longer_scheduled(
    app: Flask, make: Factory
) -> None:
    running = make.programme()
    over = make.programme(make.municipality("PRI", "Прилеп"))
    over.ends_on = date.today() - timedelta(days=over.work_deadline_days + 1)
    ids = (running.id, over.id)
    db.session.commit()
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    sync_jobs(app, scheduler)
    assert [job.id for job in scheduler.get_jobs()] == [f"programme-{ids[0]}"]
    ending = db.session.get(Programme, ids[1])
    assert ending is not None
    ending.ends_on = date.today() - timedelta(days=ending.work_deadline_days)  # due today
    db.session.commit()
    sync_jobs(app, scheduler)
    assert sorted(job.id for job in scheduler.get_jobs()) == sorted(f"programme-{i}" for i in ids)
    scheduler.shutdown(wait=False)


# --- pages --------------------------------------------------------------------------------------


def test_a_coordinator_runs_a_check_and_the_social_worker_sees_the_alert(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, family: Enrollment, worker: User
) -> None:
    services.run_check(programme, date.today() - timedelta(days=14), today=date.today())
    # Make the earlier check say "on track" so that today's "behind" is a change.
    db.session.execute(db.update(BalanceSnapshot).values(status="on_track"))
    programme_id = programme.id
    browser, _c = login_as(Role.COORDINATOR)
    started = browser.post(f"/programmes/{programme_id}/checks")
    assert started.status_code == 302 and "/jobs/" in started.headers["Location"]
    assert count(BalanceRun) == 1  # the worker runs the check, not the web request
    assert run_jobs() == 1
    job_page = browser.get(started.headers["Location"]).get_data(as_text=True)
    assert "Balance check done." in job_page
    page = browser.get(f"/programmes/{programme_id}/checks").get_data(as_text=True)
    assert date.today().strftime("%d.%m.%Y") in page
    assert count(BalanceRun) == 2
    detail = browser.get(f"/households/{family.household_id}").get_data(as_text=True)
    assert "check-chart" in detail and detail.count('class="check-row"') == 2
    from tests.conftest import Client

    worker_browser = Client(browser.http.application.test_client())
    worker_browser.login(worker.username)
    home = worker_browser.get("/home/social_worker").get_data(as_text=True)
    assert "on track → overdue" in home or "on track → behind" in home
    alert_id = db.session.scalars(
        select(Alert.id).where(Alert.user_id == worker.id).order_by(Alert.id.desc())
    ).first()
    worker_browser.post(f"/alerts/{alert_id}/read")
    assert db.session.scalar(select(Alert.read_at).where(Alert.id == alert_id)) is not None


def test_a_programme_with_a_schedule_that_is_not_cron_is_refused(make: Factory) -> None:
    from casework.organizations.models import OrganizationKind
    from casework.organizations.services import create_organization
    from casework.programmes.services import ProgrammeData, create_programme

    before = db.session.scalar(select(func.count()).select_from(Programme))
    with pytest.raises(ValidationError, match="cron") as refused:
        create_programme(
            make.user(Role.ADMIN),
            make.municipality(),
            create_organization(None, OrganizationKind.NGO, "ЦГИ"),
            ProgrammeData(
                name="Програма",
                donor="",
                starts_on=date(2021, 11, 8),
                ends_on=None,
                budget_deni=1,
                hourly_value_deni=100_00,
                approval_threshold_deni=0,
                check_schedule="every monday",
            ),
        )
    assert refused.value.field == "check_schedule"
    assert db.session.scalar(select(func.count()).select_from(Programme)) == before


def test_the_checks_page_counts_what_changed_since_the_check_before(  # type: ignore[no-untyped-def]
    login_as, programme: Programme, family: Enrollment
) -> None:
    services.run_check(programme, date(2021, 12, 13), today=TODAY)  # on track
    services.run_check(programme, date(2022, 1, 17), today=TODAY)  # behind
    programme_id = programme.id
    browser, _c = login_as(Role.COORDINATOR)
    page = browser.get(f"/programmes/{programme_id}/checks").get_data(as_text=True)
    from casework.balances.queries import runs_of

    latest, older = runs_of(db.session.get(Programme, programme_id))  # type: ignore[arg-type]
    assert latest[1] == {"behind": 1, "changed": 1} and "changed" not in older[1]
    assert "17.01.2022" in page and "13.12.2021" in page


def test_a_check_reads_families_in_chunks_and_counts_each_once(
    programme: Programme, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A national programme has more families than a statement may hold parameters: the
    check reads them a chunk at a time (here 2) and finds the same figures as in one go."""
    import casework.db

    families = [make.active_enrollment(programme) for _ in range(5)]
    for index, family in enumerate(families):
        make.paid(family, (index + 1) * 1_000_00)
    db.session.commit()
    from casework.work.queries import balances

    whole = balances([f.household_id for f in families], TODAY)
    monkeypatch.setattr(casework.db, "IN_CHUNK", 2)
    chunked = balances([f.household_id for f in families], TODAY)
    assert chunked == whole and len(chunked) == 5
    run = services.run_check(programme, TODAY, today=TODAY).run
    owed = {s.household_id: s.owed for s in run.snapshots}
    assert owed == {f.household_id: (i + 1) * 10 * 60 for i, f in enumerate(families)}


# --- reading alerts: dated, one entry per family, "mark all as read" ------------------------


def _three_checks(programme: Programme) -> None:
    """On track, then behind, then overdue: two alerts for each family's people."""
    for as_of in (date(2021, 12, 13), date(2022, 1, 17), DUE + timedelta(days=3)):
        services.run_check(programme, as_of, today=max(as_of, TODAY))


@pytest.fixture
def elsewhere(make: Factory) -> tuple[Programme, User]:
    """A family of another municipality, with its own social worker, falling behind too."""
    ohrid = make.municipality("OHR", "Охрид")
    their_worker = make.user(Role.SOCIAL_WORKER, ohrid)
    theirs = make.programme(municipality=ohrid)
    enrollment = make.active_enrollment(
        theirs, make.household(ohrid, head_name=("Реџеп", "Рамадани"))
    )
    enrollment.household.assigned_worker_id = their_worker.id
    make.paid(enrollment, 10_000_00)
    return theirs, their_worker


def _read_by(user_id: int) -> list[bool]:
    return list(
        db.session.scalars(
            select(Alert.read_at.is_not(None)).where(Alert.user_id == user_id).order_by(Alert.id)
        )
    )


def test_marking_all_as_read_stores_read_on_each_of_the_users_alerts_and_no_one_elses(
    make: Factory,
    programme: Programme,
    family: Enrollment,
    worker: User,
    elsewhere: tuple[Programme, User],
) -> None:
    theirs, their_worker = elsewhere
    _three_checks(programme)
    _three_checks(theirs)
    coordinator = make.coordinator(make.municipality())
    assert _read_by(worker.id) == [False, False]

    assert services.mark_all_read(worker, up_to=None, now=utcnow()) == 2

    assert _read_by(worker.id) == [True, True]
    assert _read_by(coordinator.id) == [False, False]  # read per person
    assert _read_by(their_worker.id) == [False, False]  # another municipality's: untouched
    assert services.mark_all_read(worker, up_to=None, now=utcnow()) == 0


def test_marking_all_as_read_leaves_an_alert_that_came_after_the_page_was_drawn(
    programme: Programme, family: Enrollment, worker: User
) -> None:
    _three_checks(programme)
    first, _newest = db.session.scalars(
        select(Alert.id).where(Alert.user_id == worker.id).order_by(Alert.id)
    ).all()
    assert services.mark_all_read(worker, up_to=first, now=utcnow()) == 1
    assert _read_by(worker.id) == [True, False]


def test_marking_all_as_read_is_for_the_people_alerts_are_sent_to(make: Factory) -> None:
    officer = make.user(Role.OFFICER)
    with pytest.raises(PermissionDenied):
        services.mark_all_read(officer, up_to=None, now=utcnow())


def test_the_home_page_dates_each_alert_and_lists_a_family_once_newest_change_first(  # type: ignore[no-untyped-def]
    app: Flask,
    programme: Programme,
    family: Enrollment,
    worker: User,
    elsewhere: tuple[Programme, User],
) -> None:
    from tests.conftest import Client

    theirs, their_worker = elsewhere
    _three_checks(programme)
    _three_checks(theirs)
    head = family.household.head.full_name
    browser = Client(app.test_client())
    browser.login(worker.username)
    home = browser.get("/home/social_worker").get_data(as_text=True)
    alerts = home[home.index('id="alerts"') :]
    alerts = alerts[: alerts.index("</section>")]
    assert alerts.count(head) == 1  # one entry for the family, its two changes inside it
    overdue_on = (DUE + timedelta(days=3)).strftime("%d.%m.%Y")
    assert overdue_on in alerts and "17.01.2022" in alerts
    assert alerts.index(overdue_on) < alerts.index("17.01.2022")  # the newest change first
    assert "behind → overdue" in alerts and "Mark all as read" in alerts
    newest = max(a for a in db.session.scalars(select(Alert.id).where(Alert.user_id == worker.id)))
    answer = browser.post("/alerts/read", {"up_to": newest, "next": "/home/social_worker"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/home/social_worker")
    db.session.expire_all()
    assert _read_by(worker.id) == [True, True]
    assert _read_by(their_worker.id) == [False, False]
    home = browser.get("/home/social_worker").get_data(as_text=True)
    assert 'id="alerts"' not in home


def test_the_checks_page_says_the_schedule_in_words(  # type: ignore[no-untyped-def]
    login_as, programme: Programme
) -> None:
    assert programme.check_schedule == "0 7 * * mon"
    browser, _c = login_as(Role.COORDINATOR)
    page = browser.get(f"/programmes/{programme.id}/checks").get_data(as_text=True)
    assert "Mondays at 07:00 (Europe/Skopje)" in page
    assert "0 7 * * mon" not in page


def test_the_household_page_lists_each_check_with_its_day_status_and_hours_and_flags_once(  # type: ignore[no-untyped-def]
    login_as, programme: Programme, family: Enrollment
) -> None:
    for as_of in (date(2022, 1, 3), date(2022, 1, 10), date(2022, 1, 17), date(2022, 1, 24)):
        services.run_check(programme, as_of, today=max(as_of, TODAY))
    flagged = db.session.scalars(select(BalanceSnapshot.flagged).order_by(BalanceSnapshot.id))
    assert list(flagged) == [False, False, True, True]  # behind three checks running, twice
    browser, _c = login_as(Role.COORDINATOR)
    page = browser.get(f"/households/{family.household_id}").get_data(as_text=True)
    table = page[page.index("check-chart") : page.index("</table>", page.index("check-chart"))]
    assert table.count('class="check-row"') == 4
    assert "<caption>Status at each check</caption>" in table
    assert table.index("24.01.2022") < table.index("03.01.2022")  # the newest check first
    assert "100:00 h" in table  # owed, as written everywhere else
    assert page.count("(for review: behind three checks running)") == 1


def test_a_familys_button_marks_that_familys_alerts_read_and_no_other(  # type: ignore[no-untyped-def]
    app: Flask, make: Factory, programme: Programme, family: Enrollment, worker: User
) -> None:
    from tests.conftest import Client

    second = make.active_enrollment(programme, make.household(head_name=("Ајше", "Бекировска")))
    second.household.assigned_worker_id = worker.id
    make.paid(second, 10_000_00)
    _three_checks(programme)
    browser = Client(app.test_client())
    browser.login(worker.username)
    home = browser.get("/home/social_worker").get_data(as_text=True)
    assert f'name="household_id" value="{family.household_id}"' in home
    newest = max(db.session.scalars(select(Alert.id).where(Alert.user_id == worker.id)))
    browser.post(
        "/alerts/read",
        {"up_to": newest, "household_id": family.household_id, "next": "/home/social_worker"},
    )
    db.session.expire_all()
    read = db.session.execute(
        select(Alert.household_id, Alert.read_at.is_not(None)).where(Alert.user_id == worker.id)
    ).all()
    assert sorted(read) == sorted(
        [(family.household_id, True)] * 2 + [(second.household_id, False)] * 2
    )

"""Every state-changing form records once: the same rendered form sent twice (a double click,
a browser's re-POST, two copies at the same moment) stores one row, and the second answer
sends the browser where the first did. A refused submit does not use the form's key up; a
form sent without a key (a page opened before keys existed, a script) still works."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import select

from casework.audit.forms import LogSearchForm
from casework.db import utcnow
from casework.enrollment import services as enrollment_services
from casework.enrollment.models import Agreement, CommissionDecision, Enrollment
from casework.extensions import db
from casework.formkeys import services as form_keys
from casework.formkeys.models import FormKey
from casework.forms_common import KeyedForm, PlainForm
from casework.households.models import CaseNote, Exemption, Household, Member
from casework.organizations.models import Organization, OrganizationKind
from casework.payments import services as payments
from casework.payments.models import (
    Approval,
    Arrear,
    Payment,
    PaymentRequest,
    PaymentReversal,
    UtilityAccount,
)
from casework.programmes.models import Programme
from casework.reports.forms import PeriodForm
from casework.security.forms import LoginForm, ReauthForm
from casework.security.models import Role, User
from casework.work import services as work
from casework.work.models import WorkLog, WorkSite
from tests.conftest import TODAY, Client, Factory, count, valid_national_id

ALREADY_SENT = "This form was already sent; it was recorded once."
FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
KEY_RE = re.compile(r'name="form_key" value="([^"]+)"')
ACTION_RE = re.compile(r'action="([^"]*)"')


@pytest.fixture(autouse=True)
def _pinned(today_is: Any) -> None:
    today_is(TODAY)


def keys_of(page: str, action: str | None = None) -> list[str]:
    """The one-time keys of the page's POST forms that send to ``action`` (the page's own
    forms, without an action, when None), in the page's order."""
    found = []
    for attrs, body in FORM_RE.findall(page):
        if 'method="post"' not in attrs:
            continue
        target = ACTION_RE.search(attrs)
        sends_to = target.group(1).replace("&amp;", "&").split("?")[0] if target else None
        if sends_to == action:
            found += KEY_RE.findall(body)
    return found


def sent_twice(
    browser: Client, page: str, data: dict[str, Any], action: str | None = None
) -> tuple[Any, Any]:
    """Open ``page``, fill in its form (the one sending to ``action``) and send it twice with
    the key it was drawn with, as a double click does."""
    drawn = browser.get(page)
    assert drawn.status_code == 200, drawn.status_code
    keys = keys_of(drawn.get_data(as_text=True), action)
    assert keys, f"no keyed form sending to {action or page}"
    filled = data | {"form_key": keys[0]}
    return browser.post(action or page, filled), browser.post(action or page, filled)


def assert_recorded_once(browser: Client, first: Any, second: Any) -> None:
    """Both answers send the browser to the same place, and the second says why it did
    nothing."""
    assert first.status_code == 302, first.get_data(as_text=True)[:2000]
    assert second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    landed = browser.get(second.headers["Location"], follow_redirects=True)
    assert ALREADY_SENT in landed.get_data(as_text=True)


# --- every form, sent twice ---------------------------------------------------------------------


def test_registering_a_household_twice_registers_it_once(login_as: Any) -> None:
    browser, coordinator = login_as(Role.COORDINATOR)
    form = {
        "address": "ул. Илинденска бр. 44",
        "settlement": "Кичево",
        "language": "mk",
        "consent_on": "2021-11-10",
        "assigned_worker_id": "0",
        "head-first_name": "Ердован",
        "head-last_name": "Јашаровски",
        "head-national_id": "1503985430018",
        "municipality_id": str(coordinator.roles[0].municipality_id),
    }
    first, second = sent_twice(browser, "/households/new", form)
    assert_recorded_once(browser, first, second)
    assert count(Household) == 1 and count(Member) == 1


def test_adding_a_member_twice_adds_one(login_as: Any, make: Factory) -> None:
    household_id = make.household().id
    browser, _user = login_as(Role.COORDINATOR)
    birth = TODAY - timedelta(days=365 * 30)
    form = {
        "first_name": "Лејла",
        "last_name": "Мамудовска",
        "national_id": valid_national_id(birth, female=True),
        "relation": "spouse",
    }
    first, second = sent_twice(browser, f"/households/{household_id}/members/new", form)
    assert_recorded_once(browser, first, second)
    assert count(Member, Member.household_id == household_id) == 2


def test_a_utility_account_and_a_statement_sent_twice_are_stored_once(
    login_as: Any, enrollment: Enrollment
) -> None:
    household_id = enrollment.household_id
    evn = Organization(kind=OrganizationKind.CREDITOR.value, name="EVN Home")
    db.session.add(evn)
    db.session.flush()
    browser, _user = login_as(Role.COORDINATOR)
    money = f"/households/{household_id}/money"
    first, second = sent_twice(
        browser,
        money,
        {"account-creditor_id": evn.id, "account-customer_number": "4401-778"},
        f"/households/{household_id}/accounts",
    )
    assert_recorded_once(browser, first, second)
    account_id = db.session.scalars(select(UtilityAccount.id)).one()
    statement = {
        "arrear-account_id": account_id,
        "arrear-period_from": "2020-11-01",
        "arrear-period_to": "2021-10-31",
        "arrear-principal": "19.680,50",
        "arrear-penalty": "0",
        "arrear-statement_ref": "EVN-777/2026",
        "arrear-received_on": "2021-11-15",
    }
    first, second = sent_twice(browser, money, statement, f"/households/{household_id}/arrears")
    assert_recorded_once(browser, first, second)
    assert count(Arrear) == 1


def test_a_payment_request_sent_twice_is_one_request(
    login_as: Any, enrollment: Enrollment, arrear: Arrear
) -> None:
    household_id, arrear_id = enrollment.household_id, arrear.id
    browser, _user = login_as(Role.COORDINATOR)
    first, second = sent_twice(
        browser,
        f"/households/{household_id}/money",
        {"request-arrear_id": arrear_id, "request-amount": "20.000", "request-submit_now": "y"},
        f"/households/{household_id}/requests",
    )
    assert_recorded_once(browser, first, second)
    assert count(PaymentRequest) == 1


def test_an_approval_a_payment_and_a_reversal_sent_twice_are_recorded_once(
    login_as: Any, make: Factory
) -> None:
    request_id = make.submitted_request(20_000_00).id
    browser, _officer = login_as(Role.OFFICER)
    page = f"/payments/requests/{request_id}"
    first, second = sent_twice(browser, page, {}, f"{page}/approve")
    assert_recorded_once(browser, first, second)
    assert count(Approval, Approval.request_id == request_id) == 1
    paid = {"payment-paid_on": TODAY.isoformat(), "payment-reference": "Извод 9"}
    first, second = sent_twice(
        browser, page, paid | {"payment-amount": "20.000,00"}, f"{page}/payment"
    )
    assert_recorded_once(browser, first, second)
    assert count(Payment) == 1
    reversal = {"reversal-reversed_on": TODAY.isoformat(), "reversal-reason": "Двојно платено"}
    first, second = sent_twice(browser, page, reversal, f"{page}/reverse")
    assert_recorded_once(browser, first, second)
    assert count(PaymentReversal) == 1


def test_the_queue_sent_twice_approves_once(
    login_as: Any, make: Factory, coordinator: User, enrollment: Enrollment, arrear: Arrear
) -> None:
    chosen = []
    for amount in (1_000_00, 2_000_00):
        made = payments.create_request(coordinator, enrollment, arrear, amount, "", today=TODAY)
        payments.submit(coordinator, made, today=TODAY)
        chosen.append(str(made.id))
    browser, _officer = login_as(Role.OFFICER)
    first, second = sent_twice(browser, "/payments/queue", {"request_id": chosen})
    assert_recorded_once(browser, first, second)
    assert count(Approval) == 2
    assert set(db.session.scalars(select(PaymentRequest.status))) == {"approved"}


def test_hours_logged_twice_are_one_log(
    login_as: Any, make: Factory, enrollment: Enrollment, site: WorkSite
) -> None:
    browser, worker = login_as(Role.SOCIAL_WORKER)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment)
    form = {
        "member_id": enrollment.household.members[0].id,
        "site_id": site.id,
        "work_date": TODAY.isoformat(),
        "start_time": "08:00",
        "end_time": "11:15",
    }
    first, second = sent_twice(browser, "/work/log", form)
    assert_recorded_once(browser, first, second)
    assert count(WorkLog) == 1


def _two_logs(make: Factory, enrollment: Enrollment, site: WorkSite) -> list[int]:
    make.paid(enrollment)
    coordinator = make.coordinator(make.municipality())
    member = enrollment.household.members[0]
    return [
        work.log_work(
            coordinator, member, site, work.Shift(TODAY, start, start + 90), "", today=TODAY
        ).id
        for start in (8 * 60, 10 * 60)
    ]


def test_each_row_of_a_timesheet_has_its_own_key_and_a_confirmation_sent_twice_counts_once(
    login_as: Any, make: Factory, enrollment: Enrollment, site: WorkSite
) -> None:
    """The supervisor's week draws one confirm button per log from the same form: every copy
    gets a key of its own, or confirming the second log would pass for a copy of the first."""
    one, other = _two_logs(make, enrollment, site)
    browser, _s = login_as(Role.SUPERVISOR, organization=site.enterprise)
    week = f"/work/sites/{site.id}/week?start={TODAY.isoformat()}"
    page = browser.get(week).get_data(as_text=True)
    keys = keys_of(page, f"/work/logs/{one}/verify") + keys_of(page, f"/work/logs/{other}/verify")
    assert len(keys) == len(set(keys)) == 2
    first, second = sent_twice(browser, week, {}, f"/work/logs/{one}/verify")
    assert_recorded_once(browser, first, second)
    assert [log.status for log in db.session.scalars(select(WorkLog).order_by(WorkLog.id))] == [
        "verified",
        "logged",
    ]
    first, second = sent_twice(browser, week, {}, f"/work/logs/{other}/verify")
    assert_recorded_once(browser, first, second)
    assert count(WorkLog, WorkLog.status == "verified") == 2


def test_a_correction_from_the_hand_written_form_sent_twice_is_recorded_once(
    login_as: Any, make: Factory, enrollment: Enrollment, site: WorkSite
) -> None:
    one, _other = _two_logs(make, enrollment, site)
    log = db.session.get(WorkLog, one)
    assert log is not None
    work.verify(make.user(Role.SUPERVISOR, organization=site.enterprise), log, today=TODAY)
    browser, _user = login_as(Role.COORDINATOR)
    first, second = sent_twice(
        browser,
        f"/households/{enrollment.household_id}",
        {"reason": "Погрешен датум"},
        f"/work/logs/{one}/correct",
    )
    assert_recorded_once(browser, first, second)
    assert count(WorkLog, WorkLog.reverses_id == one) == 1


def test_an_application_a_decision_and_an_agreement_sent_twice_are_recorded_once(
    login_as: Any, make: Factory, coordinator: User, programme: Programme
) -> None:
    household = make.household()
    household_id, head_id, programme_id = household.id, household.members[0].id, programme.id
    browser, _user = login_as(Role.COORDINATOR)
    first, second = sent_twice(
        browser,
        f"/households/{household_id}/apply",
        {"programme_id": str(programme_id), "applied_on": TODAY.isoformat()},
    )
    assert_recorded_once(browser, first, second)
    enrollment = db.session.scalars(select(Enrollment)).one()
    votes = {f"vote-{m.id}": "for" for m in enrollment_services.commission_of(programme)}
    decision = {"decided_on": TODAY.isoformat(), "outcome": "approved", "reference": "З-1"}
    first, second = sent_twice(browser, f"/enrollments/{enrollment.id}/decision", decision | votes)
    assert_recorded_once(browser, first, second)
    assert count(CommissionDecision) == 1
    agreement = {"signed_on": TODAY.isoformat(), "reference": "Д-7", "signatories": [head_id]}
    first, second = sent_twice(browser, f"/enrollments/{enrollment.id}/agreement", agreement)
    assert_recorded_once(browser, first, second)
    assert count(Agreement) == 1


def test_an_exemption_and_a_note_sent_twice_are_stored_once(login_as: Any, make: Factory) -> None:
    household = make.household()
    household_id, head_id = household.id, household.members[0].id
    browser, _user = login_as(Role.COORDINATOR)
    exemption = {
        "reason": "unable_to_work",
        "document_ref": "Решение 12/2021, ЦСР Кичево",
        "starts_on": TODAY.isoformat(),
    }
    first, second = sent_twice(browser, f"/households/members/{head_id}/exemptions/new", exemption)
    assert_recorded_once(browser, first, second)
    assert count(Exemption) == 1
    note = {"text": "Посета", "visibility": "ngo", "written_on": TODAY.isoformat()}
    first, second = sent_twice(
        browser, f"/households/{household_id}", note, f"/households/{household_id}/notes"
    )
    assert_recorded_once(browser, first, second)
    assert count(CaseNote) == 1


def test_a_creditor_sent_twice_is_added_once(login_as: Any) -> None:
    browser, _admin = login_as(Role.ADMIN)
    first, second = sent_twice(browser, "/admin/creditors", {"name": "Водовод Кичево"})
    assert_recorded_once(browser, first, second)
    assert count(Organization, Organization.name == "Водовод Кичево") == 1


# --- refusals, copies at the same moment, forms without a key -----------------------------------


def test_a_refused_submit_keeps_its_key_for_the_corrected_form(
    login_as: Any, enrollment: Enrollment, arrear: Arrear
) -> None:
    """The service refuses too much; the user corrects the amount on the page it answered
    with, and the same form (the same key) is recorded."""
    household_id, arrear_id = enrollment.household_id, arrear.id
    browser, _user = login_as(Role.COORDINATOR)
    money = browser.get(f"/households/{household_id}/money").get_data(as_text=True)
    key = keys_of(money, f"/households/{household_id}/requests")[0]
    url = f"/households/{household_id}/requests"
    form = {"request-arrear_id": arrear_id, "form_key": key}
    refused = browser.post(url, form | {"request-amount": "42.500,01"})
    assert refused.status_code == 200 and "can still be requested" in refused.get_data(as_text=True)
    assert count(PaymentRequest) == 0 and count(FormKey) == 0
    invalid = browser.post(url, form | {"request-amount": "abc"})
    assert invalid.status_code == 200 and count(FormKey) == 0
    corrected = browser.post(url, form | {"request-amount": "20.000"})
    assert corrected.status_code == 302
    assert count(PaymentRequest) == 1 and count(FormKey) == 1


def test_two_copies_at_the_same_moment_record_once(
    login_as: Any, make: Factory, enrollment: Enrollment, site: WorkSite
) -> None:
    """Sent from two threads at once: one records, the other gets the same place, no 500."""
    browser, worker = login_as(Role.SOCIAL_WORKER)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment)
    form = {
        "member_id": enrollment.household.members[0].id,
        "site_id": site.id,
        "work_date": TODAY.isoformat(),
        "duration": "2:00",
        "form_key": keys_of(browser.get("/work/log").get_data(as_text=True))[0],
        "csrf_token": browser.csrf_token,
    }
    db.session.commit()
    start = threading.Barrier(2)
    answers: list[Any] = []

    def send() -> None:  # a request of its own, in this thread's own context and session
        start.wait()
        answers.append(browser.http.post("/work/log", data=form))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(a.status_code for a in answers) == [302, 302]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert count(WorkLog) == 1 and count(FormKey) == 1


def test_the_unique_key_decides_between_copies_that_both_passed_the_check(
    login_as: Any, monkeypatch: pytest.MonkeyPatch, make: Factory
) -> None:
    """Both copies looked before either committed (on PostgreSQL, at the same moment): the
    second's claim meets the unique constraint, does nothing and answers as the first."""
    household_id = make.household().id
    browser, _user = login_as(Role.COORDINATOR)
    page = browser.get(f"/households/{household_id}").get_data(as_text=True)
    form = {
        "text": "Посета",
        "visibility": "ngo",
        "written_on": TODAY.isoformat(),
        "form_key": keys_of(page, f"/households/{household_id}/notes")[0],
    }
    url = f"/households/{household_id}/notes"
    first = browser.post(url, form)
    looked = form_keys.sent
    blind = iter([None, None])  # the copy's two looks, as before the first had committed
    monkeypatch.setattr(form_keys, "sent", lambda user, key: next(blind, looked(user, key)))
    second = browser.post(url, form)
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    assert count(CaseNote) == 1 and count(FormKey) == 1


def test_a_claimed_key_cannot_be_claimed_again_and_old_keys_go(make: Factory) -> None:
    user = make.user(Role.COORDINATOR)
    now = utcnow()
    old = form_keys.claim(user, "old", now=now - form_keys.KEPT_FOR - timedelta(minutes=1))
    assert old is not None
    assert form_keys.claim(user, "k", now=now, location="/households/1") is not None
    db.session.commit()
    assert form_keys.claim(user, "k", now=now) is None  # the transaction goes on
    assert form_keys.claim(make.user(Role.COORDINATOR), "k", now=now) is not None  # per user
    db.session.commit()
    assert db.session.scalars(select(FormKey.key)).all() == ["k", "k"]
    found = form_keys.sent(user, "k")
    assert found is not None and found.location == "/households/1"


def test_a_form_without_a_key_is_done_as_before(login_as: Any, make: Factory) -> None:
    """A page opened before keys existed, or a script, sends no key: each POST is done
    (unguarded; the CSRF token still decides who may send it)."""
    household_id = make.household().id
    browser, _user = login_as(Role.COORDINATOR)
    note = {"text": "Посета", "visibility": "ngo", "written_on": TODAY.isoformat()}
    for _ in range(2):
        assert browser.post(f"/households/{household_id}/notes", note).status_code == 302
    assert count(CaseNote) == 2 and count(FormKey) == 0


def test_an_answer_that_is_a_page_is_not_replayed(login_as: Any) -> None:
    """A new API token is shown once, on the answer itself: that answer cannot be given
    again, so its form is not guarded (a second token, never a lost one)."""
    browser, _user = login_as(Role.COORDINATOR)
    first, second = sent_twice(browser, "/profile", {"name": "телефон"}, "/profile/tokens")
    assert first.status_code == second.status_code == 200
    assert count(FormKey) == 0


# --- every form carries a key -------------------------------------------------------------------

# Forms that change nothing (a search, a period) and logging in need no key.
UNKEYED = {LoginForm, ReauthForm, LogSearchForm, PeriodForm, PlainForm}  # PlainForm: their base


def _all_subclasses(cls: type) -> set[type]:
    return {sub for child in cls.__subclasses__() for sub in {child, *_all_subclasses(child)}}


def test_every_state_changing_form_class_draws_a_key(app: Any) -> None:
    forms = {f for f in _all_subclasses(FlaskForm) if f.__module__.startswith("casework.")}
    unkeyed = {f.__qualname__ for f in forms - UNKEYED if not issubclass(f, KeyedForm)}
    assert not unkeyed, f"derive these from casework.forms_common.KeyedForm: {unkeyed}"


def test_every_post_form_in_the_templates_draws_a_key() -> None:
    """A form's template draws a keyed form's ``hidden_tag()`` or, written by hand,
    ``{{ form_key() }}``; logging in and out and the language switch need none."""
    templates = Path(__file__).parent.parent / "templates"
    exempt = {"security/login.html", "security/reauthenticate.html"}
    missing = []
    for path in sorted(templates.rglob("*.html")):
        name = path.relative_to(templates).as_posix()
        for attrs, body in FORM_RE.findall(path.read_text()):
            if 'method="post"' not in attrs or name in exempt:
                continue
            if "security.logout" in attrs or "set_language" in attrs:
                continue
            if "hidden_tag()" not in body and "form_key()" not in body:
                missing.append(f"{name}: <form{attrs}>")
    assert not missing, missing

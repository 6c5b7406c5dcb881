"""Arbitrary input in the main forms' fields, through the pages as a browser sends it: never a
server error, and a form refused stores nothing.

Hypothesis fills each field of a valid form (a household with its head, a member, a statement,
a payment request, a work log) either with its valid value or with anything a person or a
script might send: any text (control characters included), an integer of any size, a date of
any year, a number in exponent form. A refusal is the form shown again; the rows of the form's
tables are then as before. The run is on the suite's database (SQLite, or PostgreSQL with
``CASEWORK_TEST_DATABASE_URL``), where an overflowing id or a NUL byte would be a 500; the
OpenAPI side is fuzzed by ``test_api_schemathesis``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casework.enrollment.models import Enrollment
from casework.households.models import Household, Member
from casework.payments.models import Arrear, PaymentRequest
from casework.programmes.models import Programme
from casework.security.models import Role
from casework.work.models import WorkLog, WorkSite
from tests.conftest import TODAY, Client, Factory, count
from tests.test_households import _new_household_form

# A few dozen requests per form: cheap on both databases. Under CI=true hypothesis's own "ci"
# profile makes the run derandomised (the same examples every time, no flaky build).
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ANYTHING = st.one_of(
    st.text(max_size=40),
    st.integers().map(str),
    st.integers(min_value=2**31 - 2, max_value=2**63 + 2).map(str),
    st.dates().map(date.isoformat),
    st.floats(allow_nan=True).map(str),
    st.sampled_from(["", " ", "0", "-1", "3e+28", "1e2", "2147483648", "\x00", "12:60", "٣"]),
)


def filled(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, str]]:
    """The form with each field either valid or anything (most examples mix both)."""
    return st.fixed_dictionaries(
        {name: st.one_of(st.just(str(value)), ANYTHING) for name, value in valid.items()}
    )


def rows(*models: Any) -> list[int]:
    return [count(model) for model in models]


def sent(browser: Client, url: str, form: dict[str, str], *models: Any) -> Any:
    """Post the form: never a server error, and nothing stored when refused."""
    before = rows(*models)
    response = browser.post(url, form)
    assert response.status_code < 500, (url, form)
    if response.status_code != 302:  # refused: the form again (or a 4xx)
        assert rows(*models) == before, (url, form, response.status_code)
    return response


def fuzzed(browser: Client, url: str, valid: dict[str, Any], *models: Any) -> None:
    """The valid form is stored first (the set-up is right), then come the variations."""
    assert sent(browser, url, {k: str(v) for k, v in valid.items()}, *models).status_code == 302

    @FUZZ
    @given(form=filled(valid))
    def variation(form: dict[str, str]) -> None:
        sent(browser, url, form, *models)

    variation()


def test_a_household_registration_with_any_field_is_never_a_500_nor_half_stored(
    login_as: Any, today_is: Callable[[date], None]
) -> None:
    today_is(TODAY)
    browser, coordinator = login_as(Role.COORDINATOR)
    valid = _new_household_form(municipality_id=str(coordinator.roles[0].municipality_id))

    fuzzed(browser, "/households/new", valid, Household, Member, Enrollment)


def test_a_member_with_any_field_is_never_a_500_nor_stored_when_refused(
    login_as: Any, enrollment: Enrollment, today_is: Callable[[date], None]
) -> None:
    today_is(TODAY)
    browser, _coordinator = login_as(Role.COORDINATOR, enrollment.household.municipality)
    url = f"/households/{enrollment.household_id}/members/new"
    valid = {
        "first_name": "Лејла",
        "last_name": "Мамудовска",
        "national_id": "",
        "birth_date": "2010-05-04",
        "sex": "F",
        "relation": "child",
    }

    fuzzed(browser, url, valid, Member)


def test_a_statement_with_any_field_is_never_a_500_nor_stored_when_refused(
    login_as: Any, arrear: Arrear, today_is: Callable[[date], None]
) -> None:
    today_is(TODAY)
    household_id = arrear.account.household_id
    browser, _coordinator = login_as(Role.COORDINATOR, arrear.account.household.municipality)
    valid = {
        "arrear-account_id": arrear.account_id,
        "arrear-period_from": "2020-11-01",
        "arrear-period_to": "2021-10-31",
        "arrear-principal": "15.000,00",
        "arrear-penalty": "2.500,00",
        "arrear-statement_ref": "Опомена 17/2021",
        "arrear-received_on": "2021-11-15",
    }

    fuzzed(browser, f"/households/{household_id}/arrears", valid, Arrear)


def test_a_payment_request_with_any_field_is_never_a_500_nor_stored_when_refused(
    login_as: Any, arrear: Arrear, today_is: Callable[[date], None]
) -> None:
    today_is(TODAY)
    household_id = arrear.account.household_id
    browser, _coordinator = login_as(Role.COORDINATOR, arrear.account.household.municipality)
    valid = {
        "request-arrear_id": arrear.id,
        "request-amount": "200,00",
        "request-submit_now": "y",
        "request-justification": "Исклучена струја",
    }

    fuzzed(browser, f"/households/{household_id}/requests", valid, PaymentRequest)


def test_a_work_log_with_any_field_is_never_a_500_nor_stored_when_refused(
    login_as: Any,
    make: Factory,
    programme: Programme,
    site: WorkSite,
    today_is: Callable[[date], None],
) -> None:
    today_is(TODAY)
    browser, worker = login_as(Role.SOCIAL_WORKER)
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment)
    valid = {
        "member_id": enrollment.household.members[0].id,
        "site_id": site.id,
        "work_date": TODAY.isoformat(),
        "start_time": "08:00",
        "end_time": "08:30",
        "duration": "",
        "task": "Чистење",
    }

    fuzzed(browser, "/work/log", valid, WorkLog)

"""The household list and the caseload: each family's enrollment status and balance, the
filters (status, social worker, settlement, programme, behind/overdue), the urgency order,
the same filters in the export and the API, and what a filter may never widen."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from casework.balances.models import BalanceRun, BalanceSnapshot, CheckStatus
from casework.enrollment import services as enrollment_services
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.households import queries
from casework.households.models import Household
from casework.organizations.models import Municipality
from casework.programmes.models import Programme
from casework.security.models import Role, User
from casework.work import queries as work_queries
from tests.conftest import TODAY, Client, Factory, job_file

# --- the families ------------------------------------------------------------------------------


def _household(make: Factory, name: str, **kwargs: Any) -> Household:
    return make.household(head_name=(name, "Мамудовски"), address=f"ул. {name} 1", **kwargs)


def _worker(make: Factory, municipality: Municipality, name: str) -> User:
    worker = make.user(Role.SOCIAL_WORKER, municipality)
    worker.full_name = name
    return worker


def _applied(make: Factory, programme: Programme, household: Household) -> Enrollment:
    return enrollment_services.apply(
        make.coordinator(household.municipality),
        household,
        programme,
        applied_on=date(2021, 11, 10),
        today=TODAY,
    )


def _checked(enrollment: Enrollment, status: CheckStatus, as_of: date = date(2022, 1, 10)) -> None:
    """The programme's balance check as of ``as_of`` found the family ``status``."""
    run = db.session.query(BalanceRun).filter_by(
        programme_id=enrollment.programme_id, as_of=as_of
    ).one_or_none() or BalanceRun(programme_id=enrollment.programme_id, as_of=as_of)
    db.session.add(run)
    db.session.flush()
    db.session.add(
        BalanceSnapshot(
            run_id=run.id,
            household_id=enrollment.household_id,
            owed=0,
            verified=0,
            pending=0,
            expected=0,
            status=status,
        )
    )
    db.session.flush()


@dataclass
class Register:
    """One municipality's families in every state the list tells apart."""

    programme: Programme
    never: Household  # never applied
    applied: Household
    approved: Household
    behind: Household  # active, 100 h owed, behind at the last check
    overdue: Household  # active, 50 h owed, overdue at the last check
    on_track: Household  # active, 200 h owed, on track
    completed: Household
    closed_early: Household  # 30 h owed, closed early; overdue at its last check
    worker: User
    other_worker: User


@pytest.fixture
def register(make: Factory, programme: Programme) -> Register:
    municipality = programme.municipality
    worker = _worker(make, municipality, "Ана Анастасова")
    other_worker = _worker(make, municipality, "Бесим Бајрами")
    coordinator = make.coordinator(municipality)
    never = _household(make, "Нико")
    applied = _household(make, "Ајше", worker=worker)
    _applied(make, programme, applied)
    approved = _household(make, "Бекир", worker=worker)
    enrollment_services.record_decision(
        coordinator,
        _applied(make, programme, approved),
        enrollment_services.DecisionData(
            decided_on=date(2021, 11, 25),
            outcome="approved",
            votes={m.id: "for" for m in enrollment_services.commission_of(programme)},
            reference="Записник 08-1",
        ),
        today=TODAY,
    )
    families = {}
    for name, first_name, owed in (
        ("behind", "Веби", 100),
        ("overdue", "Гзим", 50),
        ("on_track", "Дејан", 200),
        ("closed", "Елез", 30),
    ):
        enrollment = make.active_enrollment(programme, _household(make, first_name))
        make.paid(enrollment, owed * 100_00)
        families[name] = enrollment
    _checked(families["behind"], CheckStatus.BEHIND)
    _checked(families["overdue"], CheckStatus.OVERDUE)
    _checked(families["on_track"], CheckStatus.ON_TRACK)
    _checked(families["closed"], CheckStatus.OVERDUE)
    families["behind"].household.assigned_worker_id = other_worker.id
    families["overdue"].household.settlement = "Осломеј"
    enrollment_services.close_early(
        coordinator,
        families["closed"],
        enrollment_services.EarlyClosing(on=date(2022, 1, 12), reason="moved_away"),
        today=TODAY,
    )
    completed = make.active_enrollment(programme, _household(make, "Зоран"))
    enrollment_services.complete(
        coordinator, completed, on=date(2022, 1, 14), reason="", today=TODAY
    )
    db.session.commit()
    return Register(
        programme=programme,
        never=never,
        applied=applied,
        approved=approved,
        behind=families["behind"].household,
        overdue=families["overdue"].household,
        on_track=families["on_track"].household,
        completed=completed.household,
        closed_early=families["closed"].household,
        worker=worker,
        other_worker=other_worker,
    )


ROW = re.compile(r'<td data-label="[^"]*"[^>]*><a href="/households/(\d+)">')


def listed(browser: Client, **args: Any) -> list[int]:
    """The households the list page shows for ``args``, in its order."""
    page = browser.get("/households/?" + urlencode(args))
    assert page.status_code == 200
    return [int(i) for i in ROW.findall(page.get_data(as_text=True))]


def ids(*households: Household) -> list[int]:
    return [h.id for h in households]


# --- status and balance on every row -----------------------------------------------------------


def test_a_family_never_enrolled_reads_apart_from_one_that_finished(
    register: Register, login_as: Any
) -> None:
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    page = browser.get("/households/?sort=case").get_data(as_text=True)
    rows = {
        int(i): row for i, row in re.findall(r'href="/households/(\d+)">(.*?)</tr>', page, re.S)
    }
    assert "not enrolled" in rows[register.never.id]
    assert (
        "status-completed" in rows[register.completed.id]
        and "completed" in rows[register.completed.id]
    )
    assert "not enrolled" not in rows[register.completed.id]
    assert "closed early" in rows[register.closed_early.id]
    # the check shows while the enrollment is active: a closed family's last "overdue" is past
    assert "status-overdue" in rows[register.overdue.id]
    assert "status-overdue" not in rows[register.closed_early.id]
    assert "status-behind" in rows[register.behind.id]
    assert "50:00 h" in rows[register.overdue.id]  # hours left


def test_the_list_is_a_phone_card_per_family_with_a_label_on_every_cell(
    register: Register, login_as: Any
) -> None:
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    page = browser.get("/households/").get_data(as_text=True)
    table = page[page.index("<table") : page.index("</table>")]
    assert 'class="striped stack household-list"' in table and "<caption" in table
    body = table[table.index("<tbody>") :]
    assert body.count("<td") == body.count("<td data-label=") > 0
    for column in ("Case", "Head of household", "Status", "Left to work", "Done"):
        assert f'data-label="{column}"' in body
    assert '<details class="filters"' in page


# --- each filter lists exactly its families ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("none", ["never"]),
        ("applied", ["applied"]),
        ("approved", ["approved"]),
        ("active", ["behind", "overdue", "on_track"]),
        ("completed", ["completed"]),
        ("closed_early", ["closed_early"]),
        ("withdrawn", []),
    ],
)
def test_the_status_filter_lists_exactly_the_families_in_that_status(
    register: Register, login_as: Any, status: str, expected: list[str]
) -> None:
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    wanted = sorted(getattr(register, name).id for name in expected)
    assert sorted(listed(browser, status=status)) == wanted


def test_the_worker_settlement_and_programme_filters_list_exactly_their_families(
    register: Register, login_as: Any, make: Factory
) -> None:
    other_programme = make.programme(register.programme.municipality)
    elsewhere = make.active_enrollment(other_programme, _household(make, "Дритон")).household
    db.session.commit()
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    assert sorted(listed(browser, worker_id=register.worker.id)) == sorted(
        ids(register.applied, register.approved)
    )
    assert listed(browser, worker_id=register.other_worker.id) == ids(register.behind)
    unassigned = listed(browser, worker_id=queries.UNASSIGNED)
    assert register.never.id in unassigned and register.applied.id not in unassigned
    assert listed(browser, settlement="Осломеј") == ids(register.overdue)
    assert listed(browser, programme_id=other_programme.id) == ids(elsewhere)
    in_pilot = listed(browser, programme_id=register.programme.id)
    assert elsewhere.id not in in_pilot and register.never.id not in in_pilot
    assert len(in_pilot) == 7
    # filters combine with each other and with the search
    assert listed(browser, programme_id=register.programme.id, status="active", q="гзим") == (
        ids(register.overdue)
    )
    assert listed(browser, worker_id=register.worker.id, status="approved") == ids(
        register.approved
    )


def test_the_check_filter_lists_the_families_behind_or_overdue_at_their_latest_check(
    register: Register, login_as: Any
) -> None:
    # a later check finds the family on track again: the latest check counts
    enrollment = db.session.query(Enrollment).filter_by(household_id=register.on_track.id).one()
    _checked(enrollment, CheckStatus.BEHIND, date(2022, 1, 3))
    db.session.commit()
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    assert listed(browser, check="behind") == ids(register.behind)
    assert listed(browser, check="overdue") == ids(register.overdue)  # not the closed family
    assert listed(browser, check="late") == ids(register.overdue, register.behind)


def test_the_list_is_sorted_by_urgency_case_number_or_name(
    register: Register, login_as: Any
) -> None:
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    # overdue, then behind, then the other active families by hours left, then the
    # applications waiting for a step, the family never enrolled, and last the closed ones
    # (the most hours left first, then by case number)
    assert listed(browser) == ids(
        register.overdue,
        register.behind,
        register.on_track,
        register.applied,
        register.approved,
        register.never,
        register.closed_early,
        register.completed,
    )
    everyone = db.session.query(Household).all()
    assert listed(browser, sort="case") == [
        h.id for h in sorted(everyone, key=lambda h: h.case_number)
    ]
    assert listed(browser, sort="name") == ids(  # Ајше, Бекир, Веби, Гзим, Дејан, Елез, ...
        register.applied,
        register.approved,
        register.behind,
        register.overdue,
        register.on_track,
        register.closed_early,
        register.completed,
        register.never,
    )


def test_the_caseload_shows_each_familys_status_most_urgent_first(
    register: Register, make: Factory, app: Any
) -> None:
    for household in (register.overdue, register.on_track, register.never):
        household.assigned_worker_id = register.worker.id
    db.session.commit()
    browser = Client(app.test_client())
    browser.login(register.worker.username)
    page = browser.get("/home/social_worker").get_data(as_text=True)
    caseload = page[page.index('<ul class="caseload">') :]
    order = [int(i) for i in re.findall(r'href="/households/(\d+)"', caseload)]
    assert order[:2] == ids(register.overdue, register.on_track)
    assert sorted(order[2:]) == sorted(ids(register.never, register.applied, register.approved))
    assert "not enrolled" in caseload and "approved" in caseload and "overdue" in caseload


# --- scope and bad values ----------------------------------------------------------------------


def test_a_filter_never_reaches_another_municipalitys_families(
    register: Register, login_as: Any, make: Factory
) -> None:
    struga = make.municipality("STR", "Струга")
    foreign_worker = _worker(make, struga, "Хана Хасани")
    foreign_programme = make.programme(struga)
    foreign = make.active_enrollment(
        foreign_programme, _household(make, "Дритон", municipality=struga, worker=foreign_worker)
    ).household
    foreign.settlement = "Вевчани"
    db.session.commit()
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    page = browser.get("/households/").get_data(as_text=True)
    # only choices within the user's scope are offered
    assert "Хана Хасани" not in page and "Вевчани" not in page
    programmes = page[page.index('<select name="programme_id">') :]
    programmes = programmes[: programmes.index("</select>")]
    assert re.findall(r'value="(\d+)"', programmes) == [str(register.programme.id)]
    assert "Бесим Бајрами" in page
    for args in (
        {"worker_id": foreign_worker.id},
        {"programme_id": foreign_programme.id},
        {"settlement": "Вевчани"},
    ):
        response = browser.get("/households/?" + urlencode(args))
        shown = [int(i) for i in ROW.findall(response.get_data(as_text=True))]
        assert foreign.id not in shown
        assert "that value is not one of the choices" in response.get_data(as_text=True)
    # the social worker: its own caseload, whatever worker the URL names
    worker_browser = Client(browser.http.application.test_client())
    worker_browser.login(register.worker.username)
    assert sorted(listed(worker_browser, worker_id=register.other_worker.id)) == sorted(
        ids(register.applied, register.approved)
    )
    assert listed(worker_browser, status="active") == []
    # nor does the export, whose scope is the list's
    for user_browser in (browser, worker_browser):
        export = user_browser.get(f"/exports/households.csv?worker_id={foreign_worker.id}")
        assert export.status_code == 200
        assert len(list(csv.reader(io.StringIO(export.get_data(as_text=True))))) == 1  # headers


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"status": "sleeping"}, "Status"),
        ({"worker_id": "abc"}, "Social worker"),
        ({"programme_id": "99999999999999"}, "Programme"),
        ({"check": "late'--"}, "Balance check"),
        ({"sort": "salary"}, "Sort by"),
        ({"settlement": "Атлантида"}, "Settlement"),
    ],
)
def test_a_filter_value_that_is_no_choice_is_ignored_with_a_notice_naming_it(
    register: Register, login_as: Any, args: dict[str, str], field: str
) -> None:
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    response = browser.get("/households/?" + urlencode(args))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"{field}: that value is not one of the choices" in page
    assert len(ROW.findall(page)) == 8  # not filtered by it


def test_the_pager_and_the_export_links_keep_the_filters(
    register: Register, login_as: Any, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CASEWORK", replace(app.config["CASEWORK"], page_size=2))
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    args = {"programme_id": register.programme.id, "status": "active", "sort": "name"}
    page = browser.get("/households/?" + urlencode(args)).get_data(as_text=True)
    assert "Page 1 of 2 · 3 households" in page
    following = re.search(r'<a href="([^"]+)">Next', page)
    assert following is not None
    query = parse_qs(urlparse(following.group(1).replace("&amp;", "&")).query)
    assert query == {
        "page": ["2"],
        "programme_id": [str(register.programme.id)],
        "status": ["active"],
        "sort": ["name"],
    }
    exports = re.findall(r'href="(/exports/households\.(?:csv|xlsx)[^"]*)"', page)
    assert len(exports) == 2
    for link in exports:
        query = parse_qs(urlparse(link.replace("&amp;", "&")).query)
        assert query == {"programme_id": [str(register.programme.id)], "status": ["active"]}


# --- the export and the API apply the same filters ---------------------------------------------


def test_the_export_applies_the_lists_filters(register: Register, login_as: Any) -> None:
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    cases = {h.id: h.case_number for h in db.session.query(Household)}
    workbook = load_workbook(
        io.BytesIO(job_file(browser, browser.get("/exports/households.xlsx?check=late")).data)
    )
    rows = list(workbook.active.iter_rows(values_only=True))
    assert sorted(r[0] for r in rows[1:]) == sorted(
        cases[h.id] for h in (register.overdue, register.behind)
    )
    text = browser.get(
        "/exports/households.csv?" + urlencode({"status": "none", "worker_id": "0"})
    ).get_data(as_text=True)
    exported = [r[0] for r in list(csv.reader(io.StringIO(text)))[1:]]
    assert exported == [cases[register.never.id]]
    text = browser.get(
        f"/exports/households.csv?worker_id={register.worker.id}&status=approved"
    ).get_data(as_text=True)
    rows_ = list(csv.reader(io.StringIO(text)))[1:]
    assert [r[0] for r in rows_] == [cases[register.approved.id]]


@pytest.mark.parametrize(
    ("args", "field"),
    [({"status": "sleeping"}, "Status"), ({"worker_id": "x"}, "Social worker")],
)
def test_an_export_with_a_filter_value_that_is_no_choice_is_refused_naming_it(
    register: Register, login_as: Any, args: dict[str, str], field: str
) -> None:
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    for fmt in ("csv", "xlsx"):
        response = browser.get(f"/exports/households.{fmt}?" + urlencode(args))
        assert response.status_code == 400
        assert response.get_data(as_text=True) == f"{field}: that value is not one of the choices."


def test_the_api_lists_with_the_same_filters_and_order(register: Register, api_as: Any) -> None:
    api, _ = api_as(Role.COORDINATOR, register.programme.municipality)

    def api_ids(**args: Any) -> list[int]:
        response = api.get("/households?" + urlencode(args))
        assert response.status_code == 200, response.get_json()
        return [h["id"] for h in response.get_json()["items"]]

    assert api_ids(check="late") == ids(register.overdue, register.behind)
    assert api_ids(status="none") == ids(register.never)
    assert api_ids(worker_id=register.other_worker.id) == ids(register.behind)
    assert api_ids(settlement="Осломеј") == ids(register.overdue)
    assert api_ids(per_page=4)[:2] == ids(register.overdue, register.behind)
    item = api.get("/households?status=none").get_json()["items"][0]
    assert (item["enrollment_status"], item["check_status"]) == (None, None)
    item = api.get("/households?check=overdue").get_json()["items"][0]
    assert (item["enrollment_status"], item["check_status"]) == ("active", "overdue")
    for bad in ({"check": "soon"}, {"sort": "salary"}, {"worker_id": "-1"}):
        response = api.get("/households?" + urlencode(bad))
        assert response.status_code == 422
        assert list(response.get_json()["error"]["fields"]) == list(bad)


def test_the_api_documents_the_lists_filters(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = {p["name"] for p in spec["paths"]["/api/v1/households"]["get"]["parameters"]}
    assert {"status", "worker_id", "settlement", "programme_id", "check", "sort"} <= parameters


# --- the cost of a page ------------------------------------------------------------------------


def test_a_filtered_page_runs_the_same_statements_for_few_or_many_families(
    register: Register, login_as: Any, make: Factory
) -> None:
    browser, _ = login_as(Role.COORDINATOR, register.programme.municipality)
    statements: list[str] = []

    def counter(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    def statements_for(url: str) -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            assert browser.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        return len(statements)

    url = f"/households/?programme_id={register.programme.id}&check=late&sort=urgency"
    few = statements_for(url), statements_for("/households/")
    for _ in range(12):
        enrollment = make.active_enrollment(register.programme)
        make.paid(enrollment, 1_000_00)
        _checked(enrollment, CheckStatus.BEHIND)
    db.session.commit()
    assert (statements_for(url), statements_for("/households/")) == few


def test_the_list_query_is_one_statement_whatever_the_filters(
    register: Register, make: Factory
) -> None:
    coordinator = make.coordinator(register.programme.municipality)
    wanted = queries.ListFilter(programme_id=register.programme.id, check=queries.LATE)
    rows = work_queries.listed(db.session.execute(queries.household_list(coordinator, wanted)))
    assert [(r.household.id, r.status, r.check, r.balance.remaining) for r in rows] == [
        (register.overdue.id, "active", "overdue", 50 * 60),
        (register.behind.id, "active", "behind", 100 * 60),
    ]

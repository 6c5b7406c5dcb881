"""Dashboards, the family statement, the programme report and exports.

Every figure is checked against a sum computed here, independently, from the stored rows.
"""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, insert, select

from casework import formatting
from casework.audit.models import AuditEvent
from casework.balances.services import run_check
from casework.enrollment import services as enrollment_services
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.households.models import Household, Member, match_key
from casework.payments import services as payments
from casework.payments.models import Obligation, Payment, PaymentReversal
from casework.programmes.models import Programme
from casework.reports import queries, services
from casework.security.models import Role, User
from casework.work import services as work
from casework.work.models import WorkLog
from tests.conftest import TODAY, Client, Factory, job_file

PERIOD = (date(2021, 11, 1), TODAY)


@dataclass
class Pilot:
    programme: Programme
    enrollments: list[Enrollment]
    worker: User
    coordinator: User


@pytest.fixture
def signed_in(app: Flask) -> Callable[[User], Client]:
    """A browser logged in as an existing user."""

    def _browser(user: User) -> Client:
        browser = Client(app.test_client())
        assert browser.login(user.username).status_code == 302
        return browser

    return _browser


@pytest.fixture
def pilot(make: Factory) -> Pilot:
    """Three active families: two paid (one payment reversed), hours logged, verified and
    rejected; one family completes its hours."""
    programme = make.programme()
    worker = make.user(Role.SOCIAL_WORKER, programme.municipality)
    coordinator = make.user(Role.COORDINATOR, programme.municipality)
    site = make.site(programme.municipality)
    supervisor = make.user(Role.SUPERVISOR, programme.municipality, organization=site.enterprise)
    enrollments = [make.active_enrollment(programme) for _ in range(3)]
    for enrollment in enrollments:
        enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollments[0], 12_000_00)  # 120 h
    make.paid(enrollments[1], 3_000_00)  # 30 h
    reversed_payment = make.paid(enrollments[2], 5_000_00)
    officer = make.user(Role.OFFICER, programme.municipality)
    payments.reverse_payment(
        officer, reversed_payment, "Платено двапати.", on=date(2021, 12, 10), today=TODAY
    )
    day = date(2021, 12, 6)  # a Monday
    for week in range(6):
        for offset in (0, 2):
            when = day + timedelta(weeks=week, days=offset)
            for enrollment in enrollments[:2]:
                head = enrollment.household.members[0]
                entry = work.log_work(
                    worker, head, site, work.Shift(when, 8 * 60, 11 * 60), "Чистење", today=TODAY
                )
                if week == 5 and offset == 2:
                    continue  # waits for the supervisor
                if week == 4 and offset == 0:
                    work.reject(supervisor, entry, "Не дојде.", today=TODAY)
                else:
                    work.verify(supervisor, entry, today=TODAY)
    enrollment_services.complete(
        coordinator, enrollments[1], on=date(2022, 1, 12), reason="Одработено.", today=TODAY
    )
    db.session.commit()
    return Pilot(programme, enrollments, worker, coordinator)


def independent_sums(programme: Programme) -> dict[str, int]:
    """The report's headline figures, summed here in Python from every stored row."""
    payments_ = db.session.scalars(select(Payment)).all()
    reversed_ids = set(db.session.scalars(select(PaymentReversal.payment_id)))
    live = [p for p in payments_ if p.id not in reversed_ids]
    obligations = [
        o for o in db.session.scalars(select(Obligation)) if o.payment_id not in reversed_ids
    ]
    logs = db.session.scalars(select(WorkLog)).all()
    return {
        "paid": sum(p.amount_deni for p in live),
        "owed": sum(o.minutes for o in obligations),
        "verified": sum(log.minutes for log in logs if log.status == "verified"),
        "pending": sum(log.minutes for log in logs if log.status == "logged"),
    }


# --- the programme report ------------------------------------------------------------------


def test_the_report_figures_are_the_sums_of_the_stored_rows(pilot: Pilot) -> None:
    expected = independent_sums(pilot.programme)
    figures = queries.indicators(pilot.programme, *PERIOD)
    assert figures.paid_deni == expected["paid"] == 15_000_00
    assert figures.owed_minutes == expected["owed"] == 150 * 60
    assert figures.verified_minutes == expected["verified"]
    assert figures.activated == 3 and figures.completed == 1 and figures.active_now == 2
    assert figures.completion_rate == 33
    active_since = pilot.enrollments[1].active_since
    assert active_since is not None
    assert figures.average_days_to_complete == (date(2022, 1, 12) - active_since).days
    assert sum(m.paid_deni for m in figures.months) == figures.paid_deni
    assert sum(m.verified_minutes for m in figures.months) == figures.verified_minutes
    assert dict(figures.by_creditor) == {"EVN Home": 15_000_00}
    december = next(m for m in figures.months if m.month == date(2021, 12, 1))
    assert december.paid_deni == 15_000_00 and december.activated == 3


def test_a_shorter_period_counts_only_what_happened_in_it(pilot: Pilot) -> None:
    january = queries.indicators(pilot.programme, date(2022, 1, 1), TODAY)
    logs = db.session.scalars(select(WorkLog).where(WorkLog.status == "verified")).all()
    assert january.verified_minutes == sum(
        log.minutes for log in logs if log.work_date >= date(2022, 1, 1)
    )
    assert january.paid_deni == 0 and january.activated == 0 and january.completed == 1


def test_the_report_page_pdf_and_workbook_show_the_same_figures(
    pilot: Pilot, login_as: Any
) -> None:
    browser, _user = login_as(Role.OFFICER, pilot.programme.municipality)
    url = f"/programmes/{pilot.programme.id}/report?period_from=2021-11-01&period_to=2022-01-17"
    page = browser.get(url).get_data(as_text=True)
    assert "15,000.00 MKD" in page and "150:00 h" in page and "33 %" in page
    verified = independent_sums(pilot.programme)["verified"]
    hours = f"{verified // 60}:{verified % 60:02d} h"
    assert hours in page
    assert "Мухамед" not in page  # figures only, no names
    pdf = job_file(browser, browser.get(url.replace("/report?", "/report.pdf?")))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "15,000.00 MKD" in text and hours in text and "EVN Home" in text
    report_xlsx = job_file(browser, browser.get(url.replace("/report?", "/report.xlsx?")))
    workbook = load_workbook(io.BytesIO(report_xlsx.data))
    values = {row[0]: row[1] for row in workbook.worksheets[0].iter_rows(values_only=True)}
    assert values["Debt paid (ден.)"] == 15_000
    assert values["Families activated"] == 3
    assert float(values["Hours verified"]) == verified / 60
    months = list(workbook.worksheets[2].iter_rows(values_only=True))
    assert sum(row[3] for row in months[1:]) == 15_000


def test_targets_are_set_by_the_coordinator_and_shown_against_results(
    pilot: Pilot, login_as: Any
) -> None:
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    url = f"/programmes/{pilot.programme.id}/report"
    browser.get(url)
    saved = browser.post(
        url, {"target_families": "30", "target_debt": "1.000.000,00", "target_hours": "10000"}
    )
    assert saved.status_code == 302
    db.session.expire_all()
    programme = db.session.get(Programme, pilot.programme.id)
    assert programme is not None
    assert (programme.target_families, programme.target_debt_deni, programme.target_minutes) == (
        30,
        1_000_000_00,
        600_000,
    )
    page = browser.get(url).get_data(as_text=True)
    assert "3 of 30" in page and "15,000.00 MKD of 1,000,000.00 MKD" in page
    officer, _o = login_as(Role.OFFICER, pilot.programme.municipality)
    assert officer.post(url, {"target_families": "1"}).status_code == 403


def test_a_period_backwards_or_endless_is_refused_with_a_message(
    pilot: Pilot, login_as: Any
) -> None:
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    base = f"/programmes/{pilot.programme.id}/report"
    backwards = browser.get(f"{base}?period_from=2022-01-10&period_to=2021-12-01")
    assert "The period must end on or after its start." in backwards.get_data(as_text=True)
    assert "Download as PDF" not in backwards.get_data(as_text=True)
    endless = browser.get(f"{base}.pdf?period_from=2000-01-01&period_to=2022-01-01")
    assert endless.status_code == 400 and "ten years" in endless.get_data(as_text=True)


def test_a_report_of_another_municipality_is_not_found(
    pilot: Pilot, login_as: Any, make: Factory
) -> None:
    browser, _user = login_as(Role.OFFICER, make.municipality("GOS", "Гостивар"))
    assert browser.get(f"/programmes/{pilot.programme.id}/report").status_code == 404
    assert browser.get(f"/programmes/{pilot.programme.id}/report.xlsx").status_code == 404


# --- the family statement ------------------------------------------------------------------


def test_the_statement_shows_the_familys_figures_in_its_language(
    pilot: Pilot, login_as: Any
) -> None:
    household = pilot.enrollments[0].household
    household.language = "sq"
    db.session.commit()
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    page = browser.get(f"/households/{household.id}/statement").get_data(as_text=True)
    balance = queries.statement(household, TODAY).balance
    assert balance.owed == 120 * 60
    assert formatting.money(12_000_00, "sq") in page  # the family's language: Albanian
    assert "120:00 " in page
    head_id = household.members[0].national_id
    assert head_id is not None and head_id not in page and head_id[-4:] in page
    pdf = browser.get(f"/households/{household.id}/statement.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    amount = formatting.money(12_000_00, "sq").replace("\xa0", " ")
    assert household.case_number in text and amount in text.replace("\xa0", " ")
    assert head_id not in text


def test_a_statement_outside_the_users_scope_is_not_found(
    pilot: Pilot, login_as: Any, make: Factory
) -> None:
    household = pilot.enrollments[0].household
    other, _user = login_as(Role.COORDINATOR, make.municipality("GOS", "Гостивар"))
    assert other.get(f"/households/{household.id}/statement").status_code == 404
    assert other.get(f"/households/{household.id}/statement.pdf").status_code == 404
    stranger, _w = login_as(Role.SOCIAL_WORKER, pilot.programme.municipality)
    assert stranger.get(f"/households/{household.id}/statement").status_code == 404


# --- exports -------------------------------------------------------------------------------


def read_csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_an_export_holds_exactly_the_rows_the_user_sees_on_screen(
    pilot: Pilot, login_as: Any, make: Factory, signed_in: Callable[[User], Client]
) -> None:
    other = make.household(pilot.programme.municipality, head_name=("Ана", "Туѓа"))
    db.session.commit()
    worker = signed_in(pilot.worker)
    exported = read_csv(worker.get("/exports/households.csv"))
    caseload = {e.household.case_number for e in pilot.enrollments}
    assert {row[0] for row in exported[1:]} == caseload
    assert other.case_number not in {row[0] for row in exported[1:]}
    listed = worker.get("/households/").get_data(as_text=True)
    assert all(case in listed for case in caseload) and other.case_number not in listed
    coordinator, _c = login_as(Role.COORDINATOR, pilot.programme.municipality)
    everyone = read_csv(coordinator.get("/exports/households.csv"))
    assert len(everyone) - 1 == db.session.scalar(select(func.count()).select_from(Household))
    searched = read_csv(coordinator.get("/exports/households.csv?q=Туѓа"))
    assert [row[0] for row in searched[1:]] == [other.case_number]


def test_exports_are_audited_and_hold_the_stored_figures(pilot: Pilot, login_as: Any) -> None:
    browser, user = login_as(Role.OFFICER, pilot.programme.municipality)
    response = browser.get(f"/exports/payments.csv?programme_id={pilot.programme.id}")
    rows = read_csv(response)
    assert rows[0][:3] == ["Paid on", "Case number", "First name"]
    amounts = [row[8] for row in rows[1:]]
    assert sorted(amounts) == ["12000.00", "3000.00", "5000.00"]
    assert sum(1 for row in rows[1:] if row[9]) == 1  # the reversed one says when
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.payments"))
    assert event is not None and event.actor_id == user.id and event.changes["rows"] == 3
    logs = read_csv(browser.get("/exports/work_logs.csv?from=2022-01-01&to=2022-01-17"))
    stored = db.session.scalars(select(WorkLog).where(WorkLog.work_date >= date(2022, 1, 1))).all()
    assert sum(int(row[5]) for row in logs[1:]) == sum(log.minutes for log in stored)


def workbook_rows(browser: Client, url: str) -> list[Any]:
    """The rows of an exported workbook (built by the worker, downloaded from the job)."""
    workbook = load_workbook(io.BytesIO(job_file(browser, browser.get(url)).data))
    return list(workbook.active.iter_rows())


def test_cells_that_would_run_as_formulas_are_defused(pilot: Pilot, login_as: Any) -> None:
    household = pilot.enrollments[0].household
    household.address = '=HYPERLINK("http://evil.example","клик")'
    household.settlement = "+38970111222"
    db.session.commit()
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    rows = read_csv(browser.get("/exports/households.csv"))
    row = next(r for r in rows if r[0] == household.case_number)
    assert row[2].startswith("'=HYPERLINK") and row[1] == "'+38970111222"
    rows_ = workbook_rows(browser, "/exports/households.xlsx")
    cells = next(r for r in rows_ if r[0].value == household.case_number)
    # A text cell, shown as written (no apostrophe), that editing never turns into a formula.
    assert cells[2].data_type == "s" and cells[2].value == household.address
    assert cells[2].quotePrefix and cells[1].value == "+38970111222"


FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"]


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_each_start_of_a_formula_is_defused_by_one_rule_in_every_file(
    start: str, pilot: Pilot, login_as: Any
) -> None:
    """The CSV and XLSX exports, the report's workbook and the import's error file follow
    ``formatting.defuse_formula``: the CSV's cell gets an apostrophe, the workbook's is text."""
    from casework.imports.files import Table
    from casework.imports.parsing import ERROR, RowResult
    from casework.imports.services import ImportReport, error_rows_csv
    from casework.reports.rendering import xlsx_value

    text = start + "SUM(A1:A9)"
    assert formatting.defuse_formula(text) == text
    assert isinstance(formatting.defuse_formula(text), formatting.FormulaText)
    assert formatting.csv_cell(text) == "'" + text
    household = pilot.enrollments[0].household
    household.address = text
    db.session.commit()
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    row = next(
        r for r in read_csv(browser.get("/exports/households.csv")) if r[0] == household.case_number
    )
    assert row[2] == "'" + text
    rows = workbook_rows(browser, "/exports/households.xlsx")
    cells = next(r for r in rows if r[0].value == household.case_number)
    as_read = text.replace("\r", "\n")  # XML reads a carriage return as a line feed
    assert (cells[2].value, cells[2].data_type, cells[2].quotePrefix) == (as_read, "s", True)
    report = ImportReport("households", "x.csv", "", [RowResult(2, ERROR, errors={"": "No."})])
    error_file = error_rows_csv(Table(["address"], [(2, [text])]), report)
    assert next(csv.reader(io.StringIO(error_file.lstrip("\ufeff")), delimiter=";"))[0] == (
        "address"
    )
    assert list(csv.reader(io.StringIO(error_file.lstrip("\ufeff")), delimiter=";"))[1][0] == (
        "'" + text
    )
    cell = xlsx_value(object(), text)
    assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True)
    assert xlsx_value(object(), "Кичево") == "Кичево" and xlsx_value(object(), 7) == 7


def test_a_phone_number_is_a_text_cell_without_an_apostrophe(pilot: Pilot, login_as: Any) -> None:
    household = pilot.enrollments[0].household
    household.phone = "+38970123456"
    db.session.commit()
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    rows = workbook_rows(browser, "/exports/households.xlsx")
    headers = [c.value for c in rows[0]]
    phone = next(r for r in rows if r[0].value == household.case_number)[headers.index("Phone")]
    assert phone.data_type == "s" and phone.value == "+38970123456"


def test_every_familys_status_is_exported_open_or_closed(
    pilot: Pilot, login_as: Any, make: Factory
) -> None:
    active, completed, withdrawn = pilot.enrollments  # the second completed its hours
    enrollment_services.withdraw(
        pilot.coordinator, withdrawn, on=date(2022, 1, 14), reason="Се одсели.", today=TODAY
    )
    applied = make.household(pilot.programme.municipality, head_name=("Ана", "Нова"))
    enrollment_services.apply(
        pilot.coordinator, applied, pilot.programme, applied_on=TODAY, today=TODAY
    )
    never = make.household(pilot.programme.municipality, head_name=("Веби", "Без"))
    db.session.commit()
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    expected = {
        active.household.case_number: "active",
        completed.household.case_number: "completed",
        withdrawn.household.case_number: "withdrawn",
        applied.case_number: "applied",
        never.case_number: "",
    }
    rows = read_csv(browser.get("/exports/households.csv"))
    column = rows[0].index("Status")
    assert {r[0]: r[column] for r in rows[1:]} == expected
    in_programme = read_csv(
        browser.get(f"/exports/households.csv?programme_id={pilot.programme.id}")
    )
    assert {r[0]: r[column] for r in in_programme[1:]} == {
        case: status for case, status in expected.items() if status
    }
    sheet = workbook_rows(browser, "/exports/households.xlsx")
    assert {r[0].value: r[column].value or "" for r in sheet[1:]} == expected


def test_hours_are_exported_as_h_mm_beside_the_minutes_as_the_page_shows_them(
    pilot: Pilot, login_as: Any
) -> None:
    household = pilot.enrollments[0].household
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    rows = read_csv(browser.get("/exports/households.csv"))
    headers = rows[0]
    row = next(r for r in rows if r[0] == household.case_number)
    owed = headers.index("Minutes owed")
    assert headers[owed + 1 : owed + 4] == ["Hours owed", "Minutes verified", "Hours verified"]
    assert (row[owed], row[owed + 1]) == ("7200", "120:00")
    verified = int(row[owed + 2])
    assert row[owed + 3] == formatting.clock_hours(verified) == f"{verified // 60}:00"
    page = browser.get(f"/households/{household.id}").get_data(as_text=True)
    assert f"{row[owed + 1]} h" in page and f"{row[owed + 3]} h" in page
    logs = read_csv(browser.get("/exports/work_logs.csv"))
    minutes = logs[0].index("Minutes")
    assert logs[0][minutes + 1] == "Hours (h:mm)"
    assert {(r[minutes], r[minutes + 1]) for r in logs[1:]} == {("180", "3:00")}
    sheet = workbook_rows(browser, "/exports/households.xlsx")
    cells = next(r for r in sheet if r[0].value == household.case_number)
    assert (cells[owed].value, cells[owed + 1].value) == (7200, "120:00")


def test_auditors_get_case_numbers_only(pilot: Pilot, login_as: Any) -> None:
    browser, _user = login_as(Role.AUDITOR, pilot.programme.municipality)
    response = browser.get("/exports/households.csv")
    assert (
        response.status_code == 200 and "pseudonymised" in response.headers["Content-Disposition"]
    )
    rows = read_csv(response)
    assert rows[0] == ["Case number", "Settlement", "Members", "Status", "Minutes owed",
                       "Hours owed", "Minutes verified", "Hours verified"]  # fmt: skip
    text = response.get_data(as_text=True)
    for enrollment in pilot.enrollments:
        head = enrollment.household.members[0]
        assert head.last_name not in text and (head.national_id or "")[-4:] not in text
    owed = {row[0]: int(row[4]) for row in rows[1:]}
    assert owed[pilot.enrollments[0].household.case_number] == 120 * 60
    payments_rows = read_csv(browser.get("/exports/payments.csv"))
    assert "First name" not in payments_rows[0]


def test_people_without_a_list_get_no_export(pilot: Pilot, login_as: Any) -> None:
    supervisor, _s = login_as(Role.SUPERVISOR, pilot.programme.municipality)
    assert supervisor.get("/exports/households.csv").status_code == 403
    assert supervisor.get("/exports/work_logs.xlsx?pseudonymised=1").status_code == 403
    coordinator, _c = login_as(Role.COORDINATOR, pilot.programme.municipality)
    assert coordinator.get("/exports/secrets.csv").status_code == 400
    assert coordinator.get("/exports/households.pdf").status_code == 400
    backwards = coordinator.get("/exports/payments.csv?from=2022-01-10&to=2021-01-01")
    assert backwards.status_code == 400 and "end on or after" in backwards.get_data(as_text=True)
    exports = select(func.count()).where(AuditEvent.action.like("export.%"))
    assert db.session.scalar(exports) == 0


def test_snapshots_export_matches_the_balance_check(pilot: Pilot, login_as: Any) -> None:
    run = run_check(pilot.programme, TODAY, today=TODAY, trigger="manual").run
    db.session.commit()
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    rows = read_csv(browser.get(f"/exports/snapshots.csv?programme_id={pilot.programme.id}"))
    assert len(rows) - 1 == len(run.snapshots)
    assert sum(int(r[2]) for r in rows[1:]) == sum(s.owed for s in run.snapshots)


@pytest.mark.slow
def test_an_export_of_50000_households_streams_in_bounded_memory(make: Factory) -> None:
    """Peak memory while writing 50.000 rows stays near that of 5.000: rows are not held."""
    municipality = make.municipality()
    coordinator = make.user(Role.COORDINATOR, municipality)
    db.session.commit()

    def add(households: int, start: int) -> None:
        db.session.execute(
            insert(Household),
            [
                {
                    "municipality_id": municipality.id,
                    "case_number": f"KIC-B{n:07d}",
                    "address": f"ул. Тест бр. {n}",
                    "address_key": match_key(f"ул. Тест бр. {n}"),
                    "settlement": "Кичево",
                    "phone": "",
                    "language": "mk",
                }
                for n in range(start, start + households)
            ],
        )
        ids = db.session.scalars(
            select(Household.id).where(Household.case_number >= f"KIC-B{start:07d}")
        ).all()
        db.session.execute(
            insert(Member),
            [
                {
                    "household_id": hid,
                    "first_name": "Реџеп",
                    "last_name": f"Тестовски{hid}",
                    "name_key": match_key("Реџеп", f"Тестовски{hid}"),
                    "birth_date": date(1980, 1, 1),
                    "sex": "M",
                    "relation": "head",
                    "is_head": True,
                }
                for hid in ids
            ],
        )
        db.session.commit()

    def peak(fmt: str) -> tuple[int, int]:
        wanted = services.ExportFilter(kind="households", fmt=fmt)
        export = services.build_export(coordinator, wanted)
        tracemalloc.start()
        rows = 0
        if fmt == "csv":
            for chunk in services.stream_csv(export):
                rows += chunk.count("\n")
            _current, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        else:
            path = services.write_xlsx(export, "households")
            _current, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rows = sum(1 for _ in load_workbook(path, read_only=True).active.iter_rows()) - 1
            path.unlink()
        return rows, top

    add(5_000, 0)
    small_rows, small_peak = peak("csv")
    add(45_000, 5_000)
    large_rows, large_peak = peak("csv")
    assert small_rows == 5_001 and large_rows == 50_001
    assert large_peak < 2 * small_peak + 2_000_000, (small_peak, large_peak)
    assert large_peak < 20_000_000
    xlsx_rows, xlsx_peak = peak("xlsx")
    assert xlsx_rows == 50_000
    assert xlsx_peak < 2 * small_peak + 20_000_000, xlsx_peak


# --- dashboards ----------------------------------------------------------------------------


def test_the_coordinators_home_counts_what_waits_for_it(pilot: Pilot, login_as: Any) -> None:
    run_check(pilot.programme, TODAY, today=TODAY, trigger="manual")
    db.session.commit()
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    page = browser.get("/home/coordinator").get_data(as_text=True)
    waiting = db.session.scalar(select(func.count()).where(WorkLog.status == "logged"))
    assert waiting == 2
    assert f'<p class="big">{waiting}</p>' in page
    assert "data-chart=" in page and "chart.umd.min.js" in page
    statuses = queries.status_counts(queries.latest_statuses([pilot.programme.id]))
    for status, count in statuses.items():
        assert f"{count}</span>" in page, status


def test_the_officers_home_shows_the_budget_left(pilot: Pilot, login_as: Any) -> None:
    browser, _user = login_as(Role.OFFICER, pilot.programme.municipality)
    page = browser.get("/home/officer").get_data(as_text=True)
    left = pilot.programme.budget_deni - independent_sums(pilot.programme)["paid"]
    assert f"{left // 100:,}.{left % 100:02d} MKD" in page
    assert '"doughnut"' in page


def test_the_auditors_home_has_indicators_and_no_names(pilot: Pilot, login_as: Any) -> None:
    browser, _user = login_as(Role.AUDITOR, pilot.programme.municipality)
    page = browser.get("/home/auditor").get_data(as_text=True)
    assert "15,000.00 MKD" in page and "enrollment.completed" in page
    for enrollment in pilot.enrollments:
        assert enrollment.household.members[0].last_name not in page


# --- hours worked beyond what is owed (a payment reversed after work) ---------------------------


def test_hours_worked_before_a_reversal_show_beyond_what_is_owed_with_one_figure_everywhere(  # type: ignore[no-untyped-def]
    make: Factory, login_as: Any, api_as, today_is
) -> None:
    from casework.balances.models import BalanceSnapshot
    from casework.work.queries import balances

    today_is(TODAY)
    programme = make.programme()
    enrollment = make.active_enrollment(programme)
    household = enrollment.household
    make.paid(enrollment, 500_00)  # 5 h, kept
    reversed_payment = make.paid(enrollment, 1_000_00)  # 10 h, reversed after 9 h of work
    site = make.site(programme.municipality)
    supervisor = make.user(Role.SUPERVISOR, programme.municipality, organization=site.enterprise)
    coordinator = make.coordinator(programme.municipality)
    for day in (date(2021, 12, 6), date(2021, 12, 7), date(2021, 12, 8)):
        shift = work.Shift(day, 8 * 60, 11 * 60)
        entry = work.log_work(
            coordinator, household.members[0], site, shift, "Чистење", today=TODAY
        )
        work.verify(supervisor, entry, today=TODAY)
    officer = make.user(Role.OFFICER, programme.municipality)
    payments.reverse_payment(officer, reversed_payment, "Платено двапати.", on=TODAY, today=TODAY)
    household.language = "en"
    db.session.commit()

    balance = balances([household.id])[household.id]
    assert (balance.owed, balance.verified, balance.remaining, balance.beyond) == (300, 540, 0, 240)
    shown = "4:00 h"
    browser, _user = login_as(Role.COORDINATOR, programme.municipality)
    page = browser.get(f"/households/{household.id}").get_data(as_text=True)
    assert f"Worked beyond what is owed</dt><dd>{shown}" in page
    statement = browser.get(f"/households/{household.id}/statement").get_data(as_text=True)
    assert f"Hours worked beyond what is owed</dt><dd>{shown}" in statement
    pdf = browser.get(f"/households/{household.id}/statement.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Hours worked beyond what is owed" in text and shown in text
    assert queries.indicators(programme, *PERIOD).beyond_minutes == 240
    report = browser.get(
        f"/programmes/{programme.id}/report?period_from=2021-11-01&period_to=2022-01-17"
    ).get_data(as_text=True)
    assert f"Hours worked beyond what is owed</dt><dd>{shown}" in report
    api, _api_user = api_as(Role.COORDINATOR, programme.municipality)
    answer = api.get(
        f"/programmes/{programme.id}/report?period_from=2021-11-01&period_to=2022-01-17"
    )
    assert answer.get_json()["beyond_minutes"] == 240
    # The balance check does not flag the family: what it worked covers what it owes.
    run_check(programme, TODAY, today=TODAY)
    snapshot = db.session.scalars(
        select(BalanceSnapshot).where(BalanceSnapshot.household_id == household.id)
    ).one()
    assert (snapshot.status, snapshot.owed, snapshot.verified, snapshot.flagged) == (
        "completed",
        300,
        540,
        False,
    )


def test_the_report_counts_early_closings_apart_from_completions(
    make: Factory, login_as: Any
) -> None:
    programme = make.programme()
    coordinator = make.coordinator(programme.municipality)
    completed, closed = (make.active_enrollment(programme) for _ in range(2))
    enrollment_services.complete(
        coordinator, completed, on=date(2022, 1, 10), reason="", today=TODAY
    )
    make.paid(closed, 2_000_00)
    enrollment_services.close_early(
        coordinator,
        closed,
        enrollment_services.EarlyClosing(on=date(2022, 1, 12), reason="moved_away"),
        today=TODAY,
    )
    db.session.commit()
    figures = queries.indicators(programme, *PERIOD)
    assert (figures.completed, figures.closed_early, figures.active_now) == (1, 1, 0)
    assert figures.completion_rate == 50
    january = next(m for m in figures.months if m.month == date(2022, 1, 1))
    assert (january.completed, january.closed_early) == (1, 1)
    browser, _user = login_as(Role.COORDINATOR, programme.municipality)
    page = browser.get(
        f"/programmes/{programme.id}/report?period_from=2021-11-01&period_to=2022-01-17"
    ).get_data(as_text=True)
    assert "Families closed early, with hours owed</dt><dd>1" in page
    assert "Families who completed their hours</dt><dd>1" in page


def test_targets_above_the_shared_bounds_are_refused_as_too_large_all_at_once(
    make: Factory, programme: Programme
) -> None:
    from casework.errors import ValidationError
    from casework.programmes.services import Targets, set_targets

    coordinator = make.coordinator(programme.municipality)
    with pytest.raises(ValidationError) as refused:
        set_targets(
            coordinator,
            programme,
            Targets(families=0, debt_deni=10_000_000_01, minutes=1_000_001 * 60),
        )
    fields = dict(refused.value.errors)
    assert set(fields) == {"target_families", "target_debt_deni", "target_minutes"}
    assert "too large" in fields["target_debt_deni"] and "too large" in fields["target_minutes"]
    db.session.expire_all()
    assert programme.target_debt_deni is None and programme.target_minutes is None


def test_the_statement_page_speaks_to_the_user_in_its_language_and_to_the_family_in_its(
    pilot: Pilot, login_as: Any
) -> None:
    from casework.i18n import translate

    household = pilot.enrollments[0].household
    household.language = "sq"
    db.session.commit()
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality, locale="mk")
    page = browser.get(f"/households/{household.id}/statement").get_data(as_text=True)
    controls = page[page.index("statement-controls") : page.index('<article class="statement"')]
    for button in ("Download as PDF", "Back to the household"):
        assert translate(button, "mk") in controls  # the coordinator's language
        assert translate(button, "sq") not in controls
    assert "data-print" in controls
    content = page[page.index('<article class="statement" lang="sq">') :]
    title = translate("Statement for household %(case)s", "sq") % {"case": household.case_number}
    assert title in content  # the family's language
    assert formatting.money(12_000_00, "sq") in content
    assert '<html lang="mk"' in page


# --- the PDFs: labels clear of their values, figures right, page x of y, issuer, charts -------


@dataclass(frozen=True)
class TextBox:
    """A run of text as the PDF places it: its left edge, baseline and size (in points)."""

    text: str
    x: float
    y: float
    size: float

    def right(self, bold: bool) -> float:
        """The right edge, measured with the document's own font."""
        from fpdf import FPDF

        from casework.reports.rendering import FONTS

        ruler = FPDF(unit="pt")
        style = "B" if bold else ""
        ruler.add_font("DejaVu", style, str(FONTS / f"DejaVuSans{'-Bold' if bold else ''}.ttf"))
        ruler.set_font("DejaVu", style, self.size)
        return self.x + ruler.get_string_width(self.text.strip())


def text_boxes(data: bytes, page: int = 0) -> list[TextBox]:
    found: list[TextBox] = []

    def visit(text: str, _cm: Any, tm: Any, _font: Any, size: float) -> None:
        if text.strip():
            found.append(TextBox(text, tm[4], tm[5], size))

    PdfReader(io.BytesIO(data)).pages[page].extract_text(visitor_text=visit)
    return found


def assert_each_label_clear_of_its_value(data: bytes, facts: list[tuple[str, str]]) -> None:
    """Every label's lines end left of where its value begins (wrapped, never run over)."""
    boxes = text_boxes(data)
    for label, value in facts:
        start = next(i for i, b in enumerate(boxes) if label.startswith(b.text.strip()))
        lines: list[TextBox] = []
        while " ".join(b.text.strip() for b in lines) != label:
            lines.append(boxes[start + len(lines)])
            assert len(lines) <= 4, f"{label!r} is not drawn whole"
        written = value.replace("\xa0", " ")
        shown = next(
            b for b in boxes[start + len(lines) :] if b.text.replace("\xa0", " ").strip() == written
        )
        for line in lines:
            assert line.right(bold=True) < shown.x, f"{label!r} runs into {value!r}"


def pdf_pages(data: bytes) -> list[str]:
    return [p.extract_text().replace("\xa0", " ") for p in PdfReader(io.BytesIO(data)).pages]


@pytest.mark.parametrize("locale", ["mk", "sq"])
def test_long_labels_of_the_statement_and_report_pdfs_wrap_clear_of_their_values(
    pilot: Pilot, app: Flask, locale: str
) -> None:
    from flask_babel import force_locale

    from casework.reports import rendering

    household = pilot.enrollments[0].household
    with app.test_request_context(), force_locale(locale):
        statement = queries.statement(household, TODAY)
        data = rendering.statement_pdf(statement, locale)
        assert_each_label_clear_of_its_value(
            data, statement.facts(locale) + statement.hours_facts(locale)
        )
        figures = queries.indicators(pilot.programme, *PERIOD)
        report = rendering.report_pdf(figures, locale, issued_on=TODAY)
        assert_each_label_clear_of_its_value(report, rendering.report_facts(figures, locale))


def test_the_report_pdf_numbers_its_pages_names_its_issuer_and_shows_the_pages_figures(  # type: ignore[no-untyped-def]
    pilot: Pilot, login_as: Any, today_is
) -> None:
    import re

    today_is(TODAY)
    programme = pilot.programme
    browser, _user = login_as(Role.OFFICER, programme.municipality)
    url = f"/programmes/{programme.id}/report?period_from=2021-11-01&period_to=2022-01-17"
    page = browser.get(url).get_data(as_text=True).replace("\xa0", " ")
    data = job_file(browser, browser.get(url.replace("/report?", "/report.pdf?"))).data
    pages = pdf_pages(data)
    issuer = f"{programme.ngo.name} · {programme.municipality.name}"
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert f"Issued by {issuer} on 17.01.2022" in text
    text = " ".join(pages)
    # Every figure of the page's indicators is in the PDF, as the page writes it ...
    facts = re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", page)
    assert len(facts) == 11
    for name, value in facts:
        assert name in text and value in text, name
    # ... and they are the database's: the sums of the stored rows.
    sums = independent_sums(programme)
    assert formatting.money(sums["paid"], "en") in text
    assert formatting.hours(sums["owed"], "en") in text
    assert formatting.hours(sums["verified"], "en") in text
    # The two charts of the page, with their figures over the bars.
    figures = queries.indicators(programme, *PERIOD)
    assert "Debt paid per month" in text and "Hours owed and verified per month" in text
    assert f"{sums['paid'] // 100:,} MKD" in text  # December's bar: 15,000 MKD
    bars = [m for m in figures.months if m.paid_deni] + [
        m for m in figures.months if m.verified_minutes
    ]
    content = PdfReader(io.BytesIO(data)).pages[0].get_contents().get_data()  # type: ignore[union-attr]
    assert content.count(b" re f") >= len(bars)


def test_amounts_in_the_pdfs_tables_are_right_aligned(pilot: Pilot, app: Flask) -> None:
    from flask_babel import force_locale

    from casework.reports import rendering

    household = pilot.enrollments[0].household
    with app.test_request_context(), force_locale("mk"):
        statement = queries.statement(household, TODAY)
        boxes = text_boxes(rendering.statement_pdf(statement, "mk"))
    header = next(b for b in boxes if b.text.strip() == "Долгови")
    amount = next(b for b in boxes if b.text.strip() == formatting.money(12_000_00, "mk"))
    assert abs(header.right(bold=True) - amount.right(bold=False)) < 1.5  # one right edge


def test_the_statement_pdf_says_who_issued_it_on_what_day_and_numbers_its_pages(  # type: ignore[no-untyped-def]
    pilot: Pilot, login_as: Any, today_is
) -> None:
    today_is(TODAY)
    household = pilot.enrollments[0].household
    household.language = "en"
    db.session.commit()
    browser, _user = login_as(Role.COORDINATOR, pilot.programme.municipality)
    data = browser.get(f"/households/{household.id}/statement.pdf").data
    (text,) = pdf_pages(data)
    issuer = f"{pilot.programme.ngo.name} · {pilot.programme.municipality.name}"
    assert f"Issued by {issuer} on 17.01.2022" in text and "Page 1 of 1" in text
    assert formatting.money(12_000_00, "en") in text  # paid, as stored
    assert formatting.hours(120 * 60, "en") in text  # owed: 12.000,00 ден. at 100,00 ден./h

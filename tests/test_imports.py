"""Import of households and creditors' statements: a dry run first, then every row or none."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text

from casework.audit import keys
from casework.audit.models import AuditEvent
from casework.enrollment.models import Enrollment
from casework.errors import PermissionDenied, ValidationError
from casework.extensions import db
from casework.households.models import DuplicateReview, Household, Member
from casework.imports import services
from casework.imports.models import ImportUpload
from casework.payments.models import Arrear, UtilityAccount
from casework.programmes.models import Programme
from casework.security.models import Role, User
from tests.conftest import TODAY, Factory, count, valid_national_id

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
HEADERS = "Бр. домаќинство;Сродство;Име;Презиме;ЕМБГ;Датум на раѓање;Пол;Адреса;Јазик"


def csv_bytes(*lines: str, header: str = HEADERS, bom: bool = True) -> bytes:
    text = "\r\n".join([header, *lines]) + "\r\n"
    return (("\ufeff" if bom else "") + text).encode()


def family_rows(key: str, surname: str, birth: date, members: int = 3) -> list[str]:
    """A head and ``members - 1`` children, each with a valid national ID."""
    rows = [
        f"{key};Носител;Реџеп;{surname}ски;{valid_national_id(birth)};;;ул. Илинденска бр. {key};mk"
    ]
    seed = int(key) if key.isdigit() else 0
    for n in range(1, members):
        child = date(2004 + n, 1 + seed % 12, 1 + seed % 28)  # few people share a birth date
        rows.append(f"{key};Дете;Дете{n};{surname}ска;{valid_national_id(child, True)};;;;")
    return rows


def run(
    actor: User,
    programme: Programme,
    content: bytes,
    *,
    kind: str = "households",
    dry_run: bool = False,
    filename: str = "list.csv",
    **limits: Any,
) -> services.ImportReport:
    report = services.run_import(
        actor,
        programme,
        kind,
        filename,
        content,
        dry_run=dry_run,
        today=TODAY,
        max_bytes=limits.get("max_bytes", 5_000_000),
        max_rows=limits.get("max_rows", 20_000),
    )
    db.session.commit()
    return report


@pytest.fixture
def setting(make: Factory) -> tuple[User, Programme]:
    programme = make.programme()
    coordinator = make.user(Role.COORDINATOR, programme.municipality)
    db.session.commit()
    return coordinator, programme


# --- households ----------------------------------------------------------------------------


def test_a_dry_run_reports_what_would_happen_and_stores_nothing(setting: Any) -> None:
    coordinator, programme = setting
    content = csv_bytes(*family_rows("1", "Рамадано", date(1979, 4, 12)))
    report = run(coordinator, programme, content, dry_run=True)
    assert report.ok and report.counts["create"] == 3
    assert [r.line for r in report.rows] == [2, 3, 4]
    assert count(Household) == 0 and count(Member) == 0 and count(Enrollment) == 0
    assert db.session.scalar(select(func.count()).where(AuditEvent.action.like("import%"))) == 0


def test_the_example_file_creates_households_members_and_applications(setting: Any) -> None:
    coordinator, programme = setting
    content = (EXAMPLES / "households.csv").read_bytes()
    report = run(coordinator, programme, content, filename="households.csv")
    assert report.ok, [r.errors for r in report.rows if r.errors]
    assert report.counts == {"create": 13, "update": 0, "unchanged": 0, "error": 0}
    assert count(Household) == 4 and count(Member) == 13
    head = db.session.scalar(select(Member).where(Member.first_name == "Нехат"))
    assert head is not None and head.is_head and head.birth_date == date(1979, 4, 12)
    assert head.household.address == "ул. Гоце Делчев бр. 41"
    assert head.household.phone == "070 214 318"
    osmanovski = db.session.scalar(select(Member).where(Member.first_name == "Бајрам"))
    assert osmanovski is not None and osmanovski.household.language == "sq"
    grandson = db.session.scalar(select(Member).where(Member.first_name == "Арлинд"))
    assert grandson is not None and grandson.relation == "grandchild" and grandson.sex == "M"
    # dates in three formats were read alike: 1982-09-03 was written ISO, 2004 with slashes
    assert {m.birth_date for m in head.household.members} >= {
        date(1982, 9, 3),
        date(2004, 1, 22),
    }
    enrollments = db.session.scalars(select(Enrollment)).all()
    assert {(e.status, e.programme_id, e.applied_on) for e in enrollments} == {
        ("applied", programme.id, TODAY)
    }
    assert len(enrollments) == 4
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "import.households"))
    assert event is not None and event.actor_id == coordinator.id
    assert event.changes["file"] == "households.csv"
    assert event.changes["sha256"] == services.checksum(content)
    assert event.changes["counts"]["create"] == 13


def test_importing_the_same_file_again_changes_nothing(setting: Any) -> None:
    coordinator, programme = setting
    content = (EXAMPLES / "households.csv").read_bytes()
    run(coordinator, programme, content)
    events = count(AuditEvent)
    again = run(coordinator, programme, content)
    assert again.ok and not again.imported
    assert again.counts == {"create": 0, "update": 0, "unchanged": 13, "error": 0}
    assert count(Household) == 4 and count(Member) == 13 and count(Enrollment) == 4
    assert count(AuditEvent) == events


def test_a_changed_address_updates_the_household_through_its_service(setting: Any) -> None:
    coordinator, programme = setting
    rows = family_rows("1", "Демиро", date(1968, 11, 5))
    run(coordinator, programme, csv_bytes(*rows))
    moved = [rows[0].replace("ул. Илинденска бр. 1", "ул. Ѓорче Петров бр. 9"), *rows[1:]]
    report = run(coordinator, programme, csv_bytes(*moved))
    assert report.counts == {"create": 0, "update": 1, "unchanged": 2, "error": 0}
    assert report.rows[0].changes == ["address"]
    household = db.session.scalars(select(Household)).one()
    assert household.address == "ул. Ѓорче Петров бр. 9"
    update = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "household.update"))
    assert update is not None and keys.is_sealed(update.changes["address"])  # issue 20
    opened = keys.opened(update.changes, keys.household_keys([household.id]))
    assert opened["address"][1] == "ул. Ѓорче Петров бр. 9"


def test_a_new_member_of_a_registered_household_is_added(setting: Any) -> None:
    coordinator, programme = setting
    rows = family_rows("1", "Јашаро", date(1972, 7, 19), members=2)
    run(coordinator, programme, csv_bytes(*rows))
    baby = f"1;Внука;Ема;Јашаровска;{valid_national_id(date(2021, 9, 1), True)};;;;"
    report = run(coordinator, programme, csv_bytes(*rows, baby))
    assert [r.action for r in report.rows] == ["unchanged", "unchanged", "create"]
    assert count(Household) == 1 and count(Member) == 3


@pytest.mark.parametrize(
    ("registered", "in_file"),
    [
        (("Сефер", "Бајрамовски"), "Sefer;Bajramovski"),
        (("Мергим", "Чела"), "Mërgim;Çela"),
        (("Fatmir", "Rexhepi"), "Фатмир;Реџепи"),
    ],
)
def test_a_family_in_the_other_script_is_flagged_as_a_likely_duplicate(
    setting: Any, make: Factory, registered: tuple[str, str], in_file: str
) -> None:
    coordinator, programme = setting
    existing = make.household(programme.municipality, head_name=registered)  # born 15.03.1984
    db.session.commit()
    number = valid_national_id(date(1984, 3, 15))
    row = f"7;Носител;{in_file};{number};;;ul. Ilindenska br. 70;sq"
    report = run(coordinator, programme, csv_bytes(row))
    assert report.ok and report.counts["create"] == 1
    newcomer = db.session.scalars(select(Member).where(Member.national_id == number)).one()
    review = db.session.scalars(select(DuplicateReview)).one()
    assert (review.household_id, review.other_household_id, review.reason) == (
        newcomer.household_id,
        existing.id,
        "name_and_birth",
    )


def test_the_import_page_flags_a_latin_family_against_a_cyrillic_one(
    login_as: Any, make: Factory
) -> None:
    programme = make.programme()
    existing = make.household(programme.municipality, head_name=("Сефер", "Бајрамовски"))
    browser, _user = login_as(Role.COORDINATOR, programme.municipality)
    row = f"7;Носител;Sefer;Bajramovski;{valid_national_id(date(1984, 3, 15))};;;ul. Nova 1;sq"
    response = upload(browser, programme, csv_bytes(row), "list.csv", "households")
    assert response.status_code == 302
    upload_row = db.session.scalars(select(ImportUpload)).one()
    done = browser.post(f"/imports/{upload_row.id}/import", follow_redirects=True)
    assert "Imported: 1 rows created" in done.get_data(as_text=True)
    db.session.expire_all()
    review = db.session.scalars(select(DuplicateReview)).one()
    assert (review.other_household_id, review.reason) == (existing.id, "name_and_birth")


def test_a_registered_member_written_in_the_other_script_is_the_same_member(
    setting: Any,
) -> None:
    """Found by name and birth date across scripts, the member is neither added again nor
    renamed: a Latin file does not rewrite a Cyrillic register."""
    coordinator, programme = setting
    rows = family_rows("1", "Демиро", date(1968, 11, 5), members=1)
    child = "1;Дете;Лејла;Демироска;;01.03.2012;Ж;;"
    run(coordinator, programme, csv_bytes(*rows, child))
    events = count(AuditEvent)
    in_latin = [
        rows[0].replace("Реџеп;Демироски", "Redzhep;Demiroski"),
        "1;Дете;Lejla;Demiroska;;01.03.2012;Ж;;",
    ]
    report = run(coordinator, programme, csv_bytes(*in_latin))
    assert report.ok, [r.errors for r in report.rows if r.errors]
    assert report.counts == {"create": 0, "update": 0, "unchanged": 2, "error": 0}
    names = db.session.execute(select(Member.first_name, Member.last_name).order_by(Member.id))
    assert names.all() == [("Реџеп", "Демироски"), ("Лејла", "Демироска")]
    assert count(AuditEvent) == events
    # A correction in the same script (here, of case) is still applied.
    upper = "1;Дете;Лејла;ДЕМИРОСКА;;01.03.2012;Ж;;"
    corrected = run(coordinator, programme, csv_bytes(rows[0], upper))
    assert corrected.counts == {"create": 0, "update": 1, "unchanged": 1, "error": 0}
    assert db.session.scalars(select(Member.last_name).order_by(Member.id)).all()[1] == "ДЕМИРОСКА"


def test_one_bad_row_among_a_thousand_stores_nothing(setting: Any) -> None:
    coordinator, programme = setting
    rows: list[str] = []
    for family in range(250):
        rows += family_rows(str(family + 1), f"Фамилија{family}", date(1970, 1, 1 + family % 28), 4)
    assert len(rows) == 1000
    bad = rows[617].split(";")
    bad[4] = bad[4][:-1] + str((int(bad[4][-1]) + 1) % 10)  # a wrong check digit
    rows[617] = ";".join(bad)
    events = count(AuditEvent)
    report = run(coordinator, programme, csv_bytes(*rows))
    assert not report.ok
    failed = [r for r in report.rows if r.action == "error"]
    culprit = next(r for r in failed if "national_id" in r.errors)
    assert culprit.line == 619  # the header is row 1
    assert "check digit" in culprit.errors["national_id"]
    # the culprit's family is reported too, every other row would have been created
    assert len(failed) == 4 and report.counts["create"] == 996
    assert count(Household) == 0 and count(Member) == 0 and count(Enrollment) == 0
    assert count(AuditEvent) == events


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf\r\n\r\n", "empty"),
        (HEADERS.encode() + b"\r\n", "no rows"),
        ("Бр. домаќинство;Име\r\n1;Ана\r\n".encode(), "Last name"),
        ("Име;Презиме;Сродство;Бр. домаќинство;Име\r\nА;Б;head;1;В\r\n".encode(), "same thing"),
        (
            csv_bytes("1;Носител;Ана;Ристовска;;1.1.1990;Ж;ул. 1;mk", bom=False)
            .decode()
            .encode("cp1251"),
            "UTF-8",
        ),
    ],
    ids=["empty", "blank-lines", "header-only", "missing-columns", "twice", "cp1251"],
)
def test_an_unreadable_file_is_refused_as_a_whole(
    setting: Any, content: bytes, message: str
) -> None:
    coordinator, programme = setting
    with pytest.raises(ValidationError) as refused:
        run(coordinator, programme, content)
    assert refused.value.field == "file" and message in refused.value.message
    assert count(Household) == 0


def test_files_above_the_size_or_row_limit_are_refused(setting: Any) -> None:
    coordinator, programme = setting
    content = csv_bytes(*family_rows("1", "Османо", date(1986, 2, 28), 3))
    with pytest.raises(ValidationError, match=r"larger than 0\.0001 MB"):
        run(coordinator, programme, content, max_bytes=100)
    with pytest.raises(ValidationError, match="more than 2 rows"):
        run(coordinator, programme, content, max_rows=2)
    assert count(Household) == 0


def test_each_bad_cell_is_reported_by_row_and_column(setting: Any, make: Factory) -> None:
    coordinator, programme = setting
    registered = make.household(programme.municipality)
    db.session.commit()
    taken = registered.members[0].national_id
    head = valid_national_id(date(1990, 1, 1))
    content = csv_bytes(
        f'1;Носител;Ана;Ристовска;{head};;;=HYPERLINK("x");mk',  # a formula
        f"2;Носител;Бојан;Ристовски;{head};;;ул. 2;mk",  # the same national ID as row 2
        "3;Носител;Цвета;Ристовска;;31.02.1990;Ж;ул. 3;mk",  # no such day
        "4;Братучед;Иле;Ристовски;;01.01.1990;М;ул. 4;mk",  # unknown relation
        f"5;Носител;Мухамед;Мамудовски;{taken};;;ул. 5;mk",  # registered here: an update
        "6;Дете;Ели;Ристовска;;01.01.2010;Ж;;mk",  # a new household without a head
        "7;Носител;Јана;Ристовска;;01.01.1990;X;ул. 7;xx",  # bad sex and language
        ";Носител;Вера;Ристовска;;01.01.1990;Ж;ул. 8;mk",  # no household number
        "9;Носител;Лина;Ристовска;;;Ж;ул. 9;mk",  # no birth date, no national ID
    )
    report = run(coordinator, programme, content)
    errors = {r.line: r.errors for r in report.rows}
    assert "formula" in errors[2]["address"]
    assert "row 2" in errors[3]["national_id"]
    assert "31.02.1990 does not exist" in errors[4]["birth_date"]  # not "write it as ..."
    assert "Братучед" in errors[5]["relation"]
    assert not errors[6] and report.rows[4].changes == ["address", "application to the programme"]
    assert "exactly one row" in errors[7]["relation"]
    assert set(errors[8]) == {"sex", "language"}
    assert "number of its household" in errors[9]["household"]
    assert "birth date" in errors[10]["birth_date"]
    assert count(Household) == 1  # the one registered before
    assert registered.address != "ул. 5"  # nothing stored: other rows have errors


def test_a_household_of_another_municipality_is_not_revealed(setting: Any, make: Factory) -> None:
    coordinator, programme = setting
    elsewhere = make.household(make.municipality("GOS", "Гостивар"))
    db.session.commit()
    number = elsewhere.members[0].national_id
    report = run(coordinator, programme, csv_bytes(f"1;Носител;Друго;Име;{number};;;ул. 1;mk"))
    message = report.rows[0].errors["national_id"]
    assert "another person" in message and elsewhere.case_number not in message
    assert count(Household) == 1


def test_only_the_municipality_coordinators_may_import(setting: Any, make: Factory) -> None:
    _coordinator, programme = setting
    content = csv_bytes(*family_rows("1", "Рамадано", date(1979, 4, 12)))
    for role in (Role.SOCIAL_WORKER, Role.OFFICER, Role.AUDITOR):
        with pytest.raises(PermissionDenied):
            run(make.user(role, programme.municipality), programme, content)
    other = make.user(Role.COORDINATOR, make.municipality("GOS", "Гостивар"))
    with pytest.raises(PermissionDenied):
        run(other, programme, content)
    assert count(Household) == 0


def test_an_xlsx_is_read_by_english_headers_and_typed_cells_and_a_formula_is_refused(
    setting: Any,
) -> None:
    coordinator, programme = setting
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["household", "RELATION", "First Name", "last_name", "national id", "Birth date",
                  "Sex", "Address", "Phone", "notes"])  # fmt: skip
    head = valid_national_id(date(1979, 4, 12))
    sheet.append([1, "head", "Nehat", "Ramadanovski", int(head), None, None, "Gotse Delchev 41",
                  70214318, "ignored"])  # fmt: skip
    sheet.append([1, "child", "Enis", "Ramadanovski", None, date(2004, 1, 22), "M"])
    sheet.append([2, "head", "Sabaheta", "Demirovska", None, "=DATE(1968,11,5)", "F", "Ilindenska"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = run(coordinator, programme, buffer.getvalue(), filename="list.xlsx", dry_run=True)
    assert [r.action for r in report.rows] == ["create", "create", "error"]
    assert "formula" in report.rows[2].errors["birth_date"]
    report = run(coordinator, programme, buffer.getvalue(), filename="list.xlsx")
    assert not report.ok and count(Household) == 0
    sheet.delete_rows(4)
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = run(coordinator, programme, buffer.getvalue(), filename="list.xlsx")
    assert report.ok and count(Member) == 2
    enis = db.session.scalar(select(Member).where(Member.first_name == "Enis"))
    assert enis is not None and (enis.birth_date, enis.sex) == (date(2004, 1, 22), "M")
    nehat = db.session.scalar(select(Member).where(Member.first_name == "Nehat"))
    assert nehat is not None and nehat.national_id == head and nehat.household.phone == "70214318"


def test_a_file_that_is_not_a_workbook_is_refused(setting: Any) -> None:
    coordinator, programme = setting
    with pytest.raises(ValidationError, match="XLSX"):
        run(coordinator, programme, b"PK\x03\x04 broken", filename="list.xlsx")
    with pytest.raises(ValidationError, match="CSV or an XLSX"):
        run(coordinator, programme, b"%PDF-1.7", filename="list.pdf")


def test_comma_separated_files_without_a_bom_are_read_too(setting: Any) -> None:
    coordinator, programme = setting
    head = valid_national_id(date(1979, 4, 12))
    content = csv_bytes(
        f'1,head,Nehat,"Ramadanovski, Jr.",{head},,,"Gotse Delchev 41, Kičevo",mk',
        header="household,relation,first name,last name,national id,birth date,sex,address,"
        "language",
        bom=False,
    )
    report = run(coordinator, programme, content)
    assert report.ok
    household = db.session.scalars(select(Household)).one()
    assert household.address == "Gotse Delchev 41, Kičevo"
    assert household.members[0].last_name == "Ramadanovski, Jr."


# --- arrears -------------------------------------------------------------------------------

ARREAR_HEADERS = (
    "Доверител;Шифра на потрошувач;ЕМБГ;Период од;Период до;Главен долг;Камата;Број на фактура"
)


def test_statements_are_recorded_on_known_and_new_customer_numbers(
    setting: Any, make: Factory
) -> None:
    coordinator, programme = setting
    enrollment = make.active_enrollment(programme)
    known = make.arrear(enrollment)  # registers a customer number at EVN Home
    db.session.commit()
    number = known.account.customer_number
    head_id = enrollment.household.members[0].national_id
    content = csv_bytes(
        f"EVN Home;{number};;01.11.2020;31.10.2021;15.000,00;1.234,50;ОП-2021-1",
        f"ЈКП Комуналец;21-0413;{head_id};2020-11-01;2021-10-31;9870;0;КОМ-5517",
        "ЈКП Комуналец;21-0413;;01/11/2020;31/10/2021;1.200,00;;КОМ-5518",
        header=ARREAR_HEADERS,
    )
    dry = run(coordinator, programme, content, kind="arrears", dry_run=True)
    assert dry.ok and dry.counts["create"] == 3
    assert count(Arrear) == 1 and count(UtilityAccount) == 1
    report = run(coordinator, programme, content, kind="arrears")
    assert report.ok and report.imported
    stored = db.session.scalar(select(Arrear).where(Arrear.statement_ref == "ОП-2021-1"))
    assert stored is not None
    assert (stored.principal_deni, stored.penalty_deni) == (15_000_00, 1_234_50)
    assert stored.account_id == known.account_id and stored.received_on == TODAY
    communal = db.session.scalars(
        select(Arrear).join(UtilityAccount).where(UtilityAccount.customer_number == "21-0413")
    ).all()
    assert sorted(a.principal_deni for a in communal) == [1_200_00, 9_870_00]
    assert {a.account.household_id for a in communal} == {enrollment.household_id}
    assert count(UtilityAccount) == 2
    again = run(coordinator, programme, content, kind="arrears")
    assert again.counts["unchanged"] == 3 and count(Arrear) == 4


def test_a_statement_owed_to_another_municipalitys_creditor_is_an_unknown_creditor(
    setting: Any, make: Factory
) -> None:
    coordinator, programme = setting
    enrollment = make.active_enrollment(programme)
    make.creditor("Vodovod Gostivar", make.municipality("GOS", "Гостивар"))
    db.session.commit()
    head_id = enrollment.household.members[0].national_id
    content = csv_bytes(
        f"Vodovod Gostivar;GV-1;{head_id};01.11.2020;31.10.2021;100;0;GV-A-1",
        header=ARREAR_HEADERS,
    )
    report = run(coordinator, programme, content, kind="arrears")
    assert not report.ok
    assert "Unknown creditor" in report.rows[0].errors["creditor"]
    assert count(Arrear) == 0 and count(UtilityAccount) == 0


def test_bad_statement_rows_name_their_column_and_store_nothing(
    setting: Any, make: Factory
) -> None:
    coordinator, programme = setting
    enrollment = make.active_enrollment(programme)
    known = make.arrear(enrollment)
    outsider = make.household(programme.municipality, head_name=("Ана", "Неупишана"))
    db.session.commit()
    number, reference = known.account.customer_number, known.statement_ref
    content = csv_bytes(
        "Непознат доверител;1;;01.11.2020;31.10.2021;100;0;A-1",
        "EVN Home;99999;;01.11.2020;31.10.2021;100;0;A-2",
        f"EVN Home;{number};;01.11.2020;31.10.2021;15.000,001;0;A-3",
        f"EVN Home;{number};;31.10.2021;01.11.2020;100;0;A-4",
        f"EVN Home;{number};;01.11.2020;31.10.2021;100;0;{reference}",
        f"EVN Home;{number};;01.11.2020;31.10.2021;100;0;A-6",
        f"EVN Home;{number};;01.11.2020;31.10.2021;100;0;A-6",
        f"EVN Home;55;{outsider.members[0].national_id};01.11.2020;31.10.2021;100;0;A-8",
        f"EVN Home;{number};;01.11.2020;31.10.2021;0;0;A-9",
        header=ARREAR_HEADERS,
    )
    report = run(coordinator, programme, content, kind="arrears")
    errors = {r.line: r.errors for r in report.rows}
    assert "Unknown creditor" in errors[2]["creditor"]
    assert "not registered" in errors[3]["customer_number"]
    assert "such as 15.000,00" in errors[4]["principal"]
    assert "end on or after" in errors[5]["period_to"]
    assert (
        f"Statement {reference} is already recorded on this account" in errors[6]["statement_ref"]
    )
    assert 7 not in errors or not errors[7]
    assert "row 7" in errors[8]["statement_ref"]
    assert "not enrolled" in errors[9]["customer_number"]
    assert "something owed" in errors[10]["principal"]
    assert count(Arrear) == 1 and count(UtilityAccount) == 1


def test_a_statement_row_reports_every_mistake_and_a_too_large_amount(
    setting: Any, make: Factory
) -> None:
    coordinator, programme = setting
    enrollment = make.active_enrollment(programme)
    known = make.arrear(enrollment)
    db.session.commit()
    number = known.account.customer_number
    content = csv_bytes(
        f"EVN Home;{number};;31.10.2021;01.11.2020;100;-5;A-1",  # reversed period, penalty < 0
        f"EVN Home;{number};;01.11.2020;31.10.2021;1000000000000;0;A-2",  # a zero too many
        f"EVN Home;{number};;31.02.2021;31.10.2021;100;0;A-3",  # no such day
        header=ARREAR_HEADERS,
    )
    report = run(coordinator, programme, content, kind="arrears")
    errors = {r.line: r.errors for r in report.rows}
    assert set(errors[2]) == {"period_to", "penalty"}
    assert "too large" in errors[3]["principal"] and "Principal" in errors[3]["principal"]
    assert "31.02.2021 does not exist" in errors[4]["period_from"]
    assert count(Arrear) == 1


# --- the page ------------------------------------------------------------------------------


def upload(browser: Any, programme: Programme, content: bytes, name: str, kind: str) -> Any:
    return browser.post(
        f"/programmes/{programme.id}/import",
        {"kind": kind, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_the_page_shows_the_dry_run_then_imports_on_confirmation(
    login_as: Any, make: Factory
) -> None:
    programme = make.programme()
    browser, coordinator = login_as(Role.COORDINATOR, programme.municipality)
    content = (EXAMPLES / "households.csv").read_bytes()
    response = upload(browser, programme, content, "households.csv", "households")
    assert response.status_code == 302
    page = browser.get(response.headers["Location"])
    body = page.get_data(as_text=True)
    assert "Import 13 rows" in body and "Нехат Рамадановски" in body
    assert count(Household) == 0
    upload_row = db.session.scalars(select(ImportUpload)).one()
    assert upload_row.uploaded_by_id == coordinator.id and upload_row.content == content
    done = browser.post(f"/imports/{upload_row.id}/import", follow_redirects=True)
    assert "Imported: 13 rows created" in done.get_data(as_text=True)
    db.session.expire_all()
    assert count(Household) == 4 and count(Member) == 13
    stored = db.session.get(ImportUpload, upload_row.id)
    assert stored is not None and stored.imported_at is not None and stored.content is None
    twice = browser.post(f"/imports/{upload_row.id}/import", follow_redirects=True)
    assert "imported already" in twice.get_data(as_text=True)
    assert count(Household) == 4


def test_a_file_with_errors_offers_its_failed_rows_to_fix(login_as: Any, make: Factory) -> None:
    programme = make.programme()
    browser, _user = login_as(Role.COORDINATOR, programme.municipality)
    content = (EXAMPLES / "households-with-errors.csv").read_bytes()
    response = upload(browser, programme, content, "households-with-errors.csv", "households")
    upload_id = db.session.scalars(select(ImportUpload.id)).one()
    body = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "cannot be imported" in body and f"/imports/{upload_id}/import" not in body
    refused = browser.post(f"/imports/{upload_id}/import", follow_redirects=True)
    assert "Nothing was imported" in refused.get_data(as_text=True)
    assert count(Household) == 0
    errors = browser.get(f"/imports/{upload_id}/errors.csv")
    assert errors.status_code == 200 and errors.mimetype == "text/csv"
    table = list(
        csv.reader(io.StringIO(errors.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )
    assert table[0][-1] == "Error" and table[0][0] == "Бр. домаќинство"
    assert [row[2] for row in table[1:]] == ["Шефкет", "Ајтен", "Ирфан"]
    assert "check digit" in table[1][-1] and "Row 2" in table[1][-1]
    assert table[3][7].startswith("'=")  # the formula comes back defused


def test_uploads_belong_to_their_uploader(login_as: Any, make: Factory) -> None:
    programme = make.programme()
    browser, _user = login_as(Role.COORDINATOR, programme.municipality)
    content = (EXAMPLES / "households.csv").read_bytes()
    upload(browser, programme, content, "households.csv", "households")
    upload_id = db.session.scalars(select(ImportUpload.id)).one()
    colleague, _other = login_as(Role.COORDINATOR, programme.municipality)
    assert colleague.get(f"/imports/{upload_id}").status_code == 404
    assert colleague.post(f"/imports/{upload_id}/import").status_code == 404
    assert colleague.get(f"/imports/{upload_id}/errors.csv").status_code == 404
    worker, _worker = login_as(Role.SOCIAL_WORKER, programme.municipality)
    assert worker.get(f"/programmes/{programme.id}/import").status_code == 403
    assert upload(worker, programme, content, "h.csv", "households").status_code == 403
    assert count(Household) == 0 and count(ImportUpload) == 1


def test_the_page_refuses_a_bad_file_next_to_the_file_field(login_as: Any, make: Factory) -> None:
    programme = make.programme()
    browser, _user = login_as(Role.COORDINATOR, programme.municipality)
    response = upload(browser, programme, b"", "empty.csv", "households")
    assert response.status_code == 200
    assert "The file is empty." in response.get_data(as_text=True)
    response = upload(browser, programme, b"x", "list.pdf", "households")
    assert "Upload a CSV or an XLSX file." in response.get_data(as_text=True)
    assert count(ImportUpload) == 0


def test_the_template_is_in_the_users_language(login_as: Any, make: Factory) -> None:
    programme = make.programme()
    browser, _user = login_as(Role.COORDINATOR, programme.municipality, locale="mk")
    response = browser.get(f"/programmes/{programme.id}/import/template-households.csv")
    header = response.get_data(as_text=True).lstrip("\ufeff").splitlines()[0].split(";")
    assert "Име" in header and "Презиме" in header and len(header) == 12
    arrears = browser.get(f"/programmes/{programme.id}/import/template-arrears.csv")
    assert "Доверител" in arrears.get_data(as_text=True)
    assert browser.get(f"/programmes/{programme.id}/import/template-other.csv").status_code == 404


# --- the command line ----------------------------------------------------------------------


def test_the_command_line_checks_imports_and_refuses_as_the_page_does(
    demo_copy: Path, tmp_path: Path
) -> None:
    """A real ``casework`` process on (a copy of) the demo database, with the example files."""
    import sqlite3

    from tests.test_cli import run as casework

    database = demo_copy
    env = {"CASEWORK_DATABASE_URL": f"sqlite:///{database}"}

    def households() -> int:
        with sqlite3.connect(database) as conn:
            return int(conn.execute("SELECT count(*) FROM households").fetchone()[0])

    def arrears() -> int:
        with sqlite3.connect(database) as conn:
            return int(conn.execute("SELECT count(*) FROM arrears").fetchone()[0])

    before, debts = households(), arrears()
    args = ["--programme", "1", "--user", "coordinator"]
    example = str(EXAMPLES / "households.csv")
    dry = casework(["import", "households", example, *args, "--dry-run"], tmp_path, **env)
    assert dry.returncode == 0, dry.stderr
    assert "13 to create" in dry.stdout and households() == before

    bad = casework(
        ["import", "households", str(EXAMPLES / "households-with-errors.csv"), *args,
         "--errors", str(tmp_path / "errors.csv")],
        tmp_path,
        **env,
    )  # fmt: skip
    assert bad.returncode == 1 and "Nothing was imported" in bad.stderr
    assert "row 2" in bad.stderr and households() == before
    assert "15.03.1981" in (tmp_path / "errors.csv").read_text(encoding="utf-8-sig")

    done = casework(["import", "households", example, *args], tmp_path, **env)
    assert done.returncode == 0 and "Imported households.csv" in done.stdout
    assert households() == before + 4
    debts_file = str(EXAMPLES / "arrears.csv")
    statements = casework(["import", "arrears", debts_file, *args], tmp_path, **env)
    assert statements.returncode == 0, statements.stderr
    assert arrears() == debts + 5

    again = casework(["import", "households", example, *args], tmp_path, **env)
    assert again.returncode == 0 and "Nothing to import" in again.stdout
    assert households() == before + 4

    stranger = casework(["import", "households", example, "--programme", "1", "--user", "worker"],
                        tmp_path, **env)  # fmt: skip
    assert stranger.returncode == 1 and households() == before + 4


def test_statements_import_through_the_page_and_a_bad_file_stores_nothing(
    login_as: Any, make: Factory
) -> None:
    programme = make.programme()
    enrollment = make.active_enrollment(programme)
    head_id = enrollment.household.members[0].national_id
    db.session.commit()
    browser, _user = login_as(Role.COORDINATOR, programme.municipality)
    good = csv_bytes(
        f"EVN Home;7100412;{head_id};01.11.2020;31.10.2021;48.214,60;3.902,15;ОП-1",
        header=ARREAR_HEADERS,
    )
    response = upload(browser, programme, good, "evn.csv", "arrears")
    upload_id = db.session.scalars(select(ImportUpload.id)).one()
    assert "Import 1 rows" in browser.get(response.headers["Location"]).get_data(as_text=True)
    assert count(Arrear) == 0
    browser.post(f"/imports/{upload_id}/import")
    stored = db.session.scalars(select(Arrear)).one()
    assert (stored.principal_deni, stored.penalty_deni) == (48_214_60, 3_902_15)
    assert stored.account.customer_number == "7100412"
    bad = csv_bytes(
        f"EVN Home;7100413;{head_id};01.11.2020;31.10.2021;1.000,00;0;ОП-2",
        "EVN Home;7100414;;01.11.2020;31.10.2021;1.000,00;0;ОП-3",
        header=ARREAR_HEADERS,
    )
    response = upload(browser, programme, bad, "evn2.csv", "arrears")
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "cannot be imported" in page and "not registered at EVN Home" in page
    assert count(Arrear) == 1 and count(UtilityAccount) == 1


def test_the_command_line_refuses_a_bad_statements_file(demo_copy: Path, tmp_path: Path) -> None:
    """Statements naming an unknown creditor and a malformed amount: nothing is stored."""
    import sqlite3

    from tests.test_cli import run as casework

    database = demo_copy
    env = {"CASEWORK_DATABASE_URL": f"sqlite:///{database}"}
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        csv_bytes(
            "Непознат;1;;01.11.2020;31.10.2021;100;0;A-1",
            "EVN Home;2;;01.11.2020;31.10.2021;сто;0;A-2",
            header=ARREAR_HEADERS,
        )
    )
    with sqlite3.connect(database) as conn:
        before = conn.execute("SELECT count(*) FROM arrears").fetchone()[0]
    result = casework(
        ["import", "arrears", str(bad), "--programme", "1", "--user", "coordinator"],
        tmp_path,
        **env,
    )
    assert result.returncode == 1
    assert "row 2" in result.stderr and "row 3" in result.stderr
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM arrears").fetchone()[0] == before


def test_a_large_import_keeps_the_planners_statistics_current_on_postgresql(
    setting: Any,
) -> None:
    """Without it, a table last seen empty is planned as one row and each lookup of the
    duplicate check scans every row added so far: an import of 20.000 rows never ends."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans without table statistics")
    coordinator, programme = setting
    lines = [
        row
        for n in range(400)
        for row in family_rows(str(n + 1), f"Б{n}", date(1980, 1, 1) + timedelta(days=n))
    ]
    seen: list[float] = []

    def progress(rows: int) -> None:
        seen.append(
            db.session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'members'"))
        )

    report = services.run_import(
        coordinator,
        programme,
        "households",
        "list.csv",
        csv_bytes(*lines),
        dry_run=True,
        today=TODAY,
        max_bytes=5_000_000,
        max_rows=20_000,
        progress=progress,
    )
    assert report.ok and report.counts["create"] == 1_200
    assert seen[-1] >= 900  # the import's own rows (about 1.000 when last analysed), not 0


def test_an_imported_statement_meets_the_forms_rule_and_a_voided_one_may_come_again(
    setting: Any, make: Factory
) -> None:
    from casework.payments import services as payment_services

    coordinator, programme = setting
    enrollment = make.active_enrollment(programme)
    stored = make.arrear(enrollment)  # 40.000,00 + 2.500,00, received 15.11.2021
    number, reference = stored.account.customer_number, stored.statement_ref
    db.session.commit()
    content = csv_bytes(
        f"EVN Home;{number};;01.11.2020;31.10.2021;4.000,00;250,00;{reference}",
        header=ARREAR_HEADERS,
    )
    refused = run(coordinator, programme, content, kind="arrears")
    message = refused.rows[0].errors["statement_ref"]
    assert f"Statement {reference} is already recorded on this account" in message
    assert "15.11.2021" in message  # the page's message, naming the stored statement
    assert count(Arrear) == 1
    payment_services.void_arrear(coordinator, stored, "Погрешен износ", today=TODAY)
    db.session.commit()
    report = run(coordinator, programme, content, kind="arrears")
    assert report.ok and report.counts["create"] == 1
    live = db.session.scalars(select(Arrear).where(Arrear.voided_on.is_(None))).one()
    assert (live.statement_ref, live.principal_deni, live.penalty_deni) == (
        reference,
        4_000_00,
        250_00,
    )
    again = run(coordinator, programme, content, kind="arrears")
    assert again.counts["unchanged"] == 1 and count(Arrear) == 2

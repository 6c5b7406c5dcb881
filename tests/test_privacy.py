"""A family's data rights: everything stored about it can be exported (JSON and PDF) on
request, and once its programme's retention period has run out its names and personal data
go while its accounts stay."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import event, func, select, text, update

from casework.audit.models import AccessAction, AccessRecord, AuditEvent
from casework.audit.services import log_access, verify_chain
from casework.balances.services import run_check
from casework.db import utcnow
from casework.enrollment import services as enrollment_services
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.households import services as household_services
from casework.households.models import CaseNote, Exemption, Household, Member, match_key
from casework.payments import services as payment_services
from casework.payments.models import (
    Arrear,
    Obligation,
    Payment,
    PaymentRequest,
    PaymentReversal,
    UtilityAccount,
)
from casework.privacy import services
from casework.programmes.models import Programme
from casework.security.models import Role, User, UserSession
from casework.work import services as work_services
from casework.work.models import WorkLog
from tests.conftest import TODAY, Factory

NOW = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)


def tables_referring_to_households() -> set[str]:
    """Every table with a chain of foreign keys to households, read straight off the metadata
    (not from the code under test), so a new table or column is caught here."""
    found = {"households"}
    grew = True
    while grew:
        grew = False
        for table in db.metadata.tables.values():
            if table.name not in found and any(
                fk.column.table.name in found for fk in table.foreign_keys
            ):
                found.add(table.name)
                grew = True
    return found


@dataclass
class Family:
    household: Household
    enrollment: Enrollment
    programme: Programme
    coordinator: User
    head: Member
    spouse: Member
    other_household: Household


@pytest.fixture
def family(make: Factory) -> Family:
    """A household with at least one row in every table that refers to it."""
    programme = make.programme()
    enrollment = make.active_enrollment(programme)  # application, commission votes, agreement
    household = enrollment.household
    coordinator = make.coordinator(household.municipality)
    household_services.update_household(
        coordinator,
        household,
        household_services.HouseholdData(
            address=household.address, settlement="Кичево", phone="070 123 456"
        ),
        today=TODAY,
    )
    household_services.assign_worker(coordinator, household, make.user(Role.SOCIAL_WORKER))
    head = household.members[0]
    spouse = make.member(household)
    household_services.add_exemption(
        coordinator, spouse, "pregnancy", "Потврда 14/2022", date(2022, 1, 3), date(2022, 5, 3)
    )
    household_services.add_note(
        coordinator,
        household,
        "Семејството живее без струја од ноември.",
        "ngo",
        written_on=TODAY,
        today=TODAY,
    )
    make.paid(enrollment, 10_000_00)  # 100 h owed
    wrong = make.paid(enrollment, 5_000_00)
    payment_services.reverse_payment(
        make.user(Role.OFFICER),
        wrong,
        "Уплатено на погрешна сметка",
        on=date(2021, 12, 2),
        today=TODAY,
    )
    mistyped = wrong.request.arrear  # entered wrongly: voided and replaced, its number corrected
    payment_services.correct_customer_number(
        coordinator, mistyped.account, "EVN-DEMO-00099999", "Грешна цифра", today=TODAY
    )
    payment_services.replace_arrear(
        coordinator,
        mistyped,
        payment_services.ArrearData(
            period_from=mistyped.period_from,
            period_to=mistyped.period_to,
            principal_deni=4_500_00,
            penalty_deni=0,
            statement_ref=mistyped.statement_ref,
            received_on=mistyped.received_on,
        ),
        "Погрешен износ",
        today=TODAY,
    )
    log = work_services.log_work(
        coordinator,
        head,
        make.site(),
        work_services.Shift(date(2021, 12, 6), duration_minutes=240),
        "Чистење на паркот",
        today=TODAY,
    )
    work_services.verify(coordinator, log, today=TODAY)
    work_services.correct(coordinator, log, "Погрешен ден", today=TODAY)
    run_check(programme, date(2021, 12, 13), today=TODAY)  # on track
    run_check(programme, TODAY, today=TODAY)  # behind: alerts for the staff
    # A later registration of the same head: a duplicate review naming this household.
    other = make.household(head_name=(head.first_name, head.last_name))
    log_access(
        coordinator,
        AccessAction.VIEW_HOUSEHOLD,
        household_id=household.id,
        member_id=head.id,
        municipality_id=household.municipality_id,
        detail="households.detail",
    )
    db.session.flush()
    return Family(household, enrollment, programme, coordinator, head, spouse, other)


# --- the subject access export ------------------------------------------------------------------


def test_the_export_holds_every_column_of_every_table_that_refers_to_the_household(
    family: Family,
) -> None:
    data = services.household_data(family.household)
    json.dumps(data)  # JSON-safe as it is
    expected = tables_referring_to_households() | {"audit_events"}
    assert expected <= set(data["tables"])
    # The household's audit key is never exported (it would open its sealed audit fields).
    assert "household_keys" not in data["tables"]
    for name in sorted(expected):
        rows = data["tables"][name]
        assert rows, f"the test family has no {name} rows: give it some, so its columns are checked"
        columns = set(db.metadata.tables[name].columns.keys())
        assert all(set(row) == columns for row in rows), name


def test_the_export_holds_the_familys_names_national_ids_and_birth_dates(
    family: Family,
) -> None:
    data = services.household_data(family.household)
    text = json.dumps(data, ensure_ascii=False)
    for member in (family.head, family.spouse):
        assert member.first_name in text and member.last_name in text
        assert member.national_id and member.national_id in text  # unmasked: it is theirs
    members = {row["id"]: row for row in data["tables"]["members"]}
    assert members[family.head.id]["birth_date"] == family.head.birth_date.isoformat()
    assert "070 123 456" in text and "Семејството живее без струја" in text


def test_the_export_names_the_staff_but_holds_nothing_else_of_theirs_or_of_other_families(
    family: Family,
) -> None:
    data = services.household_data(family.household)
    text = json.dumps(data, ensure_ascii=False)
    users = data["references"]["users"]
    assert users[str(family.coordinator.id)] == family.coordinator.full_name
    assert "password_hash" not in text and "token_hash" not in text
    assert [row["id"] for row in data["tables"]["households"]] == [family.household.id]
    for member in family.other_household.members:
        assert member.national_id not in text
    review = data["tables"]["duplicate_reviews"][0]
    assert review["other_household_id"] == family.household.id  # only the other case's id


def test_the_export_costs_the_same_number_of_queries_however_many_rows(
    make: Factory, family: Family
) -> None:
    def queries() -> int:
        statements: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            services.household_data(family.household)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    before = queries()
    assert before > len(tables_referring_to_households())  # one a table, and the names
    for n in range(3):
        household_services.add_note(
            family.coordinator,
            family.household,
            f"Посета {n}",
            "ngo",
            written_on=TODAY,
            today=TODAY,
        )
        make.paid(family.enrollment, 1_000_00)
    db.session.flush()
    assert queries() == before


def test_the_pdf_names_the_family_and_has_a_section_per_table(family: Family) -> None:
    data = services.household_data(family.household)
    pdf = services.household_data_pdf(data)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert family.household.case_number in text
    for member in (family.head, family.spouse):
        assert member.first_name in text and member.last_name in text
        assert member.national_id and member.national_id in text
    for name in data["tables"]:
        assert f"({name})" in text


@contextmanager
def no_new_access_records() -> Iterator[None]:
    before = db.session.scalar(select(func.count()).select_from(AccessRecord))
    yield
    assert db.session.scalar(select(func.count()).select_from(AccessRecord)) == before


def test_a_coordinator_downloads_the_familys_data_and_the_access_log_records_each_download(  # type: ignore[no-untyped-def]
    login_as, family: Family
) -> None:
    browser, coordinator = login_as(Role.COORDINATOR)
    household = family.household
    as_json = browser.get(f"/households/{household.id}/data.json")
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    assert household.case_number in as_json.headers["Content-Disposition"]
    assert as_json.headers["Cache-Control"] == "no-store"
    assert as_json.get_json()["household"]["case_number"] == household.case_number
    as_pdf = browser.get(f"/households/{household.id}/data.pdf")
    assert as_pdf.status_code == 200 and as_pdf.mimetype == "application/pdf"
    assert as_pdf.get_data().startswith(b"%PDF")
    logged = db.session.execute(
        select(
            AccessRecord.user_id,
            AccessRecord.household_id,
            AccessRecord.municipality_id,
            AccessRecord.detail,
        )
        .where(AccessRecord.action == AccessAction.SUBJECT_EXPORT.value)
        .order_by(AccessRecord.id)
    ).all()
    place = household.municipality_id
    assert logged == [
        (coordinator.id, household.id, place, "json"),
        (coordinator.id, household.id, place, "pdf"),
    ]


def test_the_household_page_offers_the_download_only_to_those_who_may_make_it(  # type: ignore[no-untyped-def]
    login_as, family: Family
) -> None:
    url = f"/households/{family.household.id}"
    coordinator, _user = login_as(Role.COORDINATOR)
    page = coordinator.get(url).get_data(as_text=True)
    assert "Data of this family (subject access request)" in page
    assert f"/households/{family.household.id}/data.pdf" in page
    officer, _user = login_as(Role.OFFICER)
    page = officer.get(url).get_data(as_text=True)
    assert "subject access request" not in page and "data.pdf" not in page


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SOCIAL_WORKER])
@pytest.mark.parametrize("fmt", ["json", "pdf"])
def test_officers_and_social_workers_who_see_the_family_may_not_export_its_data(  # type: ignore[no-untyped-def]
    login_as, family: Family, role: Role, fmt: str
) -> None:
    browser, user = login_as(role)
    family.household.assigned_worker_id = user.id  # the social worker's own caseload
    with no_new_access_records():
        response = browser.get(f"/households/{family.household.id}/data.{fmt}")
    assert response.status_code == 403


@pytest.mark.parametrize("fmt", ["json", "pdf"])
def test_a_coordinator_of_another_municipality_finds_no_such_family(  # type: ignore[no-untyped-def]
    login_as, make: Factory, family: Family, fmt: str
) -> None:
    browser, _user = login_as(Role.COORDINATOR, make.municipality("OHR", "Охрид"))
    with no_new_access_records():
        response = browser.get(f"/households/{family.household.id}/data.{fmt}")
    assert response.status_code == 404


def test_the_export_asks_for_the_password_again_after_fifteen_minutes(  # type: ignore[no-untyped-def]
    login_as, family: Family
) -> None:
    browser, coordinator = login_as(Role.COORDINATOR)
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == coordinator.id)
        .values(authenticated_at=utcnow() - timedelta(minutes=16))
    )
    with no_new_access_records():
        response = browser.get(f"/households/{family.household.id}/data.json")
    assert response.status_code == 302
    assert "reauthenticate" in response.headers["Location"]


# --- retention ----------------------------------------------------------------------------------


def ended_family(make: Factory, programme: Programme) -> Household:
    """A family whose enrollment completed on TODAY (17.01.2022)."""
    enrollment = make.active_enrollment(programme)
    enrollment_services.complete(
        make.coordinator(enrollment.household.municipality),
        enrollment,
        on=TODAY,
        reason="Ги одработи часовите",
        today=TODAY,
    )
    return enrollment.household


def due_on(day: date) -> list[str]:
    return [item.household.case_number for item in services.households_due_for_retention(day)]


def test_a_family_is_due_the_day_after_its_five_years_have_passed(make: Factory) -> None:
    household = ended_family(make, make.programme())
    assert due_on(date(2027, 1, 17)) == []  # five years to the day: not *more* than five
    assert due_on(date(2027, 1, 18)) == [household.case_number]
    (item,) = services.households_due_for_retention(date(2027, 1, 18))
    assert item.ended_on == TODAY


def test_each_programme_keeps_data_for_its_own_number_of_years(make: Factory) -> None:
    short = make.programme()
    short.retention_years = 1
    household = ended_family(make, short)
    kept = ended_family(make, make.programme())
    assert due_on(date(2023, 1, 18)) == [household.case_number]
    assert kept.case_number not in due_on(date(2026, 12, 31))


def test_a_family_closed_early_is_due_like_one_that_completed(make: Factory) -> None:
    enrollment = make.active_enrollment(make.programme())
    make.paid(enrollment, 1_000_00)  # hours still owed
    enrollment_services.close_early(
        make.coordinator(enrollment.household.municipality),
        enrollment,
        enrollment_services.EarlyClosing(on=TODAY, reason="died"),
        today=TODAY,
    )
    assert due_on(date(2027, 1, 18)) == [enrollment.household.case_number]


def test_a_family_still_in_a_programme_is_never_due(make: Factory, family: Family) -> None:
    assert due_on(date(2099, 1, 1)) == []


def test_a_family_that_never_applied_has_no_retention_period_and_is_not_due(
    make: Factory,
) -> None:
    make.household()
    assert due_on(date(2099, 1, 1)) == []


def test_a_rejected_application_counts_from_the_commissions_decision(make: Factory) -> None:
    programme = make.programme()
    household = make.household()
    coordinator = make.coordinator(household.municipality)
    applied = enrollment_services.apply(
        coordinator, household, programme, applied_on=date(2021, 11, 10), today=TODAY
    )
    enrollment_services.record_decision(
        coordinator,
        applied,
        enrollment_services.DecisionData(
            decided_on=date(2021, 11, 25),
            outcome="rejected",
            votes={m.id: "against" for m in enrollment_services.commission_of(programme)},
            reason="Долгот е надвор од периодот на повикот",
        ),
        today=TODAY,
    )
    assert applied.ended_on is None  # a rejection has no end date of its own
    assert due_on(date(2026, 11, 25)) == []
    assert due_on(date(2026, 11, 26)) == [household.case_number]


def test_every_column_of_the_familys_tables_has_an_anonymisation_decision() -> None:
    for name in sorted(tables_referring_to_households()):
        columns = set(db.metadata.tables[name].columns.keys())
        decided = set(services.ANONYMISATION.get(name, {}))
        assert decided == columns, f"{name}: decide {sorted(columns - decided)} in ANONYMISATION"


# --- anonymisation ------------------------------------------------------------------------------


def completed(family: Family) -> Household:
    """The family's enrollment ends on TODAY. It still owes hours (a completion is refused
    then), so it is closed early: the family moved away."""
    enrollment_services.close_early(
        family.coordinator,
        family.enrollment,
        enrollment_services.EarlyClosing(on=TODAY, reason="moved_away", note="Заврши"),
        today=TODAY,
    )
    return family.household


def accounts(household_id: int) -> dict[str, Any]:
    """What the programme's books say about a household, read afresh."""
    db.session.expire_all()

    def total(column: Any, *where: Any) -> int:
        return int(db.session.scalar(select(func.coalesce(func.sum(column), 0)).where(*where)))

    def count(column: Any, *where: Any) -> int:
        return int(db.session.scalar(select(func.count(column)).where(*where)) or 0)

    requests = select(PaymentRequest.id).join(Arrear).join(UtilityAccount)
    requests = requests.where(UtilityAccount.household_id == household_id)
    return {
        "case_number": db.session.scalar(
            select(Household.case_number).where(Household.id == household_id)
        ),
        "arrears": total(
            Arrear.principal_deni + Arrear.penalty_deni,
            Arrear.account_id.in_(
                select(UtilityAccount.id).where(UtilityAccount.household_id == household_id)
            ),
        ),
        "requested": total(PaymentRequest.amount_deni, PaymentRequest.id.in_(requests)),
        "paid": total(Payment.amount_deni, Payment.request_id.in_(requests)),
        "payment_refs": sorted(
            db.session.scalars(select(Payment.reference).where(Payment.request_id.in_(requests)))
        ),
        "reversals": count(
            PaymentReversal.id,
            PaymentReversal.payment_id.in_(
                select(Payment.id).where(Payment.request_id.in_(requests))
            ),
        ),
        "owed_minutes": total(Obligation.minutes, Obligation.household_id == household_id),
        "logged_minutes": total(WorkLog.minutes, WorkLog.household_id == household_id),
        "work_logs": count(WorkLog.id, WorkLog.household_id == household_id),
    }


def test_anonymising_removes_names_ids_phones_and_notes_but_keeps_the_accounts(
    family: Family,
) -> None:
    household = completed(family)
    books = accounts(household.id)
    assert books["paid"] and books["owed_minutes"] and books["work_logs"] == 2
    case = household.case_number
    services.anonymise_household(None, household, now=NOW)
    db.session.commit()
    assert accounts(household.id) == books
    household = db.session.get(Household, household.id)  # type: ignore[assignment]
    assert (household.address, household.address_key, household.phone) == ("", "", "")
    assert household.settlement == "Кичево" and household.anonymised_at == NOW
    members = db.session.scalars(
        select(Member).where(Member.household_id == household.id).order_by(Member.id)
    ).all()
    assert [m.full_name for m in members] == [f"#1 {case}", f"#2 {case}"]
    assert [m.name_key for m in members] == [match_key(f"#{n}", case) for n in (1, 2)]
    assert [m.national_id for m in members] == [None, None]
    assert [m.birth_date for m in members] == [date(1984, 1, 1), date(1988, 1, 1)]
    assert db.session.scalars(select(CaseNote.text)).all() == ["—"]
    assert db.session.scalars(select(Exemption.document_ref)).all() == [""]
    assert set(db.session.scalars(select(UtilityAccount.customer_number))) == {
        f"{case}/{n}" for n in (1, 2)
    }


def test_after_anonymising_no_name_or_id_is_left_outside_the_audit_trail(family: Family) -> None:
    names = {
        family.head.first_name,
        family.head.last_name,
        family.spouse.first_name,
        family.spouse.last_name,
        family.head.national_id,
        family.spouse.national_id,
        family.household.address,
        "070 123 456",
        "Потврда 14/2022",
        "без струја",
        "погрешна сметка",
    }
    household = completed(family)
    services.anonymise_household(None, household, now=NOW)
    data = services.household_data(household)
    data["tables"].pop("audit_events")  # append-only and hash-chained: never rewritten
    text = json.dumps(data, ensure_ascii=False)
    assert [name for name in names if name and name in text] == []


def test_anonymising_takes_the_names_out_of_the_alert_mail_kept_in_the_outbox(
    family: Family, make: Factory
) -> None:
    from casework.mail.models import OutboxMessage

    case = family.household.case_number
    head = family.head.full_name
    other = make.household(head_name=("Фатиме", "Рамадани"), address="ул. Карпош бр. 3")
    mail = [
        (f"{case} ({head})", f"{case} ({head}): behind the expected hours."),
        (f"{other.case_number} (Фатиме Рамадани)", f"{other.case_number} (Фатиме Рамадани)"),
    ]
    for subject, body in mail:
        db.session.add(
            OutboxMessage(to_address="w@example.org", subject=subject, body=body, kind="alert")
        )
    household = completed(family)
    services.anonymise_household(None, household, now=NOW)
    db.session.commit()
    kept = db.session.execute(
        select(OutboxMessage.subject, OutboxMessage.body).order_by(OutboxMessage.id)
    ).all()
    assert [tuple(row) for row in kept] == [
        (f"{case} (—)", f"{case} (—): behind the expected hours."),
        mail[1],  # another family's mail is left alone
    ]


def test_anonymising_writes_one_audit_event_with_counts_and_no_names(family: Family) -> None:
    national_id, first_name = family.head.national_id, family.head.first_name
    household = completed(family)
    services.anonymise_household(family.coordinator, household, now=NOW)
    db.session.flush()
    (entry,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "household.anonymise")
    ).all()
    assert (entry.entity_type, entry.entity_id, entry.actor_id) == (
        "household",
        household.id,
        family.coordinator.id,
    )
    assert entry.municipality_id == household.municipality_id
    assert entry.changes["rows"]["members"] == 2
    recorded = json.dumps(entry.changes, ensure_ascii=False)
    assert national_id and national_id not in recorded and first_name not in recorded


def test_a_family_still_in_a_programme_or_anonymised_already_is_refused(family: Family) -> None:
    from casework.errors import ConflictError

    with pytest.raises(ConflictError):
        services.anonymise_household(None, family.household, now=NOW)
    household = completed(family)
    services.anonymise_household(None, household, now=NOW)
    with pytest.raises(ConflictError):
        services.anonymise_household(None, household, now=NOW)
    assert services.households_due_for_retention(date(2099, 1, 1)) == []


# --- the command --------------------------------------------------------------------------------


def test_the_retention_command_lists_case_numbers_on_a_dry_run_and_then_anonymises(
    make: Factory, tmp_path: Path
) -> None:
    from tests.test_cli import run as casework

    short = make.programme()
    short.retention_years = 1
    due = ended_family(make, short)
    kept = ended_family(make, make.programme())
    due_id, due_case, kept_id = due.id, due.case_number, kept.id
    head_name = due.members[0].last_name
    db.session.commit()
    db.session.remove()
    env = {"CASEWORK_DATABASE_URL": db.engine.url.render_as_string(hide_password=False)}

    def snapshot() -> list[Any]:
        """Every row of every table; the transaction ends, so the command may write."""
        db.session.remove()
        rows = [
            db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
            for table in db.metadata.sorted_tables
        ]
        db.session.remove()
        return rows

    before = snapshot()
    dry = casework(["retention", "--dry-run", "--today", "2024-06-01"], tmp_path, **env)
    assert dry.returncode == 0, dry.stderr
    assert due_case in dry.stdout and "nothing written" in dry.stdout
    assert head_name not in dry.stdout  # case numbers, never names
    assert snapshot() == before

    real = casework(["retention", "--today", "2024-06-01"], tmp_path, **env)
    assert real.returncode == 0, real.stderr
    assert "Anonymised 1 households" in real.stdout
    anonymised = db.session.get(Household, due_id)
    assert anonymised is not None and anonymised.anonymised_at is not None
    assert anonymised.members[0].national_id is None
    untouched = db.session.get(Household, kept_id)
    assert untouched is not None and untouched.anonymised_at is None
    assert untouched.members[0].national_id is not None
    (entry,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "household.anonymise")
    ).all()
    assert (entry.entity_id, entry.actor_id) == (due_id, None)
    db.session.remove()

    again = casework(["retention", "--today", "2024-06-01"], tmp_path, **env)
    assert again.returncode == 0 and "No household is due" in again.stdout
    future = casework(["retention", "--today", "2999-01-01"], tmp_path, **env)
    assert future.returncode == 1 and "--today" in future.stderr


# --- the audit trail after anonymisation: crypto-shredding --------------------------------------


def personal_strings(family: Family) -> list[str]:
    """What the family's audit events said about its people, as typed and as stored."""
    spouse = family.spouse
    return [
        spouse.first_name,
        spouse.last_name,
        spouse.birth_date.isoformat(),
        spouse.birth_date.strftime("%d.%m.%Y"),
        family.household.address,
        "070 123 456",
        "погрешна сметка",  # the reversal's reason
        "Погрешен ден",  # the correction's reason
    ]


def audit_pages(browser: Any) -> str:
    pages = []
    number = 1
    while True:
        response = browser.get(f"/audit/?page={number}")
        assert response.status_code == 200
        pages.append(response.get_data(as_text=True))
        if ">Older</a>" not in pages[-1]:
            return "\n".join(pages)
        number += 1


def stored_payloads() -> str:
    db.session.remove()
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT CAST(changes AS TEXT) FROM audit_events ORDER BY id"))
        return "\n".join(row[0] for row in rows)


def test_after_anonymising_the_familys_personal_data_is_unreadable_in_the_audit_trail_too(
    family: Family, login_as: Any, app: Flask
) -> None:
    from casework.cli import audit_verify

    personal = personal_strings(family)
    household = completed(family)
    db.session.commit()
    coordinator, _ = login_as(Role.COORDINATOR)
    before = audit_pages(coordinator)
    # Until now the coordinator read them (the birth date as shown, never as stored).
    assert [s for s in personal if s not in before] == [personal[2]]
    services.anonymise_household(None, db.session.get(Household, household.id), now=NOW)
    db.session.commit()
    raw = stored_payloads()
    assert [s for s in personal if s in raw] == []
    auditor, _ = login_as(Role.AUDITOR)
    admin, _ = login_as(Role.ADMIN)
    for browser in (coordinator, auditor, admin):
        page = audit_pages(browser)
        assert [s for s in personal if s in page] == []
    assert "removed (retention)" in audit_pages(coordinator)
    assert verify_chain().ok
    result = app.test_cli_runner().invoke(audit_verify)
    assert result.exit_code == 0 and "intact" in result.output


def test_the_stored_payload_of_a_personal_field_is_ciphertext_until_and_after_the_shredding(
    family: Family,
) -> None:
    from casework.audit.keys import SEALED
    from casework.audit.models import HouseholdKey

    personal, household_id = personal_strings(family), family.household.id
    completed(family)
    db.session.commit()
    raw = stored_payloads()
    assert [s for s in personal if s in raw] == []
    assert SEALED in raw
    key = db.session.get(HouseholdKey, household_id)
    assert key is not None and key.wrapped_key and key.shredded_at is None
    services.anonymise_household(None, db.session.get(Household, household_id), now=NOW)
    db.session.commit()
    assert stored_payloads().startswith(raw)  # no audit row changed: the chain still holds
    key = db.session.get(HouseholdKey, household_id)
    assert key is not None and key.wrapped_key is None and key.shredded_at == NOW


def test_the_subject_access_export_opens_the_familys_audit_events_but_never_holds_a_key(
    family: Family,
) -> None:
    data = services.household_data(family.household)
    events = json.dumps(data["tables"]["audit_events"], ensure_ascii=False)
    assert family.spouse.first_name in events and "погрешна сметка" in events
    assert "$sealed" not in events and "household_keys" not in data["tables"]
    household = completed(family)
    services.anonymise_household(None, household, now=NOW)
    after = json.dumps(services.household_data(household), ensure_ascii=False)
    assert "removed (retention)" in after and "погрешна сметка" not in after


def test_an_event_written_before_fields_were_sealed_reads_removed_once_anonymised(
    family: Family, login_as: Any
) -> None:
    """Events older than the sealing keep their plain text (the chain forbids rewriting them):
    the page still hides it from auditors, and from everyone once the family is anonymised."""
    household_id = family.household.id
    db.session.add(  # as record() wrote it before fields were sealed
        AuditEvent(
            action="member.create",
            entity_type="member",
            entity_id=family.spouse.id,
            municipality_id=family.household.municipality_id,
            changes={"household_id": household_id, "after": {"first_name": "Старојменка"}},
        )
    )
    completed(family)
    db.session.commit()
    coordinator, _ = login_as(Role.COORDINATOR)
    auditor, _ = login_as(Role.AUDITOR)
    assert "Старојменка" in audit_pages(coordinator)
    assert "Старојменка" not in audit_pages(auditor)
    services.anonymise_household(None, db.session.get(Household, household_id), now=NOW)
    db.session.commit()
    for browser in (coordinator, auditor):
        page = audit_pages(browser)
        assert "Старојменка" not in page and "removed (retention)" in page
    assert verify_chain().ok

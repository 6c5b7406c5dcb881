"""The audit trail is one hash chain: editing, deleting or slipping in an entry behind the
app's back is found by ``casework audit verify``, which names the first broken entry."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from casework.audit.models import AuditEvent, AuditLink
from casework.audit.services import record, verify_chain
from casework.extensions import db
from casework.households.models import Household
from casework.security.models import Role
from tests.conftest import TODAY, Factory, append_only_lifted


def events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def behind_the_apps_back(sql: str, **params: object) -> None:
    """A change made straight on the database, as a careless or malicious DBA would."""
    db.session.remove()
    with db.engine.begin() as conn, append_only_lifted(conn):
        conn.execute(text(sql), params)


def test_every_committed_event_is_chained_and_the_chain_verifies(make: Factory) -> None:
    make.household()  # a municipality, users and a household: several audit events
    db.session.commit()
    stored = events()
    links = list(db.session.scalars(select(AuditLink).order_by(AuditLink.seq)))
    assert len(stored) >= 3 and [link.event_id for link in links] == [e.id for e in stored]
    assert [link.seq for link in links] == list(range(1, len(links) + 1))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(links))
    report = verify_chain()
    assert report.ok and report.checked == len(stored)


def test_an_edited_entry_is_named(make: Factory) -> None:
    make.household()
    db.session.commit()
    target = events()[2]
    behind_the_apps_back(
        "UPDATE audit_events SET action = 'nothing.happened' WHERE id = :id", id=target.id
    )
    report = verify_chain()
    assert report.broken_event_id == target.id and "changed" in report.reason
    assert report.checked == 2


def test_a_deleted_entry_is_named_and_so_is_a_deleted_link(make: Factory) -> None:
    make.household()
    db.session.commit()
    first, second, third = events()[:3]
    behind_the_apps_back("DELETE FROM audit_events WHERE id = :id", id=second.id)
    report = verify_chain()
    assert report.broken_event_id == second.id and "deleted" in report.reason
    behind_the_apps_back("DELETE FROM audit_links WHERE event_id = :id", id=second.id)
    report = verify_chain()
    assert report.broken_event_id == third.id and "missing" in report.reason
    assert first.id < second.id


def test_an_entry_slipped_in_behind_the_apps_back_is_outside_the_chain(make: Factory) -> None:
    make.household()
    db.session.commit()
    behind_the_apps_back(
        "INSERT INTO audit_events (occurred_at, action, entity_type, changes) "
        "VALUES (CURRENT_TIMESTAMP, 'payment.record', 'payment', '{}')"
    )
    report = verify_chain()
    assert not report.ok and report.broken_event_id is None and report.unlinked == 1


def test_events_rolled_back_with_a_savepoint_or_a_transaction_are_not_chained(
    make: Factory,
) -> None:
    user = make.user(Role.COORDINATOR)
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(AuditLink))
    savepoint = db.session.begin_nested()
    record(user, "test.rolled_back", "test", 1)
    db.session.flush()
    savepoint.rollback()
    record(user, "test.kept", "test", 2)
    db.session.commit()
    record(user, "test.abandoned", "test", 3)
    db.session.flush()
    db.session.rollback()
    chained = db.session.scalars(
        select(AuditEvent.action).join(AuditLink, AuditLink.event_id == AuditEvent.id)
    ).all()
    assert "test.kept" in chained and "test.rolled_back" not in chained
    assert "test.abandoned" not in chained
    assert db.session.scalar(select(func.count()).select_from(AuditLink)) == before + 1
    assert verify_chain().ok


def test_writers_at_once_keep_one_chain(app: Flask, make: Factory) -> None:
    """Threads committing audit events together (real connections; PostgreSQL in CI's second
    pass) leave one unbroken chain."""
    user_id = make.user(Role.COORDINATOR).id
    db.session.commit()  # and no query after it: SQLite would hold its write lock for us
    barrier = threading.Barrier(3)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for i in range(8):
                    record(None, "test.concurrent", "test", n * 100 + i, changes={"by": user_id})
                    db.session.commit()
                db.session.remove()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    report = verify_chain()
    assert report.ok, report
    concurrent = select(func.count()).where(AuditEvent.action == "test.concurrent")
    assert db.session.scalar(concurrent) == 24


def test_the_command_names_the_first_broken_entry(demo_copy: Path, tmp_path: Path) -> None:
    from tests.test_cli import run as casework

    database = demo_copy
    env = {"CASEWORK_DATABASE_URL": f"sqlite:///{database}"}
    intact = casework(["audit", "verify"], tmp_path, **env)
    assert intact.returncode == 0 and "intact" in intact.stdout
    with sqlite3.connect(database) as conn:
        (target,) = conn.execute(
            "SELECT id FROM audit_events ORDER BY id LIMIT 1 OFFSET 40"
        ).fetchone()
        conn.execute("DROP TRIGGER audit_events_no_update")  # as the database's owner can
        conn.execute("UPDATE audit_events SET changes = '{}' WHERE id = ?", (target,))
    broken = casework(["audit", "verify"], tmp_path, **env)
    assert broken.returncode == 1 and f"entry {target}:" in broken.stderr


def test_the_migration_chains_events_written_before_it(app: Flask, make: Factory) -> None:
    from flask_migrate import downgrade, upgrade

    make.household()
    db.session.commit()
    count = len(events())
    db.session.remove()
    downgrade(revision="74221368bc61")
    upgrade()
    assert db.session.scalar(select(func.count()).select_from(AuditLink)) == count
    assert verify_chain().ok


@pytest.mark.parametrize("table", ["audit_events", "audit_links", "access_log"])
def test_the_database_refuses_to_change_or_remove_audit_and_access_rows(
    make: Factory,
    login_as,
    table: str,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    browser, _ = login_as(Role.COORDINATOR)
    browser.get(f"/households/{household.id}")  # an access-log row
    db.session.remove()
    rows = db.metadata.tables[table]
    key = rows.primary_key.columns[0]
    for statement in (update(rows).values({key: key}), delete(rows)):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(statement)
    with db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(rows))


# --- the Audit page: readable, and pseudonymised for auditors ------------------------------------

NEW_ADDRESS = "ул. Илинденска бр. 12"
SPOUSE = ("Ајше", "Мамудовска", "02.06.1988")
REVERSAL_REASON = "Уплатено на погрешна сметка"


def family_with_a_history(make: Factory) -> Household:
    """A household whose trail holds an address changed, a member added and a payment
    reversed: personal fields, old and new values, and amounts."""
    from casework.households.services import HouseholdData, update_household
    from casework.payments.services import reverse_payment

    enrollment = make.active_enrollment(make.programme(), make.household())
    household = enrollment.household
    coordinator = make.coordinator(household.municipality)
    make.member(household)
    update_household(
        coordinator, household, HouseholdData(address=NEW_ADDRESS, settlement="Кичево"), today=TODAY
    )
    payment = make.paid(enrollment, 5_000_00)
    reverse_payment(make.user(Role.OFFICER), payment, REVERSAL_REASON, on=TODAY, today=TODAY)
    db.session.commit()
    return household


def audit_page(browser: Any, household: Household) -> str:
    """Every page of the audit trail the reader may search, as one text."""
    pages = []
    for number in itertools.count(1):
        response = browser.get(f"/audit/?page={number}")
        assert response.status_code == 200
        pages.append(response.get_data(as_text=True))
        if ">Older</a>" not in pages[-1]:
            return "\n".join(pages)
    raise AssertionError("unreachable")


def personal_data_of(household: Household) -> list[str]:
    return [
        "Мамудовски",  # the head's surname, in the case notes' events if anywhere
        *SPOUSE,
        "ул. Гоце Делчев бр. 7",
        NEW_ADDRESS,
        REVERSAL_REASON,
    ]


def test_the_audit_page_shows_each_change_field_by_field_with_the_action_in_words(
    make: Factory, login_as: Any
) -> None:
    household = family_with_a_history(make)
    browser, _ = login_as(Role.COORDINATOR)
    page = audit_page(browser, household)
    assert "Payment reversed" in page and "Member added" in page and "Household changed" in page
    assert "<del>ул. Гоце Делчев бр. 7</del> → <ins>ул. Илинденска бр. 12</ins>" in page
    assert "<dt>First name</dt>" in page and "<dd>Ајше</dd>" in page
    assert "<dd>02.06.1988</dd>" in page  # a birth date as a date, not 1988-06-02
    assert "5,000.00" in page  # the reversed amount as money, not 500000 deni
    assert '"address"' not in page and "$sealed" not in page  # no raw JSON any more
    assert household.case_number in page


def test_the_audit_page_speaks_macedonian_too(make: Factory, login_as: Any) -> None:
    from flask_babel import force_locale, gettext

    household = family_with_a_history(make)
    browser, _ = login_as(Role.COORDINATOR, locale="mk")
    page = audit_page(browser, household)
    with make.app.test_request_context(), force_locale("mk"):
        reversed_in_mk = gettext("Payment reversed")
    assert reversed_in_mk in page
    assert "<dt>Адреса</dt>" in page and "<dt>Име</dt>" in page and "<dt>Износ</dt>" in page
    # Statuses in words too: the request went from paid to reversed.
    with make.app.test_request_context(), force_locale("mk"):
        paid, reversed_ = gettext("paid"), gettext("reversed")
    assert f"<del>{paid}</del> → <ins>{reversed_}</ins>" in page


def test_an_unknown_action_is_shown_by_its_code(make: Factory, login_as: Any) -> None:
    from casework.labels import action_label

    household = make.household()
    record(
        None, "something.new", "household", household.id, municipality_id=household.municipality_id
    )
    db.session.commit()
    assert action_label("something.new") == "something.new"
    browser, _ = login_as(Role.AUDITOR)
    assert "something.new" in audit_page(browser, household)


def test_an_auditor_reads_case_numbers_and_amounts_but_no_names_birth_dates_or_addresses(
    make: Factory, login_as: Any
) -> None:
    household = family_with_a_history(make)
    auditor, _ = login_as(Role.AUDITOR)
    page = audit_page(auditor, household)
    assert household.case_number in page and "5,000.00" in page and "Payment reversed" in page
    assert [text for text in personal_data_of(household) if text in page] == []
    assert "personal data, not shown" in page
    admin, _ = login_as(Role.ADMIN)
    page = audit_page(admin, household)
    assert [text for text in personal_data_of(household) if text in page] == []


def test_a_coordinator_of_the_municipality_reads_them_and_the_access_log_says_so(
    make: Factory, login_as: Any
) -> None:
    from casework.audit.models import AccessAction, AccessRecord
    from tests.conftest import count

    household = family_with_a_history(make)
    case_number = household.case_number
    browser, coordinator = login_as(Role.COORDINATOR)
    coordinator_id = coordinator.id
    page = audit_page(browser, household)
    assert [text for text in personal_data_of(household)[1:] if text not in page] == []
    db.session.remove()
    entries = db.session.scalars(
        select(AccessRecord).where(AccessRecord.user_id == coordinator_id)
    ).all()
    assert entries  # one per page of the trail that opened a family's fields
    entry = entries[-1]
    assert entry.action == AccessAction.VIEW_LIST and case_number in entry.detail
    # An auditor's pseudonymised page opens nothing, so it logs nothing.
    auditor, reader = login_as(Role.AUDITOR)
    reader_id = reader.id
    audit_page(auditor, household)
    assert count(AccessRecord, AccessRecord.user_id == reader_id) == 0


def test_another_municipalitys_coordinator_does_not_read_them(make: Factory, login_as: Any) -> None:
    household = family_with_a_history(make)
    elsewhere = make.municipality("STR", "Струга")
    browser, _ = login_as(Role.COORDINATOR, elsewhere)
    response = browser.get(f"/audit/?household={household.case_number}")
    page = response.get_data(as_text=True)
    assert "0 entries" in page
    assert [text for text in personal_data_of(household) if text in page] == []


def test_a_personal_field_is_stored_sealed_and_the_chain_hashes_what_is_stored(
    make: Factory,
) -> None:
    household = family_with_a_history(make)
    case_number = household.case_number
    db.session.remove()
    with db.engine.connect() as conn:
        stored = [
            row[0] for row in conn.execute(text("SELECT CAST(changes AS TEXT) FROM audit_events"))
        ]
    raw = "\n".join(stored)
    assert [name for name in personal_data_of(household) if name in raw] == []
    assert "$sealed" in raw and case_number not in raw  # ids, not even case numbers
    member = next(json.loads(row) for row in stored if '"after"' in row and '"first_name"' in row)
    assert set(member["after"]["first_name"]) == {"$sealed", "household"}
    assert member["after"]["sex"] == "F"  # what is not personal stays readable
    assert verify_chain().ok


def test_every_action_the_code_records_has_words_on_the_audit_page() -> None:
    """An action written by ``record(actor, "x.y", ...)`` anywhere in the package, or built
    from a status (enrollments, payment requests), is named in words, not by its code."""
    from casework.enrollment.models import Status
    from casework.labels import AUDIT_ACTION_LABELS
    from casework.payments.models import RequestStatus

    package = Path(__file__).resolve().parent.parent / "casework"
    written = {
        match
        for source in package.rglob("*.py")
        for match in re.findall(r'record\(\s*\w+,\s*"([a-z_]+\.[a-z_]+)"', source.read_text())
    }
    written |= {f"enrollment.{status}" for status in Status} | {"enrollment.reopened"}
    written |= {f"payment_request.{status}" for status in RequestStatus}
    assert len(written) > 40
    assert sorted(written - set(AUDIT_ACTION_LABELS)) == []

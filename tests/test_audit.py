"""The audit trail is one hash chain: editing, deleting or slipping in an entry behind the
app's back is found by ``casework audit verify``, which names the first broken entry."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from casework.audit.models import AuditEvent, AuditLink
from casework.audit.services import record, verify_chain
from casework.extensions import db
from casework.security.models import Role
from tests.conftest import Factory, append_only_lifted


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

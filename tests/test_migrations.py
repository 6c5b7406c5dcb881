"""The schema comes only from the migrations, and they match the models exactly.

These run on the suite's database: SQLite by default, PostgreSQL in CI's second pass.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from casework import create_app
from casework.extensions import db
from casework.households.models import match_key
from tests.conftest import Factory, make_settings


def _schema_differences() -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, db.metadata))


def _tables() -> set[str]:
    db.session.remove()
    return set(inspect(db.engine).get_table_names())


def test_upgrade_head_yields_exactly_the_models_schema(app: Flask) -> None:
    assert _schema_differences() == []
    assert _tables() == set(db.metadata.tables) | {"alembic_version"}


def test_downgrade_base_removes_every_table_and_upgrade_rebuilds_them(app: Flask) -> None:
    db.session.remove()
    downgrade(revision="base")
    assert _tables() <= {"alembic_version"}
    upgrade()
    assert _schema_differences() == []


def test_the_app_never_creates_tables_by_itself(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'untouched.sqlite'}"
    app = create_app(make_settings(url, tmp_path))
    app.test_client().get("/login")
    assert inspect(create_engine(url)).get_table_names() == []


def test_the_match_keys_migration_fills_the_keys_of_existing_households(
    app: Flask, make: Factory
) -> None:
    """Families registered before the keys existed are found as duplicates afterwards too."""
    household = make.household(head_name=("  Мухамед", "МАМУДОВСКИ "), address="Ул. Гоце  Делчев 7")
    household_id = household.id
    db.session.commit()
    db.session.remove()
    downgrade(revision="4491e45f8ca3")
    # Up to that migration only: the later one folds the script as well (below).
    upgrade(revision="21bddf2b030e")
    assert _keys(household_id) == ("ул. гоце делчев 7", "мухамед\x1fмамудовски")
    upgrade()
    assert _keys(household_id) == ("ul. goce delchev 7", "muhamed\x1fmamudovski")


def _keys(household_id: int) -> tuple[str, str]:
    """The stored address key of the household and name key of its head."""
    with db.engine.connect() as conn:
        address_key, name_key = conn.execute(
            text(
                "SELECT h.address_key, m.name_key FROM households h "
                "JOIN members m ON m.household_id = h.id WHERE h.id = :id AND m.is_head"
            ),
            {"id": household_id},
        ).one()
    return address_key, name_key


def test_the_migration_across_scripts_recomputes_the_keys_of_existing_rows(
    app: Flask, make: Factory
) -> None:
    """Families registered before the keys folded the script are found across scripts after
    the upgrade; a downgrade puts the previous keys back."""
    cyrillic = make.household(head_name=("Сефер", "Бајрамовски"), address="ул. Илинденска 12")
    latin = make.household(head_name=("Sefer", "Bajramovski"), address="ul. Ilindenska  12")
    albanian = make.household(head_name=("Mërgim", "Çela"), address="Rr. Dhimitër Tutulani 3")
    ids = (cyrillic.id, latin.id, albanian.id)
    db.session.commit()
    db.session.remove()
    downgrade(revision="a05bb0e3cb60")
    assert [_keys(i) for i in ids] == [
        ("ул. илинденска 12", "сефер\x1fбајрамовски"),
        ("ul. ilindenska 12", "sefer\x1fbajramovski"),
        ("rr. dhimitër tutulani 3", "mërgim\x1fçela"),
    ]
    upgrade()
    assert [_keys(i) for i in ids] == [
        ("ul. ilindenska 12", "sefer\x1fbajramovski"),
        ("ul. ilindenska 12", "sefer\x1fbajramovski"),
        ("r. dimiter tutulani 3", "mergim\x1fchela"),
    ]
    assert _schema_differences() == []


@pytest.mark.parametrize(
    "name",
    ["Сефер Бајрамовски", "Šaḱir Džemaili", "Xhevdet Thaçi", "Ѓорѓи Ќосев", "ǅemal Ayşe Ылли"],
)
def test_the_migrations_frozen_key_is_the_apps_key_of_today(name: str) -> None:
    """The migration keeps its own copy of the folding. The day the app's folding changes,
    this fails: a reminder that a new migration must compute the stored keys again."""
    migration = _migration("9ec49c6175d9_match_keys_across_scripts.py")
    first, last = name.split(" ", 1)
    assert migration._match_key(first, last) == match_key(first, last)
    assert migration._match_key(name) == match_key(name)


def _migration(filename: str) -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "migrations" / "versions" / filename
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_closing_migration_widens_the_status_checks_and_keeps_every_row(
    app: Flask, make: Factory
) -> None:
    """Enrollments with their history and payments survive the migration both ways; after it the
    database takes closed_early and a close reason, and still refuses a status of no list."""
    from sqlalchemy.exc import IntegrityError

    from casework.enrollment import services
    from tests.conftest import TODAY

    programme = make.programme()
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment, 1_000_00)
    closed = make.active_enrollment(programme)
    ids = (enrollment.id, closed.id)
    db.session.commit()
    db.session.remove()
    counts = "SELECT (SELECT count(*) FROM enrollment_events), (SELECT count(*) FROM obligations)"
    with db.engine.connect() as conn:
        before = conn.execute(text(counts)).one()
    downgrade(revision="a05bb0e3cb60")
    upgrade()
    with db.engine.connect() as conn:
        assert conn.execute(text(counts)).one() == before
    closed = db.session.get(type(enrollment), ids[1])
    services.close_early(
        make.coordinator(closed.household.municipality),
        closed,
        services.EarlyClosing(TODAY, "moved_away", "Се преселија"),
        today=TODAY,
    )
    db.session.commit()
    db.session.remove()
    for bad in (
        "UPDATE enrollments SET status = 'lost' WHERE id = :id",
        "UPDATE enrollments SET close_reason = 'bored' WHERE id = :id",
        "UPDATE enrollment_events SET close_reason = 'bored' WHERE enrollment_id = :id",
    ):
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(text(bad), {"id": ids[0]})
    db.session.remove()
    downgrade(revision="a05bb0e3cb60")
    with db.engine.connect() as conn:
        assert conn.execute(text(counts)).one()[0] == before[0] + 1
        status = conn.execute(text("SELECT status FROM enrollments WHERE id = :id"), {"id": ids[1]})
        assert status.scalar() == "withdrawn"
        reason = conn.execute(
            text("SELECT reason FROM enrollment_events WHERE to_status = 'withdrawn'")
        ).scalar()
        assert reason == "moved_away: Се преселија"
    upgrade()
    assert _schema_differences() == []


def test_the_statements_migration_voids_statements_stored_twice_before_the_unique_index(
    app: Flask, make: Factory
) -> None:
    """A database with the same statement twice (the defect the index closes) keeps the one a
    request was made on and has the other voided, in the name of whoever entered it."""
    enrollment = make.active_enrollment(make.programme())
    requested = make.paid(enrollment).request.arrear_id
    db.session.commit()
    db.session.remove()
    downgrade(revision="a05bb0e3cb60")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO arrears (account_id, period_from, period_to, principal_deni, "
                "penalty_deni, statement_ref, received_on, recorded_by_id, recorded_at) "
                "SELECT account_id, period_from, period_to, principal_deni, penalty_deni, "
                "statement_ref, received_on, recorded_by_id, recorded_at FROM arrears "
                "WHERE id = :id"
            ),
            {"id": requested},
        )
        conn.execute(  # the copy entered first: the request is on the later one
            text("UPDATE arrears SET id = 0 WHERE id = (SELECT max(id) FROM arrears)")
        )
    upgrade()
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, voided_on IS NOT NULL, voided_by_id = recorded_by_id, void_reason "
                "FROM arrears ORDER BY id"
            )
        ).all()
    assert [(r[0], bool(r[1])) for r in rows] == [(0, True), (requested, False)]
    assert rows[0][2] and "Stored twice" in rows[0][3]

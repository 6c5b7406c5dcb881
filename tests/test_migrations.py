"""The schema comes only from the migrations, and they match the models exactly.

These run on the suite's database: SQLite by default, PostgreSQL in CI's second pass.
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from casework import create_app
from casework.extensions import db
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
    upgrade()
    with db.engine.connect() as conn:
        address_key, name_key = conn.execute(
            text(
                "SELECT h.address_key, m.name_key FROM households h "
                "JOIN members m ON m.household_id = h.id WHERE h.id = :id"
            ),
            {"id": household_id},
        ).one()
    assert address_key == "ул. гоце делчев 7"
    assert name_key == "мухамед\x1fмамудовски"


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

"""The schema comes only from the migrations, and they match the models exactly.

These run on the suite's database: SQLite by default, PostgreSQL in CI's second pass.
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from casework import create_app
from casework.extensions import db
from tests.conftest import make_settings


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

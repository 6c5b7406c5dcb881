"""The schema comes only from the migrations, and they match the models exactly."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from casework import create_app
from casework.extensions import db
from tests.conftest import make_settings


def _fresh_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'migrations.sqlite'}"
    return create_app(make_settings(url, tmp_path)), url


def test_upgrade_head_on_an_empty_database_yields_exactly_the_models_schema(tmp_path: Path) -> None:
    app, url = _fresh_app(tmp_path)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
    assert differences == []
    tables = set(inspect(create_engine(url)).get_table_names())
    assert tables == set(db.metadata.tables) | {"alembic_version"}


def test_downgrade_base_removes_every_table_and_upgrade_works_again(tmp_path: Path) -> None:
    app, url = _fresh_app(tmp_path)
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(create_engine(url)).get_table_names()) <= {"alembic_version"}
        upgrade()
    assert "households" in inspect(create_engine(url)).get_table_names()


def test_the_app_never_creates_tables_by_itself(tmp_path: Path) -> None:
    app, url = _fresh_app(tmp_path)
    with app.test_client() as client:
        client.get("/login")
    assert inspect(create_engine(url)).get_table_names() == []

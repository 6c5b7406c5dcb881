"""Settings come from CASEWORK_* variables; a bad value stops start-up with a clear message."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from casework import create_app
from casework.config import (
    INSECURE_SECRET_KEY,
    ConfigError,
    estimated_entropy_bits,
    from_env,
)


def test_defaults_use_an_embedded_sqlite_file_under_instance() -> None:
    settings = from_env({})
    assert settings.sqlalchemy_url.startswith("sqlite:///")
    assert settings.sqlalchemy_url.endswith("instance/casework.sqlite")


def test_postgresql_url_selects_the_psycopg_driver() -> None:
    settings = from_env({"CASEWORK_DATABASE_URL": "postgresql://cw@127.0.0.1/cw"})
    assert settings.sqlalchemy_url == "postgresql+psycopg://cw@127.0.0.1/cw"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("CASEWORK_ENV", "staging", "CASEWORK_ENV"),
        ("CASEWORK_PAGE_SIZE", "many", "CASEWORK_PAGE_SIZE"),
        ("CASEWORK_PAGE_SIZE", "0", "CASEWORK_PAGE_SIZE"),
        ("CASEWORK_DATABASE_URL", "mysql://x", "CASEWORK_DATABASE_URL"),
        ("CASEWORK_DEFAULT_LOCALE", "de", "CASEWORK_DEFAULT_LOCALE"),
    ],
)
def test_a_bad_value_is_refused_with_a_message_naming_the_variable(
    variable: str, value: str, named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        from_env({variable: value})


def test_production_refuses_to_start_without_a_real_secret_key() -> None:
    with pytest.raises(ConfigError, match="CASEWORK_SECRET_KEY"):
        from_env({"CASEWORK_ENV": "production"})
    with pytest.raises(ConfigError, match="CASEWORK_SECRET_KEY"):
        from_env({"CASEWORK_ENV": "production", "CASEWORK_SECRET_KEY": "short"})
    random_key = secrets.token_urlsafe(32)
    settings = from_env({"CASEWORK_ENV": "production", "CASEWORK_SECRET_KEY": random_key})
    assert settings.secret_key == random_key != INSECURE_SECRET_KEY


@pytest.mark.parametrize(
    "weak",
    [
        "a" * 32,
        "x" * 64,
        "abcd" * 16,  # few distinct characters
        "0123456789abcdef" * 4,  # one block repeated
        "ab" * 20 + "c" * 12,
    ],
)
def test_a_production_secret_of_the_right_length_but_little_randomness_is_refused(
    weak: str,
) -> None:
    assert len(weak) >= 32
    with pytest.raises(ConfigError, match="CASEWORK_SECRET_KEY") as refused:
        from_env({"CASEWORK_ENV": "production", "CASEWORK_SECRET_KEY": weak})
    assert "secrets.token_urlsafe(32)" in str(refused.value)  # says how to make one
    assert from_env({"CASEWORK_SECRET_KEY": weak}).secret_key == weak  # development: allowed


def test_secrets_made_the_suggested_ways_pass_in_production() -> None:
    for _ in range(200):
        for key in (secrets.token_urlsafe(32), secrets.token_hex(32)):
            assert estimated_entropy_bits(key) >= 128
            from_env({"CASEWORK_ENV": "production", "CASEWORK_SECRET_KEY": key})


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    from casework.config import Settings
    from casework.extensions import db

    app = create_app(Settings(env="test", instance_path=tmp_path))
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_the_audit_master_key_must_be_a_fernet_key() -> None:
    from cryptography.fernet import Fernet

    with pytest.raises(ConfigError, match="CASEWORK_AUDIT_KEY"):
        from_env({"CASEWORK_AUDIT_KEY": "not-a-key"})
    key = Fernet.generate_key().decode()
    assert from_env({"CASEWORK_AUDIT_KEY": key}).audit_key == key
    assert from_env({}).audit_key == ""  # derived from the secret key (audit.keys.master_key)

"""Running casework: health and readiness, a database that goes away and comes back, logs
without personal data, and backups taken while the app writes."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, inspect, make_url, select, text

from casework import create_app
from casework.db import utcnow
from casework.extensions import db
from casework.households.models import CaseNote
from casework.households.services import add_note
from casework.ops.services import beat
from casework.security.models import Role, User
from tests.browser.conftest import free_port, wait_for
from tests.conftest import (
    PASSWORD,
    TODAY,
    Client,
    Factory,
    logged_in,
    make_settings,
    process_env,
)

CASEWORK = [sys.executable, "-m", "casework"]


# --- health and readiness ------------------------------------------------------------------------


def test_healthz_answers_without_a_login_and_touches_nothing(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_migrations(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {
            "database": "ok",
            "migrations": "ok",
            "scheduler": "not expected",
            "worker": "not expected",
        },
    }


def test_readyz_fails_until_an_expected_scheduler_beats(
    app: Flask, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dataclasses.replace(app.config["CASEWORK"], expect_scheduler=True)
    monkeypatch.setitem(app.config, "CASEWORK", settings)
    stale = client.get("/readyz")
    assert stale.status_code == 503 and stale.get_json()["checks"]["scheduler"] == "stale"
    beat("scheduler", utcnow())
    assert client.get("/readyz").status_code == 200


def test_readyz_fails_on_a_database_not_migrated(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'empty.sqlite'}", tmp_path))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"] == "behind"


# --- the database goes away and comes back (a real PostgreSQL server) ----------------------------


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed (Debian: apt install postgresql)")
    return found[-1].parent


class PostgresServer:
    """A PostgreSQL server of the test's own, which the test may stop and start."""

    def __init__(self) -> None:
        # Not under pytest's folder, which only root may enter: the server runs as postgres.
        self.bin, self.port = _pg_bin(), free_port()
        self.data = Path(tempfile.mkdtemp(prefix="casework-pg-"))
        self._as_owner(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.data, "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._as_owner(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.data / "log"),
            "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self.data} -c fsync=off",
            "start",
        )

    def stop(self) -> None:
        self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.data, ignore_errors=True)


@pytest.mark.slow
def test_a_database_that_stops_gives_503s_and_the_app_recovers_by_itself(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    app = create_app(make_settings(own_postgres.url, tmp_path))
    with app.app_context():
        upgrade()
        from casework.security.services import RoleGrant, create_user

        create_user(
            None,
            "coordinator",
            "Весна Коордиnatorска",
            PASSWORD,
            [RoleGrant(Role.ADMIN, None)],
            locale="en",
        )
        db.session.commit()
        browser = Client(app.test_client())
        assert browser.login("coordinator").status_code == 302
        assert browser.get("/readyz").status_code == 200
        api_token = _token(app)

        own_postgres.stop()
        page = browser.get("/admin/outbox")
        assert page.status_code == 503 and page.headers["Retry-After"]
        assert "Unavailable for a moment" in page.get_data(as_text=True)
        api = browser.http.get("/api/v1/me", headers={"Authorization": f"Bearer {api_token}"})
        assert api.status_code == 503 and api.get_json()["error"]["code"]
        ready = browser.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["database"] == "unavailable"
        assert browser.get("/healthz").status_code == 200  # the process itself is fine

        own_postgres.start()  # no restart of the app
        assert browser.get("/readyz").status_code == 200
        assert browser.get("/admin/outbox").status_code == 200  # still logged in
        db.session.remove()
        db.engine.dispose()


def _token(app: Flask) -> str:
    from casework.api.services import create_token

    user = db.session.scalars(select(User)).one()
    secret = create_token(user, user, "ops test")[1]
    db.session.commit()
    return secret


# --- logs ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_request_logs_are_json_lines_without_personal_data(demo_copy: Path, tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(demo_copy) as conn:
        surname, first, national_id = conn.execute(
            "SELECT last_name, first_name, national_id FROM members "
            "WHERE national_id IS NOT NULL LIMIT 1"
        ).fetchone()
        household_id = conn.execute("SELECT min(id) FROM households").fetchone()[0]
    port, log_path = free_port(), tmp_path / "server.log"
    env = process_env(
        tmp_path, CASEWORK_DATABASE_URL=f"sqlite:///{demo_copy}", CASEWORK_LOG_FORMAT="json"
    )
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*CASEWORK, "serve", "--port", str(port)], env=env, cwd=tmp_path, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/healthz")
            opener = logged_in(base, "coordinator", "casework-demo")
            opener.open(base + "/households?" + urllib.parse.urlencode({"q": surname})).read()
            opener.open(base + "/households?" + urllib.parse.urlencode({"q": national_id})).read()
            opener.open(f"{base}/households/{household_id}").read()
            with pytest.raises(urllib.error.HTTPError):
                opener.open(base + "/households/999999")
        finally:
            server.terminate()
            server.wait(timeout=30)
    lines = log_path.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    requests = [e for e in entries if e.get("message") == "request"]
    assert len(requests) >= 6
    for entry in requests:
        assert {
            "time",
            "level",
            "request_id",
            "method",
            "endpoint",
            "status",
            "duration_ms",
        } <= set(entry)
    assert any(e["endpoint"] == "households.detail" and e.get("user_id") for e in requests)
    assert any(e["status"] == 404 for e in requests)
    logged = log_path.read_text()
    for value in (surname, first, national_id, "q=", "/households/"):
        assert value not in logged, f"{value!r} reached the log"


def test_the_request_log_reads_nothing_after_the_view_has_committed(
    app: Flask, login_as: Any
) -> None:
    """After a commit every loaded row is expired; reading the user's id for the log line
    began a new transaction, which on SQLite queued behind a worker's write lock and turned
    a committed request into a 500."""
    from sqlalchemy import event

    browser, user = login_as(Role.COORDINATOR)
    seen: list[str] = []

    def _commit(session: Any) -> None:
        seen.append("COMMIT")

    def _statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement[:90])

    event.listen(db.session, "after_commit", _commit)
    event.listen(db.engine, "before_cursor_execute", _statement)
    try:
        response = browser.post("/language", data={"locale": "sq", "next": "/"})
    finally:
        event.remove(db.engine, "before_cursor_execute", _statement)
        event.remove(db.session, "after_commit", _commit)
    assert response.status_code == 302
    assert "COMMIT" in seen
    after_the_last_commit = seen[len(seen) - seen[::-1].index("COMMIT") :]
    assert after_the_last_commit == [], "\n".join(seen)
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "sq"


# --- backup and restore --------------------------------------------------------------------------


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = inspect(engine).get_table_names()
            query = 'SELECT count(*) FROM "{}"'  # the schema's own table names
            return {table: conn.execute(text(query.format(table))).scalar_one() for table in tables}
    finally:
        engine.dispose()


@pytest.fixture
def empty_database(app: Flask, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the suite's kind to restore into."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    name = f"casework_restore_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _casework(args: list[str], url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CASEWORK, *args],
        env=process_env(folder, CASEWORK_DATABASE_URL=url),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_a_backup_taken_while_the_app_writes_restores_into_a_fresh_database(
    app: Flask, make: Factory, tmp_path: Path, empty_database: str
) -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    household = make.household()
    worker = make.user(Role.COORDINATOR)
    household_id, worker_id = household.id, worker.id
    db.session.commit()
    stop, written = threading.Event(), []

    def keep_writing() -> None:  # a coordinator writing notes, each with its audit event
        with app.app_context():
            from casework.households.models import Household

            while not stop.is_set():
                add_note(
                    db.session.get_one(User, worker_id),
                    db.session.get_one(Household, household_id),
                    f"Посета {len(written)}",
                    "ngo",
                    written_on=TODAY,
                    today=TODAY,
                )
                db.session.commit()
                written.append(1)
            db.session.remove()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 20:
            time.sleep(0.05)
        during = _casework(["backup", str(tmp_path / "during.backup")], url, tmp_path)
        assert during.returncode == 0, during.stderr
        while len(written) < 40:
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join(timeout=60)
    after = _casework(["backup", str(tmp_path / "after.backup")], url, tmp_path)
    assert after.returncode == 0, after.stderr
    source = _counts(url)
    assert source["case_notes"] == len(written) >= 40

    # The copy made during the writes is a consistent moment: its audit chain holds.
    restored = _casework(["restore", str(tmp_path / "during.backup")], empty_database, tmp_path)
    assert restored.returncode == 0, restored.stderr
    snapshot = _counts(empty_database)
    assert 20 <= snapshot["case_notes"] < source["case_notes"]
    assert _casework(["audit", "verify"], empty_database, tmp_path).returncode == 0

    # Over a database with data only when told; then the copy made after the writes.
    refused = _casework(["restore", str(tmp_path / "after.backup")], empty_database, tmp_path)
    assert refused.returncode == 1 and "not empty" in refused.stderr
    assert _counts(empty_database) == snapshot
    replaced = _casework(
        ["restore", "--replace", str(tmp_path / "after.backup")], empty_database, tmp_path
    )
    assert replaced.returncode == 0, replaced.stderr
    assert _counts(empty_database) == source
    verified = _casework(["audit", "verify"], empty_database, tmp_path)
    assert verified.returncode == 0 and "intact" in verified.stdout

    # The restored database serves.
    served = create_app(make_settings(empty_database, tmp_path / "served"))
    with served.app_context():
        browser = Client(served.test_client())
        username = db.session.get_one(User, worker_id).username
        assert browser.login(username).status_code == 302
        page = browser.get(f"/households/{household_id}")
        assert page.status_code == 200 and "Посета 0" in page.get_data(as_text=True)
        assert db.session.scalar(select(func.count()).select_from(CaseNote)) == len(written)
        db.session.remove()
        db.engine.dispose()


def test_a_file_that_is_not_a_backup_is_refused_and_changes_nothing(
    app: Flask, tmp_path: Path, empty_database: str
) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database")
    refused = _casework(["restore", str(bogus)], empty_database, tmp_path)
    assert refused.returncode == 1 and "is not a casework backup" in refused.stderr
    assert _counts(empty_database) == {}
    exists = tmp_path / "taken.backup"
    exists.write_text("keep me")
    again = _casework(["backup", str(exists)], app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    assert again.returncode == 1 and "exists already" in again.stderr
    assert exists.read_text() == "keep me"


def test_check_config_names_what_production_lacks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    assert _casework(["db", "upgrade"], url, tmp_path).returncode == 0
    found = _casework(["check-config"], url, tmp_path)
    assert found.returncode == 1
    assert "CASEWORK_ENV" in found.stdout and "CASEWORK_SMTP_URL" in found.stdout
    weak = subprocess.run(
        [*CASEWORK, "check-config"],
        env=process_env(tmp_path, CASEWORK_ENV="production", CASEWORK_SECRET_KEY="short"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert weak.returncode == 2 and "CASEWORK_SECRET_KEY" in weak.stderr


def test_a_production_password_hash_must_not_be_cheap() -> None:
    from casework.config import ConfigError, from_env

    with pytest.raises(ConfigError, match="CASEWORK_PASSWORD_HASH"):
        from_env(
            {
                "CASEWORK_ENV": "production",
                "CASEWORK_SECRET_KEY": "a-production-secret-of-more-than-32-characters",
                "CASEWORK_PASSWORD_HASH": "scrypt:256:8:1",
            }
        )


def test_the_scheduler_beats_sends_mail_and_applies_retention_daily(app: Flask) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from casework.balances.scheduler import configure
    from casework.ops.models import Heartbeat

    scheduler = BackgroundScheduler(timezone="UTC")
    configure(app, scheduler)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert {"sync", "mail", "heartbeat", "retention"} <= set(jobs)
    assert "hour='2'" in str(jobs["retention"].trigger)  # daily, at night
    beats = db.session.scalars(select(Heartbeat)).all()
    assert [b.kind for b in beats] == ["scheduler"]  # configure() beats at once

"""The ``casework`` command, run as a real process as a person would run it."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import process_env, scheduled_programmes

CASEWORK = [sys.executable, "-m", "casework"]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "CASEWORK_INSTANCE_PATH": str(tmp_path),
        "CASEWORK_DATABASE_URL": "",
        "CASEWORK_DEFAULT_LOCALE": "en",
        **env,
    }
    if not environment["CASEWORK_DATABASE_URL"]:
        environment.pop("CASEWORK_DATABASE_URL")  # the instance folder's SQLite file
    return subprocess.run(
        [*CASEWORK, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("init", "user", "serve", "demo", "db"):
        assert command in result.stdout


def test_init_migrates_and_creates_the_first_admin_once(tmp_path: Path) -> None:
    result = run(["init", "--admin-password", "a long secret passphrase"], tmp_path)
    assert result.returncode == 0, result.stderr
    db = tmp_path / "casework.sqlite"
    assert rows(db, "SELECT username FROM users") == [("admin",)]
    assert rows(db, "SELECT role, municipality_id FROM role_assignments") == [("admin", None)]
    again = run(["init", "--admin-password", "another long passphrase"], tmp_path)
    assert again.returncode == 0
    assert "no admin created" in again.stdout
    assert rows(db, "SELECT count(*) FROM users") == [(1,)]


def test_init_refuses_a_short_password_and_stores_no_user(tmp_path: Path) -> None:
    result = run(["init", "--admin-password", "short"], tmp_path)
    assert result.returncode == 1
    assert "password" in result.stderr and "12 characters" in result.stderr
    assert rows(tmp_path / "casework.sqlite", "SELECT count(*) FROM users") == [(0,)]


def test_user_create_names_the_bad_field_and_stores_nothing(tmp_path: Path) -> None:
    run(["init", "--admin-password", "a long secret passphrase"], tmp_path)
    unknown_role = run(
        [
            "user",
            "create",
            "ana",
            "--full-name",
            "Ana",
            "--role",
            "boss",
            "--municipality",
            "KIC",
            "--password",
            "a long enough pw",
        ],
        tmp_path,
    )
    assert unknown_role.returncode == 2
    assert "--role" in unknown_role.stderr
    unknown_place = run(
        [
            "user",
            "create",
            "ana",
            "--full-name",
            "Ana",
            "--role",
            "coordinator",
            "--municipality",
            "XYZ",
            "--password",
            "a long enough pw",
        ],
        tmp_path,
    )
    assert unknown_place.returncode == 1
    assert "municipality" in unknown_place.stderr and "XYZ" in unknown_place.stderr
    no_place = run(
        [
            "user",
            "create",
            "ana",
            "--full-name",
            "Ana",
            "--role",
            "coordinator",
            "--password",
            "a long enough pw",
        ],
        tmp_path,
    )
    assert no_place.returncode == 1 and "municipality" in no_place.stderr
    assert rows(tmp_path / "casework.sqlite", "SELECT username FROM users") == [("admin",)]


def test_a_bad_environment_value_stops_with_a_message(tmp_path: Path) -> None:
    result = run(
        ["init", "--admin-password", "a long secret passphrase"],
        tmp_path,
        CASEWORK_PAGE_SIZE="lots",
    )
    assert result.returncode == 2
    assert "CASEWORK_PAGE_SIZE" in result.stderr
    assert not (tmp_path / "casework.sqlite").exists()


def test_demo_fills_a_database_from_nothing(tmp_path: Path) -> None:
    db = tmp_path / "demo" / "demo.sqlite"
    result = run(["demo", "--no-serve", "--db", str(db)], tmp_path)
    assert result.returncode == 0, result.stderr
    for username in (
        "admin",
        "coordinator",
        "worker",
        "worker2",
        "officer",
        "officer2",
        "supervisor",
        "auditor",
    ):
        assert username in result.stdout
    assert rows(db, "SELECT count(*) FROM households") == [(32,)]
    assert rows(db, "SELECT count(DISTINCT assigned_worker_id) FROM households") == [(2,)]
    assert rows(db, "SELECT count(DISTINCT reason) FROM exemptions") == [(4,)]
    # A statement entered with the wrong amount, voided with the reason and replaced.
    assert rows(
        db,
        "SELECT count(*) FROM arrears AS wrong JOIN arrears AS right ON right.replaces_id = "
        "wrong.id WHERE wrong.voided_on IS NOT NULL AND wrong.void_reason <> '' "
        "AND right.statement_ref = wrong.statement_ref "
        "AND right.principal_deni < wrong.principal_deni",
    ) == [(1,)]
    # A second run recreates it rather than adding to it.
    assert run(["demo", "--no-serve", "--db", str(db)], tmp_path).returncode == 0
    assert rows(db, "SELECT count(*) FROM households") == [(32,)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_demo_serves_a_login_page(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "CASEWORK_INSTANCE_PATH": str(tmp_path)}
    env.pop("CASEWORK_DATABASE_URL", None)
    with (tmp_path / "demo.log").open("w") as log:  # never a pipe: the server logs each request
        server = subprocess.Popen(
            [*CASEWORK, "demo", "--db", str(tmp_path / "d.sqlite"), "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as page:
                    body = page.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        assert 'name="username"' in body
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_check_balances_runs_once_a_day_and_refuses_bad_input(
    demo_copy: Path, tmp_path: Path
) -> None:
    db = demo_copy
    env = {"CASEWORK_DATABASE_URL": f"sqlite:///{db}"}
    first = run(["check-balances", "--programme", "1"], tmp_path, **env)
    assert first.returncode == 0, first.stderr
    again = run(["check-balances", "--programme", "1"], tmp_path, **env)
    assert "already checked that day" in again.stdout
    runs_today = rows(
        db, "SELECT count(*) FROM balance_runs WHERE as_of = date('now', 'localtime')"
    )
    assert runs_today == [(1,)]
    future = run(["check-balances", "--date", "2999-01-01"], tmp_path, **env)
    assert future.returncode == 1 and "--date" in future.stderr
    unknown = run(["check-balances", "--programme", "999"], tmp_path, **env)
    assert unknown.returncode == 1 and "--programme" in unknown.stderr
    malformed = run(["check-balances", "--date", "24.11.2026"], tmp_path, **env)
    assert malformed.returncode == 2 and "--date" in malformed.stderr


def test_two_scheduler_processes_record_one_run_per_programme_and_day(
    demo_copy: Path, tmp_path: Path
) -> None:
    """Two `casework scheduler` processes with a fast trigger, one file database: each
    programme gets exactly one run for today, however often both fire."""
    from zoneinfo import ZoneInfo

    db = demo_copy
    today = datetime.now(ZoneInfo("Europe/Skopje")).date().isoformat()
    env = process_env(tmp_path, CASEWORK_DATABASE_URL=f"sqlite:///{db}")
    log_files = [tmp_path / f"scheduler-{n}.log" for n in range(2)]
    schedulers = []
    for log_file in log_files:
        with log_file.open("w") as log:  # never a pipe: nobody reads it while it runs
            schedulers.append(
                subprocess.Popen(
                    [*CASEWORK, "scheduler", "--interval-seconds", "1"],
                    env=env,
                    cwd=tmp_path,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + 60

        def runs_today() -> list[tuple[object, ...]]:
            with sqlite3.connect(db) as conn:
                return conn.execute(
                    "SELECT programme_id, count(*) FROM balance_runs WHERE as_of = ? GROUP BY 1",
                    (today,),
                ).fetchall()

        scheduled = scheduled_programmes(db, today)
        assert len(scheduled) >= 2, scheduled  # the demo runs more than one programme
        while time.monotonic() < deadline and len(runs_today()) < len(scheduled):
            time.sleep(0.5)
        time.sleep(3)  # both keep firing: still one run each
        counts = runs_today()
    finally:
        for process in schedulers:
            process.terminate()
        for process in schedulers:
            process.wait(timeout=30)
        logs = [log_file.read_text() for log_file in log_files]
    assert sorted(counts) == [(p, 1) for p in scheduled], logs
    assert any("balance check programme=" in log for log in logs)

"""Production shape: gunicorn with several workers plus one `casework scheduler` process.
The web workers never schedule anything; the scheduler checks each programme once a day."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import free_port, wait_for

pytestmark = pytest.mark.slow


def runs(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT programme_id, as_of, count(*) FROM balance_runs GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()


def test_gunicorn_workers_and_one_scheduler_run_each_check_once(tmp_path: Path) -> None:
    db = tmp_path / "demo.sqlite"
    env = {
        **os.environ,
        "CASEWORK_INSTANCE_PATH": str(tmp_path),
        "CASEWORK_DEFAULT_LOCALE": "en",
        "CASEWORK_ENV": "production",
        "CASEWORK_SECRET_KEY": "a-production-secret-of-more-than-32-characters",
    }
    env.pop("CASEWORK_DATABASE_URL", None)
    filled = subprocess.run(
        [sys.executable, "-m", "casework", "demo", "--no-serve", "--db", str(db)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert filled.returncode == 0, filled.stderr
    env["CASEWORK_DATABASE_URL"] = f"sqlite:///{db}"
    before = runs(db)
    port = free_port()
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "3",
            "-b",
            f"127.0.0.1:{port}",
            "casework:create_app()",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    scheduler = None
    try:
        wait_for(f"http://127.0.0.1:{port}/login")
        time.sleep(2)
        assert runs(db) == before, "a web worker ran a balance check"
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "casework", "scheduler", "--interval-seconds", "1"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        today = datetime.now(ZoneInfo("Europe/Skopje")).date().isoformat()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if {p for p, as_of, _n in runs(db) if as_of == today} == {1, 2}:
                break
            time.sleep(0.5)
        time.sleep(3)  # the interval fires again and again: nothing more is stored
        for _ in range(5):
            wait_for(f"http://127.0.0.1:{port}/login")
        after = runs(db)
    finally:
        for process in (web, scheduler):
            if process is not None:
                process.terminate()
                process.communicate(timeout=30)
    today_runs = [(p, n) for p, as_of, n in after if as_of == today]
    assert today_runs == [(1, 1), (2, 1)]
    assert all(n == 1 for _p, _d, n in after)

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


def _login_status(base: str, username: str, password: str) -> int:
    """One login as a browser would: the form (cookie + CSRF token), then the post."""
    import http.client
    import re
    import urllib.parse

    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/login")
    page = conn.getresponse()
    cookie = page.getheader("Set-Cookie", "").split(";", 1)[0]
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.read().decode())
    assert match, "no CSRF token on the login page"
    body = urllib.parse.urlencode(
        {"csrf_token": match.group(1), "username": username, "password": password}
    )
    conn.request(
        "POST",
        "/login",
        body=body,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    status = conn.getresponse().status
    conn.close()
    return status


def test_login_throttling_holds_across_servers_and_workers(tmp_path: Path) -> None:
    """Two gunicorn servers of two workers each, one database: failures on either count."""
    db = tmp_path / "casework.sqlite"
    env = {
        **os.environ,
        "CASEWORK_INSTANCE_PATH": str(tmp_path),
        "CASEWORK_DATABASE_URL": f"sqlite:///{db}",
        "CASEWORK_DEFAULT_LOCALE": "en",
    }
    password = "a long secret passphrase for the test"
    subprocess.run(
        [sys.executable, "-m", "casework", "init", "--admin-password", password],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "casework:create_app()",
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            wait_for(f"{base}/login")
        assert _login_status(bases[0], "admin", password) == 302  # the password works
        for n in range(5):  # five failures, spread over both servers
            assert _login_status(bases[n % 2], "admin", "not the password") == 200
        assert _login_status(bases[0], "admin", password) == 429
        assert _login_status(bases[1], "admin", password) == 429
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    with sqlite3.connect(db) as conn:
        failed = conn.execute(
            "SELECT count(*) FROM login_attempts WHERE username = 'admin' AND NOT succeeded"
        ).fetchone()[0]
    assert failed == 7  # five wrong passwords and the two refused while locked

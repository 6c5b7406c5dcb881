"""Production shape: gunicorn with several workers plus one `casework scheduler` process.
The web workers never schedule anything; the scheduler checks each programme once a day."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from stdnum.si import emso

from casework.extensions import db
from casework.households.models import Household, Member
from casework.security.models import Role
from tests.browser.conftest import free_port, wait_for
from tests.conftest import (
    PASSWORD,
    Factory,
    casework_process,
    gunicorn,
    logged_in,
    process_env,
    scheduled_programmes,
)

pytestmark = pytest.mark.slow


def runs(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT programme_id, as_of, count(*) FROM balance_runs GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()


def test_gunicorn_workers_and_one_scheduler_run_each_check_once(
    demo_copy: Path, tmp_path: Path
) -> None:
    db = demo_copy
    env = process_env(
        tmp_path,
        CASEWORK_ENV="production",
        CASEWORK_SECRET_KEY="a-production-secret-of-more-than-32-characters",
        CASEWORK_DATABASE_URL=f"sqlite:///{db}",
    )
    before = runs(db)
    port = free_port()
    web = gunicorn(port, 3, env, tmp_path, tmp_path / "web.log")
    scheduler = None
    try:
        wait_for(f"http://127.0.0.1:{port}/login")
        time.sleep(2)
        assert runs(db) == before, "a web worker ran a balance check"
        scheduler = casework_process(
            ["casework", "scheduler", "--interval-seconds", "1"],
            env,
            tmp_path,
            tmp_path / "scheduler.log",
        )
        today = datetime.now(ZoneInfo("Europe/Skopje")).date().isoformat()
        scheduled = scheduled_programmes(db, today)
        assert len(scheduled) >= 2, scheduled  # the demo runs more than one programme
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if {p for p, as_of, _n in runs(db) if as_of == today} == set(scheduled):
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
                process.wait(timeout=30)
    today_runs = [(p, n) for p, as_of, n in after if as_of == today]
    assert today_runs == [(p, 1) for p in scheduled]
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
    servers = [gunicorn(port, 2, env, tmp_path) for port in ports]
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


# --- a large import through the web, under gunicorn with its default timeout --------------------

HEADER = "Бр. домаќинство;Сродство;Име;Презиме;ЕМБГ;Датум на раѓање;Пол;Адреса;Јазик"


def _national_id(birth: date, serial: int) -> str:
    stem = f"{birth:%d%m}{birth.year % 1000:03d}41{serial:03d}"  # region 41: not the demo's
    return stem + emso.calc_check_digit(stem)


def households_file(families: int) -> bytes:
    """The municipality's applicant list: a head, a spouse and two children per family, each
    with a valid ЕМБГ of its own (20.000 rows for 5.000 families)."""
    lines = [HEADER]
    for n in range(families):
        key, surname = str(n + 1), f"Рамадани{n + 1}"
        head, spouse = date(1960, 1, 1) + timedelta(n), date(1965, 1, 1) + timedelta(n)
        child = date(2008, 1, 1) + timedelta(n)
        lines += [
            f"{key};Носител;Реџеп;{surname};{_national_id(head, 1)};;;ул. Бр. {key};mk",
            f"{key};spouse;Ајше;{surname};{_national_id(spouse, 501)};;;;",
            f"{key};Дете;Ердован;{surname};{_national_id(child, 2)};;;;",
            f"{key};Дете;Фатма;{surname};{_national_id(child, 502)};;;;",
        ]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def _multipart(
    fields: dict[str, str], name: str, filename: str, content: bytes
) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def _until_finished(opener: Any, base: str, job_page: str, seconds: float) -> dict[str, Any]:
    status_url = base + job_page + "/status"
    deadline, seen = time.monotonic() + seconds, []
    while time.monotonic() < deadline:
        status = json.loads(opener.open(status_url).read())
        seen.append(status["done"])
        if status["finished"]:
            return {**status, "seen": seen}
        time.sleep(1)
    raise AssertionError(f"the job did not finish in {seconds} s (progress {seen[-5:]})")


def test_a_20000_row_household_file_imports_through_the_web_under_gunicorn(
    app: Flask, make: Factory, tmp_path: Path
) -> None:
    programme = make.programme()
    coordinator = make.user(Role.COORDINATOR, programme.municipality, username="importer")
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(Member))
    programme_id, username = programme.id, coordinator.username
    db.session.commit()  # hold no lock (SQLite's is taken by any read) while the servers work
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    env = process_env(tmp_path, CASEWORK_DATABASE_URL=url, CASEWORK_LOG_FORMAT="json")
    port = free_port()
    processes = [
        gunicorn(port, 2, env, tmp_path, tmp_path / "web.log"),  # the default 30 s timeout
        *[
            casework_process(["casework", "worker"], env, tmp_path, tmp_path / f"worker{n}.log")
            for n in range(2)
        ],
    ]
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/healthz")
        opener = logged_in(base, username, PASSWORD)
        form = opener.open(f"{base}/programmes/{programme_id}/import").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
        assert token is not None
        content = households_file(5_000)
        body, boundary = _multipart(
            {"csrf_token": token.group(1), "kind": "households"}, "file", "prijavi.csv", content
        )
        uploaded = opener.open(
            urllib.request.Request(  # noqa: S310 - loopback
                f"{base}/programmes/{programme_id}/import",
                data=body,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
        )
        job_page = urllib.parse.urlparse(uploaded.url).path
        assert uploaded.status == 200 and job_page.startswith("/jobs/")
        checked = _until_finished(opener, base, job_page, 600)
        assert checked["state"] == "done" and checked["total"] == 20_000
        report = opener.open(base + job_page).read().decode()
        upload_path = re.search(r'href="(/imports/\d+)"', report)
        assert upload_path is not None
        page = opener.open(base + upload_path.group(1)).read().decode()
        assert "Import 20000 rows" in page, page[:2000]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token is not None
        confirmed = opener.open(
            base + upload_path.group(1) + "/import",
            data=urllib.parse.urlencode({"csrf_token": token.group(1)}).encode(),
        )
        import_page = urllib.parse.urlparse(confirmed.url).path
        assert import_page.startswith("/jobs/") and import_page != job_page
        imported = _until_finished(opener, base, import_page, 600)
        assert imported["state"] == "done"
        assert len(set(imported["seen"])) > 2  # the bar moved while it ran
        done = opener.open(base + import_page).read().decode()
        assert "Imported: 20000 rows created" in done
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
        for log in ("web.log", "worker0.log", "worker1.log"):  # shown by pytest on a failure
            print(f"--- {log}\n" + (tmp_path / log).read_text()[-4000:])
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Member)) == before + 20_000
    assert db.session.scalar(select(func.count()).select_from(Household)) >= 5_000
    web_log = (tmp_path / "web.log").read_text()
    assert "WORKER TIMEOUT" not in web_log and '"status": 500' not in web_log

"""Races an attacker (or a flaky network) starts on purpose: many copies of one request at the
same moment, across real gunicorn workers on the suite's database (PostgreSQL in CI's second
pass). The log-in throttle checks exactly as many passwords as its limit; copies of one API
write sharing an Idempotency-Key store it once and all get its answer."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from casework.api.models import IdempotentRequest
from casework.api.services import create_token
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.households.models import Household, Member
from casework.programmes.models import Programme
from casework.security.models import LoginAttempt, Role
from tests.browser.conftest import free_port, wait_for
from tests.conftest import PASSWORD, Factory, count, gunicorn, process_env
from tests.test_api_households import new_household
from tests.test_gunicorn import _login_status

pytestmark = pytest.mark.slow

LIMIT = 5  # CASEWORK_LOGIN_MAX_FAILURES_PER_ACCOUNT's default


@pytest.fixture(scope="module")
def server(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One gunicorn of four workers for the module, on the suite's own database."""
    folder = tmp_path_factory.mktemp("races")
    env = process_env(folder, CASEWORK_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"])
    port = free_port()
    web = gunicorn(port, 4, env, folder, folder / "web.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/healthz")
        yield base
    finally:
        web.terminate()
        try:
            web.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck worker
            web.kill()
        print("--- web.log\n" + (folder / "web.log").read_text()[-4000:])


def at_once(n: int, send: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(send, range(n)))


def attempts(username: str) -> tuple[int, int]:
    """Attempts at ``username`` and those whose password was tried, as stored (not guessed
    from timing)."""
    db.session.expire_all()
    found = (
        count(LoginAttempt, LoginAttempt.username == username),
        count(LoginAttempt, LoginAttempt.username == username, LoginAttempt.checked),
    )
    db.session.commit()  # hold no lock (SQLite's is taken by any read) while the server works
    return found


def test_forty_wrong_passwords_at_once_across_workers_check_exactly_the_limit(
    server: str, make: Factory
) -> None:
    user = make.user(Role.COORDINATOR, username="target")
    user.password_hash = generate_password_hash(PASSWORD)  # production's cost: a wide window
    db.session.commit()
    statuses = at_once(40, lambda n: _login_status(server, "target", f"guess number {n}"))
    assert attempts("target") == (40, LIMIT)
    assert sorted(set(statuses)) == [200, 429] and statuses.count(200) == LIMIT
    assert _login_status(server, "target", PASSWORD) == 429  # locked, the password not tried
    assert attempts("target") == (41, LIMIT)


def _post(base: str, secret: str, path: str, body: Any, key: str) -> tuple[int, Any, str]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        base + "/api/v1" + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read()), answer.headers.get("Content-Type")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers.get("Content-Type")


def test_twenty_copies_of_one_keyed_write_at_once_store_it_once_and_all_get_its_answer(
    server: str, make: Factory, programme: Programme
) -> None:
    coordinator = make.user(Role.COORDINATOR, programme.municipality)
    _token, secret = create_token(coordinator, coordinator, "field tablet")
    body = new_household(programme)
    db.session.commit()
    answers = at_once(20, lambda _n: _post(server, secret, "/households", body, "intake-7"))
    assert {status for status, _body, _type in answers} == {201}, answers
    assert all(answer == answers[0] for answer in answers)
    db.session.expire_all()
    assert (count(Household), count(Member), count(Enrollment)) == (1, 3, 1)
    remembered = db.session.scalars(select(IdempotentRequest)).all()
    assert [(r.key, r.status_code) for r in remembered] == [("intake-7", 201)]
    assert remembered[0].body == answers[0][1]

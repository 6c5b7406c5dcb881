"""Logging in and out; every role lands on its own home page."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from casework.audit.models import AuditEvent
from casework.db import utcnow
from casework.extensions import db
from casework.security.models import LoginAttempt, Role, User
from tests.conftest import Client, Factory, count


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_own_home_page(client: Client, make: Factory, role: Role) -> None:
    user = make.user(role)
    response = client.login(user.username)
    assert response.status_code == 302
    home = client.get(response.headers["Location"])
    assert home.status_code == 302
    assert home.headers["Location"] == f"/home/{role.value}"
    page = client.get(f"/home/{role.value}")
    assert page.status_code == 200
    assert user.full_name in page.get_data(as_text=True)


def test_a_user_may_not_open_another_roles_home_page(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, _ = login_as(Role.SOCIAL_WORKER)
    assert browser.get("/home/officer").status_code == 403
    assert browser.get("/home/nonsense").status_code == 404


def test_wrong_password_gives_one_message_and_no_session(client: Client, make: Factory) -> None:
    user = make.user(Role.COORDINATOR)
    response = client.login(user.username, "wrong password entirely")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Wrong username or password." in body
    assert client.get("/households/").status_code == 302  # still anonymous


def test_an_unknown_username_gets_the_same_message_as_a_wrong_password(client: Client) -> None:
    response = client.login("nobody-here", "whatever password")
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_a_deactivated_user_cannot_log_in(client: Client, make: Factory) -> None:
    user = make.user(Role.COORDINATOR)
    user.active = False
    response = client.login(user.username)
    assert response.status_code == 200
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_login_records_the_time_and_an_audit_event(client: Client, make: Factory) -> None:
    user = make.user(Role.OFFICER)
    client.login(user.username)
    db.session.refresh(user)
    assert user.last_login_at is not None
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.login")).all()
    assert [e.actor_id for e in events] == [user.id]


def test_login_starts_a_new_session(client: Client, make: Factory) -> None:
    user = make.user(Role.COORDINATOR)
    client.get("/login")
    with client.http.session_transaction() as session:
        session["planted"] = "by an attacker"
    client.login(user.username)
    with client.http.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == str(user.id)


def test_logout_ends_the_session(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, _ = login_as(Role.COORDINATOR)
    assert browser.get("/households/").status_code == 200
    response = browser.post("/logout")
    assert response.headers["Location"] == "/login"
    assert browser.get("/households/").status_code == 302


def test_logout_needs_the_csrf_token(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, _ = login_as(Role.COORDINATOR)
    response = browser.http.post("/logout")
    assert response.status_code == 400
    assert browser.get("/households/").status_code == 200


def test_next_parameter_never_redirects_off_site(client: Client, make: Factory) -> None:
    user = make.user(Role.COORDINATOR)
    client.get("/login")
    response = client.post(
        "/login",
        {
            "username": user.username,
            "password": "correct horse battery staple",
            "next": "//evil.example/",
        },
    )
    assert response.headers["Location"] == "/"


def test_next_parameter_returns_to_the_page_asked_for(client: Client, make: Factory) -> None:
    user = make.user(Role.COORDINATOR)
    response = client.get("/households/?q=x")
    assert response.headers["Location"].startswith("/login?next=")
    response = client.post(
        "/login",
        {
            "username": user.username,
            "password": "correct horse battery staple",
            "next": "/households/?q=x",
        },
    )
    assert response.headers["Location"] == "/households/?q=x"


# --- throttling: in the database, so that every worker sees the same count -----------------------


def _fail_login(client: Client, username: str, times: int) -> None:
    for _ in range(times):
        response = client.login(username, "a wrong guess of a password")
        assert response.status_code == 200


def test_five_failures_lock_the_account_name_even_for_the_right_password(
    client: Client, make: Factory
) -> None:
    user = make.user(Role.COORDINATOR)
    _fail_login(client, user.username, 5)
    response = client.login(user.username)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)
    assert client.get("/households/").status_code == 302  # not logged in
    db.session.refresh(user)
    assert user.last_login_at is None


def test_an_unknown_account_name_is_throttled_exactly_like_a_real_one(
    client: Client, make: Factory
) -> None:
    user = make.user(Role.COORDINATOR)
    _fail_login(client, user.username, 5)
    _fail_login(client, "nobody-at-all", 5)
    real = client.login(user.username, "a wrong guess of a password")
    unknown = client.login("nobody-at-all", "a wrong guess of a password")
    assert real.status_code == unknown.status_code == 429
    assert _messages(real) == _messages(unknown)


def _messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    import re

    return re.findall(r'role="alert">([^<]*)<', response.get_data(as_text=True))


def test_failures_before_a_successful_login_do_not_count_against_the_account(
    client: Client, make: Factory
) -> None:
    user = make.user(Role.COORDINATOR)
    _fail_login(client, user.username, 4)
    assert client.login(user.username).status_code == 302
    client.post("/logout")
    _fail_login(client, user.username, 4)
    assert client.login(user.username).status_code == 302


def test_many_failures_from_one_address_lock_it_for_every_account_name(
    app: Flask, client: Client, make: Factory
) -> None:
    user = make.user(Role.COORDINATOR)
    limit = app.config["CASEWORK"].login_max_failures_per_address
    for n in range(limit):
        _fail_login(client, f"guess{n}", 1)
    response = client.login(user.username)
    assert response.status_code == 429
    other_address = Client(app.test_client())
    other_address.http.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert other_address.login(user.username).status_code == 302


def test_every_attempt_is_stored_with_its_address(client: Client, make: Factory) -> None:
    user = make.user(Role.COORDINATOR)
    client.login(user.username, "a wrong guess of a password")
    client.login(user.username)
    attempts = db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.id)).all()
    assert [(a.username, a.ip, a.succeeded) for a in attempts] == [
        (user.username, "127.0.0.1", False),
        (user.username, "127.0.0.1", True),
    ]


def test_a_common_password_is_refused_even_when_long(make: Factory) -> None:
    from casework.errors import ValidationError
    from casework.security.services import RoleGrant, create_user

    for password in ("1qaz2wsx3edc", "qwerty123456", "123qweasdzxc"):
        with pytest.raises(ValidationError, match="commonly used") as refused:
            create_user(None, "newuser", "New User", password, [RoleGrant(Role.ADMIN, None)])
        assert refused.value.field == "password"
    assert db.session.scalar(select(User).where(User.username == "newuser")) is None


def test_behind_a_trusted_proxy_the_throttle_counts_the_clients_address(
    app: Flask, make: Factory
) -> None:
    from dataclasses import replace

    from casework import create_app

    settings = replace(app.config["CASEWORK"], trusted_proxies=1)
    proxied = create_app(settings)
    user = make.user(Role.COORDINATOR)
    db.session.commit()
    client = Client(proxied.test_client())
    client.http.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    client.login(user.username, "a wrong guess of a password")
    attempt = db.session.scalar(select(LoginAttempt).order_by(LoginAttempt.id.desc()))
    assert attempt is not None and attempt.ip == "203.0.113.9"


# --- the throttle under concurrency ---------------------------------------------------------


@pytest.fixture
def slow_password_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A password check as slow as production's scrypt: the window in which attempts sent at
    the same moment would all read "fewer than five so far"."""
    import time

    from werkzeug.security import check_password_hash

    from casework.security import services

    def slow(stored: str, password: str) -> bool:
        time.sleep(0.05)
        return check_password_hash(stored, password)

    monkeypatch.setattr(services, "check_password_hash", slow)


def _at_once(n: int, attempt: Callable[[int], object]) -> None:
    start = threading.Barrier(n)
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            attempt(i)
        except BaseException as error:  # pragma: no cover - shown by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []


def _checked(username: str) -> tuple[int, int]:
    """Attempts stored for ``username``, and those whose password was tried."""
    db.session.expire_all()
    at = LoginAttempt.username == username
    return count(LoginAttempt, at), count(LoginAttempt, at, LoginAttempt.checked)


@pytest.mark.usefixtures("slow_password_check")
def test_wrong_passwords_sent_at_once_check_only_five(app: Flask, make: Factory) -> None:
    """Each attempt in its own thread, connection and transaction, as on separate workers."""
    from casework.security.services import LoginLimits, log_in

    user = make.user(Role.COORDINATOR)
    username = user.username
    limits = LoginLimits.from_settings(app.config["CASEWORK"])
    db.session.commit()  # and no query after it until the threads end: no lock held
    blocked: list[bool] = []

    def attempt(n: int) -> None:
        with app.app_context():
            result = log_in(
                username, f"guess {n}", ip="10.0.0.9", user_agent="", now=utcnow(), limits=limits
            )
            db.session.commit()
            blocked.append(result.blocked)
            db.session.remove()

    _at_once(20, attempt)
    assert _checked(username) == (20, 5)
    assert sorted(blocked) == [False] * 5 + [True] * 15


@pytest.mark.usefixtures("slow_password_check")
def test_wrong_passwords_posted_at_once_check_only_five(app: Flask, make: Factory) -> None:
    user = make.user(Role.COORDINATOR)
    username = user.username
    browser = Client(app.test_client())
    browser.get("/login")
    form = {"csrf_token": browser.csrf_token, "username": username}
    statuses: list[int] = []

    def attempt(n: int) -> None:  # a request of its own, in this thread's context and session
        statuses.append(
            browser.http.post("/login", data=form | {"password": f"guess {n}"}).status_code
        )

    _at_once(20, attempt)
    assert _checked(username) == (20, 5)
    assert sorted(statuses) == [200] * 5 + [429] * 15

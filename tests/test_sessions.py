"""Sessions live on the server: logging out, a new password or a deactivated account end them,
they time out when idle and after a working day, and money and exports ask for the password
again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from casework.audit.models import AuditEvent
from casework.db import utcnow
from casework.extensions import db
from casework.security.models import Role, User, UserSession
from tests.conftest import PASSWORD, Client, Factory

NEW_PASSWORD = "a quiet river under the old bridge"


def _sessions_of(user: User) -> list[UserSession]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
        )
    )


def _copy_cookie(app: Flask, source: Client) -> Client:
    """A second browser holding a copy of ``source``'s session cookie (a stolen cookie)."""
    cookie = source.http.get_cookie("session")
    assert cookie is not None
    thief = Client(app.test_client())
    thief.http.set_cookie("session", cookie.value)
    return thief


def _age_session(user: User, **moved_back: timedelta) -> None:
    """Move a session's clocks back, as if the time had passed."""
    found = _sessions_of(user)[-1]
    values = {name: getattr(found, name) - delta for name, delta in moved_back.items()}
    db.session.execute(update(UserSession).where(UserSession.id == found.id).values(**values))
    db.session.commit()


def test_logging_in_stores_a_session_on_the_server_and_the_cookie_holds_only_a_token(
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    browser, user = login_as(Role.COORDINATOR)
    [found] = _sessions_of(user)
    assert found.ended_at is None
    assert len(found.token_hash) == 64  # a SHA-256, never the token itself
    with browser.http.session_transaction() as session:
        assert session["sid"] != found.token_hash


def test_a_cookie_copied_before_logout_is_refused_after_it(app: Flask, login_as) -> None:  # type: ignore[no-untyped-def]
    browser, user = login_as(Role.COORDINATOR)
    thief = _copy_cookie(app, browser)
    assert thief.get("/households/").status_code == 200  # the copy works while the session lives
    browser.post("/logout")
    response = thief.get("/households/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    [found] = _sessions_of(user)
    assert found.ended_reason == "logout"


def test_changing_the_password_ends_the_other_sessions_but_keeps_this_one(
    app: Flask,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    browser, user = login_as(Role.SOCIAL_WORKER)
    other = Client(app.test_client())
    other.login(user.username)
    assert other.get("/work/log").status_code == 200
    response = browser.post(
        "/profile",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert browser.get("/work/log").status_code == 200
    assert other.get("/work/log").headers["Location"].startswith("/login")
    reasons = [s.ended_reason for s in _sessions_of(user)]
    assert reasons == [None, "password"]
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "user.password", AuditEvent.actor_id == user.id
        )
    )


def test_a_wrong_current_password_changes_nothing(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, user = login_as(Role.SOCIAL_WORKER)
    old_hash = user.password_hash
    response = browser.post(
        "/profile",
        {
            "current_password": "not my password",
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "The current password is wrong." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == old_hash  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("short one", "at least 12 characters"),
        ("qwertyuiop123", "commonly used passwords"),
        ("1q2w3e4r5t6y", "commonly used passwords"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
        ("password12345678", "too easy to guess"),
    ],
)
def test_a_weak_new_password_is_refused_with_the_field_named(
    login_as,  # type: ignore[no-untyped-def]
    new_password: str,
    message: str,
) -> None:
    browser, user = login_as(Role.SOCIAL_WORKER)
    old_hash = user.password_hash
    response = browser.post(
        "/profile",
        {"current_password": PASSWORD, "new_password": new_password, "confirm": new_password},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in body
    assert 'id="new_password-error"' in body or "aria-invalid" in body
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == old_hash  # type: ignore[union-attr]


def test_deactivating_an_account_ends_its_sessions_at_once(
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    worker_browser, worker = login_as(Role.SOCIAL_WORKER)
    admin_browser, _admin = login_as(Role.ADMIN)
    assert worker_browser.get("/work/log").status_code == 200
    response = admin_browser.post(f"/admin/users/{worker.id}/active", {"active": "0"})
    assert response.status_code == 302
    assert worker_browser.get("/work/log").headers["Location"].startswith("/login")
    db.session.expire_all()
    assert db.session.get(User, worker.id).active is False  # type: ignore[union-attr]
    assert [s.ended_reason for s in _sessions_of(worker)] == ["deactivated"]
    # and the password no longer opens a new one
    assert worker_browser.login(worker.username).status_code == 200


def test_only_an_admin_may_deactivate_accounts(login_as) -> None:  # type: ignore[no-untyped-def]
    _worker_browser, worker = login_as(Role.SOCIAL_WORKER)
    coordinator_browser, _ = login_as(Role.COORDINATOR)
    response = coordinator_browser.post(f"/admin/users/{worker.id}/active", {"active": "0"})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(User, worker.id).active is True  # type: ignore[union-attr]


def test_a_session_idle_for_more_than_30_minutes_ends(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, user = login_as(Role.COORDINATOR)
    _age_session(user, last_seen_at=timedelta(minutes=29))
    assert browser.get("/households/").status_code == 200  # 29 minutes: still there
    _age_session(user, last_seen_at=timedelta(minutes=31))
    assert browser.get("/households/").headers["Location"].startswith("/login")
    assert _sessions_of(user)[-1].ended_reason == "idle"


def test_a_session_ends_12_hours_after_login_even_when_busy(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, user = login_as(Role.COORDINATOR)
    _age_session(user, created_at=timedelta(hours=12, minutes=1))
    assert browser.get("/households/").headers["Location"].startswith("/login")
    assert _sessions_of(user)[-1].ended_reason == "expired"


def test_browsing_moves_the_idle_clock_on(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, user = login_as(Role.COORDINATOR)
    _age_session(user, last_seen_at=timedelta(minutes=20))
    before = _sessions_of(user)[-1].last_seen_at
    browser.get("/households/")
    after = _sessions_of(user)[-1].last_seen_at
    assert after > before
    assert utcnow() - after < timedelta(minutes=1)


def test_exports_ask_for_the_password_again_after_15_minutes(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, user = login_as(Role.COORDINATOR)
    assert browser.get("/exports/households.csv").status_code == 200  # fresh after login
    _age_session(user, authenticated_at=timedelta(minutes=16))
    response = browser.get("/exports/households.csv")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/reauthenticate?next=/exports/households.csv")
    exports = select(AuditEvent).where(AuditEvent.action == "export.households")
    assert len(db.session.scalars(exports).all()) == 1  # the refused one wrote nothing
    wrong = browser.post(
        "/reauthenticate", {"password": "not it at all", "next": "/exports/households.csv"}
    )
    assert "Wrong password." in wrong.get_data(as_text=True)
    right = browser.post(
        "/reauthenticate", {"password": PASSWORD, "next": "/exports/households.csv"}
    )
    assert right.headers["Location"] == "/exports/households.csv"
    assert browser.get("/exports/households.csv").status_code == 200
    assert len(db.session.scalars(exports).all()) == 2


def test_approving_a_payment_asks_for_the_password_again_and_approves_nothing_before(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    from casework.payments.models import PaymentRequest, RequestStatus

    item = make.submitted_request()
    browser, officer = login_as(Role.OFFICER)
    _age_session(officer, authenticated_at=timedelta(minutes=20))
    url = f"/payments/requests/{item.id}"
    response = browser.post(f"{url}/approve", {"next": url})
    assert response.headers["Location"].startswith("/reauthenticate?next=")
    db.session.expire_all()
    assert db.session.get(PaymentRequest, item.id).status == RequestStatus.SUBMITTED  # type: ignore[union-attr]
    browser.post("/reauthenticate", {"password": PASSWORD, "next": url})
    browser.get(url)
    browser.post(f"{url}/approve", {"next": url})
    db.session.expire_all()
    assert db.session.get(PaymentRequest, item.id).status == RequestStatus.APPROVED  # type: ignore[union-attr]


def test_the_session_cookie_is_secure_httponly_and_samesite_in_production(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from casework import create_app
    from tests.conftest import make_settings

    settings = make_settings(f"sqlite:///{tmp_path / 'p.sqlite'}", tmp_path)
    from dataclasses import replace

    app = create_app(replace(settings, env="production"))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    response = app.test_client().get("/login")
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    cookie = response.headers.get("Set-Cookie", "")
    assert cookie == "" or ("Secure" in cookie and "HttpOnly" in cookie)

"""Errors leak nothing: a generic page with a reference, and a server log without data.

An unexpected failure shows the user only a request id; the server log keeps that id, the
exception's type and where it was raised, never its message (a database error's message holds
the SQL and the values bound to it: names, national IDs). The refusals the app makes on
purpose (404, 403, 405, 413) show the same generic page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from casework import create_app
from casework.extensions import db
from casework.households.models import Member
from casework.security.models import Role
from tests.conftest import Client, Factory, make_settings

NAME = ("Ѓорѓи", "O'Hara")
MAX_BODY = 4_096  # the failing app's request size limit, small enough to exceed cheaply

# What no response and no log line may hold: traces, SQL, and the person's data.
TRACE_MARKERS = ("Traceback", 'File "', "werkzeug", "sqlalchemy", "jinja2")
SQL_MARKERS = ("INSERT INTO", "SELECT ", "UPDATE ", "[SQL:", "[parameters:", "UNIQUE constraint")


@pytest.fixture(scope="module")
def failing_app(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The real app on the test database, with routes that fail the way a bug would."""
    settings = replace(
        make_settings(app.config["CASEWORK"].database_url, tmp_path_factory.mktemp("failing")),
        max_content_length=MAX_BODY,
    )
    failing = create_app(settings)

    @failing.get("/failing/duplicate-person")
    def duplicate_person() -> str:
        """A bug that skips the service's check: the database refuses a second person with
        the same national ID, and the error carries the statement, the name and the ID."""
        existing = db.session.scalars(select(Member).where(Member.is_head)).first()
        assert existing is not None
        db.session.add(
            Member(
                household_id=existing.household_id,
                first_name=NAME[0],
                last_name=NAME[1],
                national_id=existing.national_id,
                birth_date=existing.birth_date,
                sex=existing.sex,
                relation="other",
            )
        )
        db.session.flush()
        return "unreachable"

    @failing.get("/failing/message-with-data")
    def message_with_data() -> str:
        """A bug whose exception message names the person, raised while handling another."""
        head = db.session.scalars(select(Member).where(Member.is_head)).first()
        assert head is not None
        try:
            _ = dict[str, str]()[str(head.national_id)]  # the KeyError's text: the ID
        except KeyError as missing:
            raise ValueError(f"no record for {head.first_name} {head.last_name}") from missing
        return "unreachable"

    yield failing
    with failing.app_context():
        db.engine.dispose()


@pytest.fixture
def person(make: Factory) -> tuple[str, str]:
    """A household whose head's name and national ID must never leak."""
    household = make.household(head_name=NAME)
    head = household.members[0]
    assert head.national_id is not None
    db.session.commit()
    return head.full_name, head.national_id


@pytest.fixture
def browser(failing_app: Flask, make: Factory) -> Client:
    user = make.user(Role.COORDINATOR)
    db.session.commit()
    client = Client(failing_app.test_client())
    assert client.login(user.username).status_code == 302
    return client


def assert_nothing_leaks(text: str, *personal: str) -> None:
    for marker in (*TRACE_MARKERS, *SQL_MARKERS, "IntegrityError", "ValueError", "KeyError"):
        assert marker not in text, f"{marker!r} leaked"
    for value in personal:
        assert value not in text, f"personal data {value!r} leaked"
    for part in NAME:
        assert part not in text and part.replace("'", "&#39;") not in text


def assert_generic_page(response: Any, status: int) -> str:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    request_id = response.headers["X-Request-Id"]
    assert len(request_id) >= 8 and request_id in page
    assert "Back to the home page" in page
    assert_nothing_leaks(page)
    return request_id


# --- unexpected errors -------------------------------------------------------------------------


def test_a_database_error_shows_only_a_reference_and_logs_no_data(
    browser: Client, person: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    full_name, national_id = person
    with caplog.at_level(logging.DEBUG):
        response = browser.get("/failing/duplicate-person")
    request_id = assert_generic_page(response, 500)
    assert "Something went wrong" in response.get_data(as_text=True)
    assert_nothing_leaks(response.get_data(as_text=True), full_name, national_id)

    entry = next(r for r in caplog.records if r.name == "casework.errors")
    logged = entry.getMessage()
    assert request_id in logged
    assert "sqlalchemy.exc.IntegrityError" in logged  # the type, and the driver's under it
    assert "in duplicate_person" in logged and "test_errors.py" in logged  # where it happened
    assert entry.exc_info is None  # a formatter would print the message with the traceback
    for value in (national_id, *NAME, "INSERT INTO", "[parameters", "UNIQUE", "DETAIL"):
        assert value not in caplog.text, f"{value!r} reached the log"


def test_an_exception_whose_message_names_the_person_is_logged_without_it(
    browser: Client, person: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    full_name, national_id = person
    with caplog.at_level(logging.DEBUG):
        response = browser.get("/failing/message-with-data")
    request_id = assert_generic_page(response, 500)
    assert_nothing_leaks(response.get_data(as_text=True), full_name, national_id)
    logged = caplog.text
    assert request_id in logged
    assert "builtins.ValueError" in logged and "builtins.KeyError" in logged  # the whole chain
    assert "in message_with_data" in logged
    for value in (national_id, *NAME, full_name):
        assert value not in logged


def test_the_database_never_puts_bound_values_into_its_errors(
    app: Flask, person: tuple[str, str]
) -> None:
    """hide_parameters: whoever logs a database error (a job, a library) logs no values.
    (The driver's own text may still repeat one: PostgreSQL's DETAIL names the duplicate key.
    That is why the error handler never logs a message at all.)"""
    _full_name, national_id = person
    head = db.session.scalars(select(Member).where(Member.national_id == national_id)).one()
    db.session.add(
        Member(
            household_id=head.household_id,
            first_name="Секретна",
            last_name="Личност",
            national_id=national_id,
            birth_date=head.birth_date,
            sex=head.sex,
            relation="other",
        )
    )
    with pytest.raises(IntegrityError) as caught:
        db.session.flush()
    db.session.rollback()
    message = str(caught.value)
    assert "national_id" in message  # the unique index refused it, not another check
    assert "parameters hidden" in message
    assert "Секретна" not in message and "Личност" not in message


def test_a_client_asking_for_json_gets_the_status_and_reference_as_json(
    browser: Client, person: tuple[str, str]
) -> None:
    full_name, national_id = person
    response = browser.get("/failing/duplicate-person", headers={"Accept": "application/json"})
    assert response.status_code == 500 and response.mimetype == "application/json"
    assert response.json == {
        "status": 500,
        "error": "Internal Server Error",
        "request_id": response.headers["X-Request-Id"],
    }
    assert_nothing_leaks(response.get_data(as_text=True), full_name, national_id)
    missing = browser.get("/households/999999", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.json["error"] == "Not Found"


def test_a_client_that_takes_anything_still_gets_the_right_status(
    browser: Client, person: tuple[str, str]
) -> None:
    """A download link or a script without Accept: the status says what happened."""
    full_name, national_id = person
    for accept in ("*/*", "text/csv", "application/pdf"):
        response = browser.get("/failing/duplicate-person", headers={"Accept": accept})
        assert response.status_code == 500
        assert_nothing_leaks(response.get_data(as_text=True), full_name, national_id)
    assert browser.get("/exports/nothing.csv", headers={"Accept": "text/csv"}).status_code in (
        400,
        403,
        404,
    )


# --- refusals made on purpose ------------------------------------------------------------------


def test_an_unknown_address_shows_the_generic_not_found_page(
    failing_app: Flask, browser: Client
) -> None:
    anonymous = Client(failing_app.test_client())
    for client in (anonymous, browser):
        response = client.get("/no/such/page<script>")
        assert_generic_page(response, 404)
        assert "<script>" not in response.get_data(as_text=True)


def test_a_page_the_role_may_not_open_shows_the_generic_forbidden_page(
    failing_app: Flask, make: Factory
) -> None:
    worker = make.user(Role.SOCIAL_WORKER)
    db.session.commit()
    client = Client(failing_app.test_client())
    assert client.login(worker.username).status_code == 302
    response = client.get("/admin/users")
    assert_generic_page(response, 403)
    assert "Not allowed" in response.get_data(as_text=True)


def test_a_wrong_method_shows_the_generic_page_and_says_what_is_allowed(
    browser: Client,
) -> None:
    response = browser.get("/logout")
    assert_generic_page(response, 405)
    assert "POST" in response.headers["Allow"]


def test_a_body_over_the_size_limit_is_refused_with_the_generic_page(
    failing_app: Flask, browser: Client
) -> None:
    assert failing_app.config["MAX_CONTENT_LENGTH"] == MAX_BODY
    for client in (browser, Client(failing_app.test_client())):
        response = client.post("/login", {"username": "x" * (MAX_BODY * 2), "password": "p"})
        assert_generic_page(response, 413)
        assert "larger than the system accepts" in response.get_data(as_text=True)


def test_a_request_id_from_a_proxy_is_kept_only_if_it_looks_like_one(
    failing_app: Flask,
) -> None:
    anonymous = Client(failing_app.test_client())
    kept = anonymous.get("/no/such/page", headers={"X-Request-Id": "proxy-1234.abcd"})
    assert kept.headers["X-Request-Id"] == "proxy-1234.abcd"
    assert "proxy-1234.abcd" in kept.get_data(as_text=True)
    forged = anonymous.get("/no/such/page", headers={"X-Request-Id": "<b>x</b>"})
    assert forged.headers["X-Request-Id"] != "<b>x</b>"
    assert "<b>x</b>" not in forged.get_data(as_text=True)

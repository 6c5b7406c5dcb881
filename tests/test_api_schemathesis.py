"""Property-based testing of the whole API against its own OpenAPI document: schemathesis
generates valid and invalid requests for every operation and sends them to a real gunicorn
server holding the demo's data, as the coordinator and as an officer. No answer may be a server
error, and every answer must match the document (status code, content type, body schema).

The server uses the suite's database: a copy of the demo on SQLite, or, when the suite runs
on PostgreSQL (``CASEWORK_TEST_DATABASE_URL``), the demo filled into a database of its own
on that server, made for the run and dropped after it (most of the defects a fuzzer finds,
an integer past a column's range or a NUL byte in a text, are PostgreSQL's only)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from defusedxml import ElementTree
from sqlalchemy import create_engine, make_url, text

from tests.browser.conftest import free_port, wait_for
from tests.conftest import copy_demo, demo_output, gunicorn, process_env

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        # Anything the document forbids (a control character in a text, an id past INTEGER,
        # a float for an integer, an unknown field) is refused with a 4xx.
        "negative_data_rejection",
    ]
)


def demo_tokens(output: str) -> dict[str, str]:
    """The tokens ``casework demo`` prints, one per demo user."""
    tokens: dict[str, str] = {}
    reading = False
    for line in output.splitlines():
        if line.startswith("Demo API tokens"):
            reading = True
            continue
        if reading:
            parts = line.split()
            if len(parts) != 2 or not parts[1].startswith("cw_"):
                break
            tokens[parts[0]] = parts[1]
    return tokens


# What `casework demo` does, into the database given as the argument (its --db is SQLite's).
FILL_DEMO = """
import sys
from flask_migrate import upgrade
from casework import create_app
from casework.demo.data import fill_demo
from casework.extensions import db
app = create_app(database_url=sys.argv[1])
with app.app_context():
    upgrade()
    print(fill_demo(password="casework-demo"))
    db.session.commit()
"""


@contextmanager
def postgresql_demo(server_url: str, home: Path) -> Iterator[tuple[str, str]]:
    """The demo in a fresh database on the suite's PostgreSQL server, named after the xdist
    worker (two workers never share it), dropped afterwards: its URL and the demo's output."""
    base = make_url(server_url)
    name = f"{base.database}_fuzz_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    drop()  # left over by an interrupted run
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        made = subprocess.run(
            [sys.executable, "-c", FILL_DEMO, url],
            env=process_env(home),
            cwd=home,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        yield url, made.stdout
    finally:
        drop()
        admin.dispose()


@contextmanager
def demo_in_suite_database(request: pytest.FixtureRequest, home: Path) -> Iterator[tuple[str, str]]:
    """The demo on the database the suite runs on: its URL and what `casework demo` printed.
    (The session's SQLite demo is made only when it is used.)"""
    server_url = os.environ.get("CASEWORK_TEST_DATABASE_URL", "")
    if server_url:
        with postgresql_demo(server_url, home) as made:
            yield made
        return
    demo_database: Path = request.getfixturevalue("demo_database")
    copy = copy_demo(demo_database, home)
    yield f"sqlite:///{copy}", demo_output(demo_database).read_text()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("schemathesis")
    with demo_in_suite_database(request, home) as (url, output):
        yield from served(home, url, output)


def served(home: Path, url: str, output: str):  # type: ignore[no-untyped-def]
    """The demo's database behind a real gunicorn: its base URL, the tokens, the folder."""
    tokens = demo_tokens(output)
    assert {"coordinator", "officer"} <= set(tokens), output
    env = process_env(
        home,
        CASEWORK_DATABASE_URL=url,
        # The fuzzer sends thousands of requests a minute: the limit is tested elsewhere.
        CASEWORK_API_REQUESTS_PER_MINUTE="1000000",
    )
    port = free_port()
    server_log = home / "server.log"
    server = gunicorn(port, 2, env, home, server_log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/login")
        yield base, tokens, home
    finally:
        server.terminate()
        server.wait(timeout=30)
        errors = server_log.read_text()
        assert "Traceback" not in errors  # nothing unhandled reached the server log


USERS = ["coordinator", "officer"]


def schemathesis_run(base: str, token: str, home: Path, username: str) -> subprocess.Popen[str]:
    """``st run`` over the served document as the token's user, its output in a file."""
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    output = (home / f"schemathesis-{username}.out").open("w")
    try:
        return subprocess.Popen(
            [
                st,
                "run",
                f"{base}/api/v1/openapi.json",
                "--checks",
                CHECKS,
                "--header",
                f"Authorization: Bearer {token}",
                "--max-examples",
                "25",
                "--seed",
                "2021",
                # One thread: st's --workers N threads trip CPython 3.11's thread-unsafe
                # ast.parse (hypothesis describes its filters with it).
                "--workers",
                "1",
                "--phases",
                "examples,coverage,fuzzing",
                "--report",
                "junit",
                "--report-junit-path",
                str(home / f"schemathesis-{username}.xml"),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=home,
        )
    finally:
        output.close()


@pytest.fixture(scope="module")
def schemathesis_runs(demo_server):  # type: ignore[no-untyped-def]
    """Both users' runs at once, one process each (one per gunicorn worker): on PostgreSQL a
    request waits on the database more than on the CPU, so this halves the time."""
    base, tokens, home = demo_server
    runs = {user: schemathesis_run(base, tokens[user], home, user) for user in USERS}
    try:
        yield runs
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.wait()


@pytest.mark.parametrize("username", USERS)
def test_every_api_operation_holds_to_its_document_under_generated_requests(
    demo_server, schemathesis_runs, username: str
) -> None:  # type: ignore[no-untyped-def]
    base, _tokens, home = demo_server
    returncode = schemathesis_runs[username].wait(timeout=900)
    output = (home / f"schemathesis-{username}.out").read_text()
    assert returncode == 0, output[-8000:]
    report = home / f"schemathesis-{username}.xml"
    assert operations_run(report) == documented_operations(base)  # every one, none skipped


def documented_operations(base: str) -> set[str]:
    """``POST /api/v1/households`` for each operation of the served document."""
    with urllib.request.urlopen(f"{base}/api/v1/openapi.json") as answer:  # noqa: S310 - loopback
        document = json.load(answer)
    methods = {"get", "put", "post", "patch", "delete"}
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in methods
    }


def operations_run(report: Path) -> set[str]:
    """The operations schemathesis ran (its JUnit report's test cases, skipped ones aside)."""
    cases = ElementTree.parse(report).getroot().iter("testcase")
    return {str(case.get("name")) for case in cases if case.find("skipped") is None}

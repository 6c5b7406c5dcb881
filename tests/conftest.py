"""Fixtures: a migrated database, factories that go through the services, ``login_as``.

The suite runs on SQLite by default. Set ``CASEWORK_TEST_DATABASE_URL`` to a PostgreSQL
database (``postgresql+psycopg://user@127.0.0.1/casework_test``) to run it there; its tables
are dropped and rebuilt through the migrations.
"""

from __future__ import annotations

import contextvars
import http.cookiejar
import itertools
import os
import re
import sqlite3
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade, upgrade
from sqlalchemy import Connection, func, select, text
from stdnum.si import emso

from casework import create_app
from casework.config import Settings
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.households.models import Household, Member
from casework.households.services import HouseholdData, MemberData, create_household
from casework.organizations.models import Municipality, Organization, OrganizationKind
from casework.organizations.services import create_municipality, create_organization
from casework.payments.models import Arrear, Payment, PaymentRequest
from casework.programmes.models import Programme
from casework.security.models import Role, User
from casework.security.services import RoleGrant, create_user
from casework.work.models import WorkSite

PASSWORD = "correct horse battery staple"
TODAY = date(2022, 1, 17)


def test_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite in this session's folder, or the given PostgreSQL database. Under pytest-xdist
    each worker gets a database of its own (``casework_test_gw0``, made on first use)."""
    url = os.environ.get("CASEWORK_TEST_DATABASE_URL", "")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return url
    from sqlalchemy import create_engine, make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.scalar() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


test_database_url.__test__ = False  # type: ignore[attr-defined]


def make_settings(database_url: str, instance_path: Path) -> Settings:
    return Settings(
        env="test",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        database_url=database_url,
        instance_path=instance_path,
        default_locale="en",
        # A cheap scrypt cost: the factories create hundreds of users (production refuses it).
        password_hash="scrypt:256:8:1",
    )


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`casework demo --no-serve`, run once per test session (and xdist worker): the tests that
    need the demo's data take a copy (``demo_copy``), so none rebuilds it."""
    folder = tmp_path_factory.mktemp("demo-once")
    database = folder / "demo.sqlite"
    made = subprocess.run(
        [sys.executable, "-m", "casework", "demo", "--no-serve", "--db", str(database)],
        env=process_env(folder),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    demo_output(database).write_text(made.stdout)
    return database


def demo_output(demo_database: Path) -> Path:
    """What `casework demo` printed when it made the database (users, API tokens)."""
    return demo_database.with_suffix(".out")


def scheduled_programmes(db: Path, today: str) -> list[int]:
    """The demo programmes the scheduler checks on ``today`` (the rule in
    ``balances.scheduler.sync_jobs``: not past its end and work deadline)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT id FROM programmes WHERE ends_on IS NULL"
            " OR date(ends_on, '+' || work_deadline_days || ' days') >= ? ORDER BY id",
            (today,),
        ).fetchall()
    return [row[0] for row in rows]


def copy_demo(demo_database: Path, folder: Path) -> Path:
    """A private copy of the demo database (SQLite's backup API: consistent, WAL included)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "demo.sqlite"
    source = sqlite3.connect(demo_database)
    copy = sqlite3.connect(target)
    with copy:
        source.backup(copy)
    source.close()
    copy.close()
    return target


@pytest.fixture
def demo_copy(demo_database: Path, tmp_path: Path) -> Path:
    return copy_demo(demo_database, tmp_path / "demo")


def logged_in(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    """An HTTP client (cookies kept) logged in to a real server at ``base``, as a browser is."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = opener.open(base + "/login").read().decode()
    token = CSRF_RE.search(page)
    assert token is not None, "no CSRF token on the login page"
    form = {"csrf_token": token.group(1) or token.group(2), "username": username}
    opener.open(
        base + "/login", data=urllib.parse.urlencode({**form, "password": password}).encode()
    )
    return opener


def casework_process(
    args: list[str], env: dict[str, str], cwd: Path, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """A casework process (``serve``, ``worker``, ``scheduler``) or gunicorn, as deployed: its
    output goes to ``log`` (or nowhere), never to a pipe nobody reads, which would fill and
    stop the server."""
    output = log.open("w") if log is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=output,
        )
    finally:
        if log is not None:
            output.close()  # type: ignore[union-attr]


def gunicorn(
    port: int, workers: int, env: dict[str, str], cwd: Path, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """The README's command: ``gunicorn -w N … 'casework:create_app()'``, default timeout."""
    return casework_process(
        ["gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "casework:create_app()"],
        env,
        cwd,
        log,
    )


def process_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment of a casework process a test starts: its own instance folder, English,
    and never the suite's database unless given."""
    env = {**os.environ, "CASEWORK_INSTANCE_PATH": str(folder), "CASEWORK_DEFAULT_LOCALE": "en"}
    for name in ("CASEWORK_DATABASE_URL", "CASEWORK_ENV", "CASEWORK_TEST_DATABASE_URL"):
        env.pop(name, None)
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    url = test_database_url(tmp_path_factory)
    app = create_app(make_settings(url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    yield app


@pytest.fixture(autouse=True)
def _clean_database(app: Flask) -> Iterator[None]:
    """Each test starts from empty tables (faster than migrating again, same on both databases)."""
    ctx = app.app_context()
    ctx.push()
    yield
    db.session.rollback()
    db.session.remove()
    with db.engine.begin() as conn, append_only_lifted(conn):
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    ctx.pop()


@contextmanager
def append_only_lifted(conn: Connection) -> Iterator[None]:
    """Lift the database's append-only guard on the audit tables for this connection's
    transaction, as only the database's owner can: to empty them between tests, or to tamper
    with them on purpose."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        yield
        return
    triggers = conn.execute(
        text(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'trigger' AND sql LIKE '%append-only%'"
        )
    ).all()
    for name, _sql in triggers:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    for _name, sql in triggers:
        conn.execute(text(sql))


_serials = itertools.count(1)


def valid_national_id(birth: date, female: bool = False) -> str:
    """A fresh, valid ЕМБГ for the birth date (region 43, Kičevo)."""
    while True:
        serial = next(_serials) % 500 + (500 if female else 0)
        stem = f"{birth:%d%m}{birth.year % 1000:03d}43{serial:03d}"
        return stem + emso.calc_check_digit(stem)


@dataclass
class Factory:
    """Builds domain objects through the same services the app uses."""

    app: Flask

    def municipality(self, code: str = "KIC", name: str = "Кичево") -> Municipality:
        existing = db.session.scalar(db.select(Municipality).where(Municipality.code == code))
        return existing or create_municipality(None, code, name)

    def enterprise(self, municipality: Municipality | None = None) -> Organization:
        return create_organization(
            None,
            OrganizationKind.PUBLIC_ENTERPRISE,
            f"ЈКП Комуналец {next(_serials)}",
            municipality=municipality or self.municipality(),
        )

    def user(
        self,
        role: Role | str = Role.COORDINATOR,
        municipality: Municipality | None = None,
        username: str | None = None,
        organization: Organization | None = None,
        **kwargs: Any,
    ) -> User:
        role = Role(role)
        kwargs.setdefault("locale", "en")  # tests read pages in the source language
        place = municipality if role is Role.ADMIN else municipality or self.municipality()
        if role is Role.SUPERVISOR and organization is None:
            organization = self.enterprise(place)
        username = username or f"{role.value.replace('_', '')}{next(_serials)}"
        return create_user(
            None,
            username,
            f"Test {role.value} {username}",
            PASSWORD,
            [RoleGrant(role, place, organization)],
            **kwargs,
        )

    def household(
        self,
        municipality: Municipality | None = None,
        worker: User | None = None,
        head_name: tuple[str, str] = ("Мухамед", "Мамудовски"),
        address: str = "ул. Гоце Делчев бр. 7",
    ) -> Household:
        municipality = municipality or self.municipality()
        coordinator = self.coordinator(municipality)
        birth = date(1984, 3, 15)
        household = create_household(
            coordinator,
            municipality,
            HouseholdData(address=address, settlement="Кичево"),
            MemberData(head_name[0], head_name[1], birth, national_id=valid_national_id(birth)),
            today=TODAY,
        )
        if worker is not None:
            household.assigned_worker_id = worker.id
        db.session.flush()
        return household

    def member(
        self,
        household: Household,
        first_name: str = "Ајше",
        birth: date | None = None,
        relation: str = "spouse",
        female: bool = True,
    ) -> Member:
        from casework.households.services import add_member

        birth = birth or date(1988, 6, 2)
        return add_member(
            self.coordinator(household.municipality),
            household,
            MemberData(
                first_name,
                "Мамудовска",
                birth,
                national_id=valid_national_id(birth, female),
                relation=relation,
            ),
            today=TODAY,
        )

    def programme(
        self,
        municipality: Municipality | None = None,
        budget_deni: int = 1_000_000_00,
        threshold_deni: int = 25_000_00,
        hourly_value_deni: int = 100_00,
    ) -> Programme:
        """The pilot's programme: debts of 01.11.2020–31.10.2021 to EVN and the communal
        enterprise, with a commission of three."""
        from casework.enrollment.models import Seat
        from casework.enrollment.services import add_commission_member
        from casework.programmes.services import ProgrammeData, create_programme

        municipality = municipality or self.municipality()
        admin = self.user(Role.ADMIN)
        ngo = create_organization(None, OrganizationKind.NGO, f"ЦГИ Прилеп {next(_serials)}")
        programme = create_programme(
            admin,
            municipality,
            ngo,
            ProgrammeData(
                name="Одговорна социјална поддршка",
                donor="Донатор",
                starts_on=date(2021, 11, 8),
                ends_on=None,
                budget_deni=budget_deni,
                hourly_value_deni=hourly_value_deni,
                approval_threshold_deni=threshold_deni,
                debt_period_from=date(2020, 11, 1),
                debt_period_to=date(2021, 10, 31),
            ),
            eligible_creditors=[self.creditor("EVN Home"), self.creditor("ЈКП Комуналец")],
        )
        for name, seat in [
            ("Весна", Seat.MUNICIPALITY),
            ("Драган", Seat.LAWYER),
            ("Сениха", Seat.ROMA_NGO),
        ]:
            add_commission_member(admin, programme, name, seat.value)
        return programme

    def creditor(self, name: str, municipality: Municipality | None = None) -> Organization:
        """A creditor serving every municipality, or only ``municipality`` (a local utility)."""
        existing = db.session.scalar(
            db.select(Organization).where(
                Organization.kind == OrganizationKind.CREDITOR.value, Organization.name == name
            )
        )
        if existing is not None:
            return existing
        creditor = Organization(
            kind=OrganizationKind.CREDITOR.value,
            name=name,
            municipality_id=municipality.id if municipality else None,
        )
        db.session.add(creditor)
        db.session.flush()
        return creditor

    def active_enrollment(
        self, programme: Programme, household: Household | None = None
    ) -> Enrollment:
        """Applied, approved by the commission and contracted: debts may be paid, adults work."""
        from casework.enrollment import services as enrollment

        household = household or self.household(
            head_name=("Мухамед", f"Мамудовски-{next(_serials)}"),
            address=f"ул. Илинденска бр. {next(_serials)}",
        )
        coordinator = self.coordinator(household.municipality)
        made = enrollment.apply(
            coordinator, household, programme, applied_on=date(2021, 11, 10), today=TODAY
        )
        enrollment.record_decision(
            coordinator,
            made,
            enrollment.DecisionData(
                decided_on=date(2021, 11, 25),
                outcome="approved",
                votes={m.id: "for" for m in enrollment.commission_of(programme)},
                reference="Записник 08-1",
            ),
            today=TODAY,
        )
        enrollment.sign_agreement(
            coordinator,
            made,
            signed_on=date(2021, 12, 1),
            reference=f"Договор {made.id}/2021",
            signatory_ids=[household.members[0].id],
            today=TODAY,
        )
        return made

    def arrear(
        self,
        enrollment: Enrollment,
        creditor: str = "EVN Home",
        principal_deni: int = 40_000_00,
        penalty_deni: int = 2_500_00,
        period: tuple[date, date] = (date(2020, 11, 1), date(2021, 10, 31)),
    ) -> Arrear:
        from casework.payments import services as payments

        coordinator = self.coordinator(enrollment.household.municipality)
        account = payments.open_account(
            coordinator, enrollment.household, self.creditor(creditor), f"{next(_serials):08d}"
        )
        return payments.record_arrear(
            coordinator,
            account,
            payments.ArrearData(
                period_from=period[0],
                period_to=period[1],
                principal_deni=principal_deni,
                penalty_deni=penalty_deni,
                statement_ref=f"Опомена {next(_serials)}",
                received_on=date(2021, 11, 15),
            ),
            today=TODAY,
        )

    def paid(self, enrollment: Enrollment, amount_deni: int = 10_000_00) -> Payment:
        """A statement, a request, an officer's approval and the payment: hours are now owed
        (100 ден. an hour: 10.000 ден. → 100 h)."""
        from casework.payments import services as payments

        arrear = self.arrear(enrollment, principal_deni=amount_deni, penalty_deni=0)
        coordinator = self.coordinator(enrollment.household.municipality)
        request = payments.create_request(
            coordinator, enrollment, arrear, amount_deni, "", today=TODAY
        )
        payments.submit(coordinator, request, today=TODAY)
        officer = self.user(Role.OFFICER, enrollment.household.municipality)
        payments.approve(officer, request, today=date(2021, 12, 1))
        return payments.record_payment(
            officer,
            request,
            payments.PaymentData(date(2021, 12, 1), f"Извод {request.id}", amount_deni),
            today=TODAY,
        )

    def submitted_request(self, amount_deni: int = 20_000_00) -> PaymentRequest:
        """A request sent to the municipality, waiting for an officer's approval."""
        from casework.payments import services as payments

        enrollment = self.active_enrollment(self.programme())
        arrear = self.arrear(enrollment)
        coordinator = self.coordinator(enrollment.household.municipality)
        request = payments.create_request(
            coordinator, enrollment, arrear, amount_deni, "Исклучување на струја", today=TODAY
        )
        payments.submit(coordinator, request, today=TODAY)
        return request

    def site(
        self, municipality: Municipality | None = None, name: str = "Градски парк"
    ) -> WorkSite:
        from casework.work.services import add_site

        municipality = municipality or self.municipality()
        return add_site(
            self.coordinator(municipality),
            self.enterprise(municipality),
            name,
            "Кичево",
            "одржување на зеленило",
        )

    def coordinator(self, municipality: Municipality) -> User:
        """The municipality's coordinator the factories act as (one per municipality, reused)."""
        existing = db.session.scalar(
            db.select(User).where(
                User.username == f"factory-coordinator-{municipality.code.lower()}"
            )
        )
        return existing or self.user(
            Role.COORDINATOR,
            municipality,
            username=f"factory-coordinator-{municipality.code.lower()}",
        )


@pytest.fixture
def today_is(monkeypatch: pytest.MonkeyPatch) -> Callable[[date], None]:
    """``today_is(TODAY)``: the programme's clock (``casework.clock``) reads that day, for the
    pages, the API and the CLI run in this process."""

    def _pin(day: date) -> None:
        monkeypatch.setattr("casework.clock.today", lambda zone_name=None: day)

    return _pin


@pytest.fixture
def make(app: Flask) -> Factory:
    return Factory(app)


@pytest.fixture
def programme(make: Factory) -> Programme:
    """The pilot's programme (``Factory.programme``): a commission of three, 4 h a day and 20 h
    a week of work, and above the threshold of 25.000,00 ден. two officers approve."""
    return make.programme()


@pytest.fixture
def coordinator(make: Factory) -> User:
    """The coordinator of the default municipality, the one the factories act as."""
    return make.coordinator(make.municipality())


@pytest.fixture
def enrollment(make: Factory, programme: Programme) -> Enrollment:
    """A household active in ``programme`` (``Factory.active_enrollment``), nothing paid yet."""
    return make.active_enrollment(programme)


@pytest.fixture
def arrear(make: Factory, enrollment: Enrollment) -> Arrear:
    """42.500,00 ден. owed to EVN by ``enrollment``'s household, inside the eligible period."""
    return make.arrear(enrollment)


@pytest.fixture
def worker(make: Factory) -> User:
    """A social worker of the default municipality."""
    return make.user(Role.SOCIAL_WORKER)


@pytest.fixture
def site(make: Factory) -> WorkSite:
    """A work site of the default municipality, run by an enterprise of its own."""
    return make.site()


@pytest.fixture
def head(enrollment: Enrollment) -> Member:
    """The head of ``enrollment``'s household (whichever ``enrollment`` the test module uses)."""
    return enrollment.household.members[0]


def count(model: Any, *where: Any) -> int:
    """How many rows of ``model`` match ``where``: what a request or a service stored, or not."""
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def error_of(response: Any) -> dict[str, Any]:
    """The API's error envelope of a response (nothing but ``{"error": {...}}``)."""
    body = response.get_json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


class Client:
    """A browser stand-in: fills in the CSRF token as a form submission would, and runs each
    request in its own context, with its own database session, as a real request would.

    The test's own session is committed first, so the request sees what the test built and
    no lock is held across it; the test reads what the request stored afresh afterwards."""

    def __init__(self, flask_client: FlaskClient) -> None:
        self.http = flask_client
        self.csrf_token = ""

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        db.session.commit()

        def _open() -> Any:
            response = self.http.open(url, method=method, **kwargs)
            response.get_data()  # a streamed body is read while its request is current
            return response

        response = contextvars.Context().run(_open)
        if response.mimetype == "text/html":  # files (PDF, XLSX) carry no form
            self._remember_token(response.get_data(as_text=True))
        return response

    def get(self, url: str, **kwargs: Any) -> Any:
        return self._request("GET", url, **kwargs)

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if not self.csrf_token:
            self.get("/login")
        return self._request(
            "POST", url, data={"csrf_token": self.csrf_token, **(data or {})}, **kwargs
        )

    def _remember_token(self, body: str) -> None:
        match = CSRF_RE.search(body)
        if match:
            self.csrf_token = match.group(1) or match.group(2)

    def login(self, username: str, password: str = PASSWORD) -> Any:
        """Log in as a person would; then open the landing page, whose forms carry the new
        session's CSRF token (logging in starts a new session)."""
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        if response.status_code == 302:
            self.csrf_token = ""
            self.get(response.headers["Location"], follow_redirects=True)
        return response


@pytest.fixture
def client(app: Flask) -> Client:
    return Client(app.test_client())


@pytest.fixture
def login_as(app: Flask, make: Factory):  # type: ignore[no-untyped-def]
    """``login_as("social_worker")`` → (client, user): a logged-in browser for a new user."""

    def _login(
        role: Role | str, municipality: Municipality | None = None, **kwargs: Any
    ) -> tuple[Client, User]:
        user = make.user(role, municipality, **kwargs)
        db.session.commit()
        browser = Client(app.test_client())
        response = browser.login(user.username)
        assert response.status_code == 302, "login failed in login_as"
        return browser, user

    return _login


class ApiClient:
    """A program calling the API with a personal token, each call in its own request context
    and database session, as a real client's would be."""

    def __init__(self, flask_client: FlaskClient, token: str) -> None:
        self.http = flask_client
        self.token = token

    def call(self, method: str, url: str, json: Any = None, **headers: str) -> Any:
        db.session.commit()
        all_headers = {"Authorization": f"Bearer {self.token}", **headers}
        if "Idempotency_Key" in all_headers:
            all_headers["Idempotency-Key"] = all_headers.pop("Idempotency_Key")

        def _open() -> Any:
            response = self.http.open(
                "/api/v1" + url, method=method, json=json, headers=all_headers
            )
            response.get_data()
            return response

        return contextvars.Context().run(_open)

    def get(self, url: str, **headers: str) -> Any:
        return self.call("GET", url, **headers)

    def post(self, url: str, json: Any = None, **headers: str) -> Any:
        return self.call("POST", url, json=json if json is not None else {}, **headers)


@pytest.fixture
def api_as(app: Flask, make: Factory):  # type: ignore[no-untyped-def]
    """``api_as("officer")`` → (api client, user): a new user with a personal token."""
    from casework.api.services import create_token

    def _api(
        role: Role | str, municipality: Municipality | None = None, **kwargs: Any
    ) -> tuple[ApiClient, User]:
        user = make.user(role, municipality, **kwargs)
        _token, secret = create_token(user, user, "tests")
        db.session.commit()
        return ApiClient(app.test_client(), secret), user

    return _api


def commit() -> None:
    db.session.commit()


def job_file(browser: Client, started: Any) -> Any:
    """A file made by a job (a workbook export, a report): the page sends the browser to the
    job, the worker runs it, and the job's page offers the file."""
    assert started.status_code == 302, started.status_code
    job_page = started.headers["Location"]
    assert job_page.startswith("/jobs/"), job_page
    run_jobs()
    assert "Download" in browser.get(job_page).get_data(as_text=True)
    return browser.get(job_page + "/file")


def run_jobs() -> int:
    """Run the queued jobs as ``casework worker --once`` would; how many ran."""
    from casework.jobs.services import run_pending

    db.session.commit()
    return run_pending("test-worker")


__all__ = [
    "PASSWORD",
    "TODAY",
    "ApiClient",
    "Client",
    "Factory",
    "commit",
    "count",
    "downgrade",
    "error_of",
    "run_jobs",
    "valid_national_id",
]

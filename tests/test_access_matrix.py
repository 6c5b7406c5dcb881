"""The access matrix: every route × every role, as declared in ``access_matrix.ROUTE_ACCESS``.

One world holds every kind of object twice: in municipality A, where each role has a user,
and in municipality B, where none of them works. Each route is asked with A's objects and
must answer as the matrix says; then with B's objects, where nobody may learn anything (the
answer is the same as for an id that does not exist). Whenever a request is refused, the
database must be exactly as it was before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.routing import IntegerConverter, Rule
from werkzeug.security import generate_password_hash

from casework.api import services as api_services
from casework.api.views import API_PREFIX, PUBLIC_API_ENDPOINTS
from casework.balances import services as balance_services
from casework.balances.models import Alert
from casework.extensions import db
from casework.households import services as household_services
from casework.households.models import DuplicateReview, NoteVisibility
from casework.imports import services as import_services
from casework.mail.models import OutboxMessage
from casework.organizations.models import Municipality
from casework.programmes.models import Programme
from casework.security import services as security_services
from casework.security.models import Role, User
from casework.web import PUBLIC_ENDPOINTS
from casework.work import services as work_services
from casework.work.models import WorkSite
from tests.access_matrix import (
    ROUTE_ACCESS,
    Actor,
    Outcome,
    expected_access,
    matrix_endpoint,
)
from tests.conftest import TODAY, Client, Factory

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
MISSING_ID = 987_654  # an id no table of the small world reaches

# Values for the URL parts that are not object ids.
TEXT_PARTS = {"kind": "households", "fmt": "csv"}


# --- the world --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two dozen users log in here: a cheap hash keeps the world fast to build (the login still
    checks it as it checks any stored hash)."""
    monkeypatch.setattr(
        security_services,
        "hash_password",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"),
    )


# The URL parts that name one family's objects (a social worker reaches them through its caseload).
FAMILY_PARTS = (
    "household_id",
    "member_id",
    "enrollment_id",
    "account_id",
    "arrear_id",
    "request_id",
    "log_id",
    "alert_id",
    "review_id",
)


def family(
    make: Factory,
    programme: Programme,
    site_id: int,
    worker: User,
    head: tuple[str, str],
    spouse: str,
) -> dict[str, int]:
    """A household in the worker's caseload with a member, an active enrollment, a paid request
    (100 hours owed), a logged shift and a note; registered a second time, so that a duplicate
    review waits."""
    municipality = programme.municipality
    address = f"ул. {head[1]} бр. 1"
    household = make.household(municipality, worker=worker, head_name=head, address=address)
    member = make.member(household, first_name=spouse)
    enrollment = make.active_enrollment(programme, household)
    payment = make.paid(enrollment, 10_000_00)
    site = db.session.get(WorkSite, site_id)
    assert site is not None
    work_log = work_services.log_work(
        worker,
        household.members[0],
        site,
        work_services.Shift(date(2021, 12, 6), duration_minutes=240),
        "метење",
        today=TODAY,
    )
    household_services.add_note(
        worker,
        household,
        "Семејството бара помош.",
        NoteVisibility.NGO.value,
        written_on=TODAY,
        today=TODAY,
    )
    again = make.household(municipality, worker=worker, head_name=head, address=address)
    review_id = db.session.scalar(
        select(DuplicateReview.id).where(DuplicateReview.household_id == again.id)
    )
    assert review_id is not None, "the second registration opened no duplicate review"
    arrear = payment.request.arrear
    return {
        "household_id": household.id,
        "member_id": member.id,
        "enrollment_id": enrollment.id,
        "account_id": arrear.account_id,
        "arrear_id": arrear.id,
        "request_id": payment.request_id,
        "log_id": work_log.id,
        "review_id": review_id,
    }


@dataclass
class Place:
    """One municipality with one of everything, and the users who work there.

    ``ids`` are the social worker's family and the supervisor's site; ``elsewhere_ids`` the
    same kinds of objects in the same municipality but in a colleague's caseload, at the
    site of another enterprise."""

    municipality: Municipality
    users: dict[Actor, User] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    elsewhere_ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[Actor, str] = field(default_factory=dict)  # each user's API token
    own_ids: dict[Actor, dict[str, int]] = field(default_factory=dict)  # a spare token to revoke

    def ids_of(self, actor: Actor) -> dict[str, int]:
        return self.ids | self.own_ids[actor]


def build_place(make: Factory, code: str, name: str, *, with_global_admin: bool) -> Place:
    municipality = make.municipality(code, name)
    place = Place(municipality)
    programme = make.programme(municipality)
    site = make.site(municipality)
    other_site = make.site(municipality, name="Гробишта")

    def user(role: Role, username: str, **kwargs: Any) -> User:
        return make.user(role, municipality, username=f"{username}-{code.lower()}", **kwargs)

    if with_global_admin:
        place.users[Actor.GLOBAL_ADMIN] = make.user(Role.ADMIN, None, username="globaladmin")
    place.users[Actor.ADMIN] = user(Role.ADMIN, "admin")
    place.users[Actor.COORDINATOR] = coordinator = user(Role.COORDINATOR, "coordinator")
    place.users[Actor.SOCIAL_WORKER] = worker = user(
        Role.SOCIAL_WORKER, "worker", email=f"worker-{code.lower()}@example.org"
    )
    place.users[Actor.OFFICER] = user(Role.OFFICER, "officer")
    place.users[Actor.SUPERVISOR] = user(
        Role.SUPERVISOR, "supervisor", organization=site.enterprise
    )
    place.users[Actor.AUDITOR] = user(Role.AUDITOR, "auditor")
    colleague = user(Role.SOCIAL_WORKER, "colleague", email=f"colleague-{code.lower()}@example.org")
    for actor, someone in place.users.items():
        place.tokens[actor] = api_services.create_token(someone, someone, "matrix")[1]
        spare, _secret = api_services.create_token(someone, someone, "spare")
        place.own_ids[actor] = {"token_id": spare.id}
    colleagues_token, _secret = api_services.create_token(colleague, colleague, "colleague's")

    own = family(make, programme, site.id, worker, ("Мухамед", "Мамудовски"), "Ајше")
    theirs = family(make, programme, other_site.id, colleague, ("Реџеп", "Рамадани"), "Фатима")
    balance_services.run_check(programme, date(2021, 12, 13), today=TODAY)  # on track
    balance_services.run_check(programme, date(2022, 1, 17), today=TODAY)  # behind: alerts

    def alert_of(user: User) -> int:
        found = db.session.scalar(select(Alert.id).where(Alert.user_id == user.id))
        assert found is not None, f"no alert for {user.username}"
        return found

    content = (EXAMPLES / "households-with-errors.csv").read_bytes()
    report = import_services.run_import(
        coordinator,
        programme,
        "households",
        "households-with-errors.csv",
        content,
        dry_run=True,
        today=TODAY,
        max_bytes=5_000_000,
        max_rows=20_000,
    )
    upload = import_services.store_upload(coordinator, programme, report, content)
    # A job that made a file: every job route has something to show its requester.
    from casework.jobs.services import run_pending
    from casework.reports.services import ExportFilter, start_export

    job = start_export(
        coordinator, ExportFilter(kind="households", fmt="xlsx"), locale="en", today=TODAY
    )
    db.session.commit()
    run_pending("matrix")
    shared = {
        "programme_id": programme.id,
        "upload_id": upload.id,
        "job_id": job.id,
        "user_id": colleague.id,
        "token_id": colleagues_token.id,  # Place.ids_of puts the user's own spare one instead
        "creditor_id": make.creditor("EVN Home").id,  # creditors serve every municipality
    }
    place.ids = own | shared | {"site_id": site.id, "alert_id": alert_of(worker)}
    place.elsewhere_ids = (
        theirs | shared | {"site_id": other_site.id, "alert_id": alert_of(colleague)}
    )
    return place


@dataclass
class World:
    a: Place
    b: Place


@pytest.fixture
def world(make: Factory) -> World:
    a = build_place(make, "KIC", "Кичево", with_global_admin=True)
    b = build_place(make, "TET", "Тетово", with_global_admin=False)
    db.session.commit()
    return World(a, b)


# --- routes, requests, outcomes -----------------------------------------------------------------


PUBLIC = PUBLIC_ENDPOINTS | PUBLIC_API_ENDPOINTS  # the login page, static files, the API document


def guarded_rules(app: Flask) -> list[Rule]:
    """Every route but the public ones, in a stable order."""
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint not in PUBLIC),
        key=lambda r: (r.endpoint, r.rule),
    )


def methods_of(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def requests_in_order(app: Flask) -> list[tuple[Rule, str]]:
    """Reads first, then actions (which may change what later reads find); logging out last."""
    pairs = [(rule, method) for rule in guarded_rules(app) for method in methods_of(rule)]
    return sorted(
        pairs, key=lambda p: (p[0].endpoint == "security.logout", p[1] != "GET", p[0].endpoint)
    )


# Object ids a route reads from its query string rather than its path.
QUERY_IDS = {"reports.export": "programme_id"}

Ids = dict[str, int]

# A valid body for each write of the API, with the objects of the world asked about: the
# input is checked before anything else, so an empty body would only ever get a 422.
API_BODIES: dict[str, Callable[[Ids], dict[str, Any]]] = {
    "api_balances.run_check": lambda ids: {},
    "api_enrollment.enrollment_step": lambda ids: {
        "action": "apply",  # refused (409) while the household's enrollment is open
        "programme_id": ids["programme_id"],
    },
    "api_households.create_household": lambda ids: {
        "programme_id": ids["programme_id"],
        "address": "ул. Нова бр. 3",
        "members": [
            {
                "first_name": "Нови",
                "last_name": "Носител",
                "birth_date": "1990-02-03",
                "is_head": True,
            }
        ],
    },
    "api_households.add_member": lambda ids: {
        "first_name": "Ели",
        "last_name": "Мамудовска",
        "birth_date": "2015-04-05",
        "relation": "child",
    },
    "api_households.add_exemption": lambda ids: {
        "reason": "pensioner",
        "document_ref": "Решение ПИОМ 12/2021",
        "starts_on": "2021-12-01",
    },
    "api_payments.add_account": lambda ids: {
        "creditor_id": ids["creditor_id"],
        "customer_number": "77001234",
    },
    "api_payments.add_arrear": lambda ids: {
        "period_from": "2020-11-01",
        "period_to": "2021-10-31",
        "principal_deni": 5_000_00,
        "statement_ref": "Опомена 99",
        "received_on": "2021-11-20",
    },
    "api_payments.create_request": lambda ids: {
        "arrear_id": ids["arrear_id"],
        "amount_deni": 1_000_00,
    },
    "api_payments.reject_request": lambda ids: {"reason": "Недостасува опомена"},
    "api_payments.record_payment": lambda ids: {
        "paid_on": "2021-12-02",
        "reference": "Извод 7",
        "amount_deni": 10_000_00,
    },
    "api_payments.reverse_payment": lambda ids: {"reason": "Погрешна уплата"},
    "api_payments.void_arrear": lambda ids: {"reason": "Внесена двапати"},
    "api_payments.replace_arrear": lambda ids: {
        "period_from": "2020-11-01",
        "period_to": "2021-10-31",
        "principal_deni": 5_000_00,
        "statement_ref": "Опомена 98",
        "received_on": "2021-11-20",
        "reason": "Погрешен износ",
    },
    "api_payments.correct_customer_number": lambda ids: {
        "customer_number": f"EVN-{ids['account_id']}-K",
        "reason": "Погрешна цифра",
    },
    "api_payments.approve_request": lambda ids: {},
    "api_payments.submit_request": lambda ids: {},
    "api_work.log_work": lambda ids: {
        "member_id": ids["member_id"],
        "site_id": ids["site_id"],
        "work_date": "2021-12-07",
        "minutes": 60,
    },
    "api_work.verify_log": lambda ids: {},
    "api_work.reject_log": lambda ids: {"reason": "Не дојде"},
    "api_work.withdraw_log": lambda ids: {"reason": "Погрешно лице"},
    "api_work.reverse_log": lambda ids: {"reason": "Погрешен датум"},
}

# Object ids a write of the API names in its body.
BODY_IDS = {
    "api_enrollment.enrollment_step": {"programme_id"},
    "api_households.create_household": {"programme_id"},
    "api_payments.create_request": {"arrear_id"},
    "api_work.log_work": {"member_id", "site_id"},
}


def object_parts(rule: Rule) -> set[str]:
    """The objects a request to the rule names: in its path, its query or its body."""
    parts = {n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)}
    if rule.endpoint in QUERY_IDS:
        parts.add(QUERY_IDS[rule.endpoint])
    return parts | BODY_IDS.get(rule.endpoint, set())


def url_of(rule: Rule, ids: Ids, *, role: str, with_query_ids: bool = False) -> str:
    """The rule's URL with these objects (a role's home page: the role's own)."""
    values: dict[str, Any] = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = ids[name]
        elif name == "role":
            values[name] = role
        else:
            values[name] = TEXT_PARTS[name]
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    url = built[1]
    if with_query_ids and rule.endpoint in QUERY_IDS:
        name = QUERY_IDS[rule.endpoint]
        url += f"?{name}={ids[name]}"
    return url


def role_of(actor: Actor) -> str:
    return Role.ADMIN.value if actor is Actor.GLOBAL_ADMIN else actor.value


def observed(response: Any) -> str:
    """The outcome a response stands for (its status code, as text, when it fits none)."""
    status = response.status_code
    if status == 401:
        return Outcome.LOGIN  # the API, without a valid token
    if status == 403:
        return Outcome.FORBIDDEN
    if status == 404:
        return Outcome.NOT_FOUND
    if 300 <= status < 400:
        location = urlsplit(response.headers.get("Location", ""))
        if location.path == "/login" and "next=" in location.query:
            return Outcome.LOGIN  # the login gate (logging out leads to the bare /login)
        return Outcome.ALLOW  # the next page, or /reauthenticate when the password is stale
    if 200 <= status < 300 or status in (400, 409, 422):
        return Outcome.ALLOW  # an empty form refused by its own checks was still let in
    return str(status)


Rows = dict[str, list[tuple[Any, ...]]]


class Database:
    """Every row of every table (the world is small), to show that a refusal changed nothing."""

    # Bookkeeping that any request moves, refused or not: when a session or a token was last
    # seen (at most once a minute), and the API's count of requests per minute.
    IGNORED = frozenset({("user_sessions", "last_seen_at"), ("api_tokens", "last_used_at")})
    IGNORED_TABLES = frozenset({"api_rate_windows"})
    _sql: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        self._known: Rows | None = None

    def rows(self) -> Rows:
        """All rows, read again only after something may have changed them."""
        if self._known is None:
            db.session.commit()
            with db.engine.connect() as conn:
                self._known = {
                    name: [tuple(r) for r in conn.exec_driver_sql(sql)]
                    for name, sql in self._statements().items()
                }
        return self._known

    def _statements(self) -> dict[str, str]:
        """One plain SELECT per table, every column, in a stable order (built once: the
        snapshot is taken after each refusal, hundreds of times a test)."""
        if not Database._sql:
            quote = db.engine.dialect.identifier_preparer.quote
            for table in db.metadata.sorted_tables:
                if table.name in self.IGNORED_TABLES:
                    continue
                columns = ", ".join(
                    quote(c.name) for c in table.columns if (table.name, c.name) not in self.IGNORED
                )
                # By the key: PostgreSQL cannot order JSON columns.
                key = ", ".join(quote(c.name) for c in table.primary_key.columns)
                Database._sql[table.name] = (
                    f"SELECT {columns} FROM {quote(table.name)} ORDER BY {key}"  # noqa: S608
                )
        return Database._sql

    def may_have_changed(self) -> None:
        self._known = None


@dataclass
class Browser:
    """One logged-in (or anonymous) browser asking routes; it collects every difference."""

    client: Client
    token: str | None = None  # sent to the API, which knows no cookies
    database: Database = field(default_factory=Database)
    problems: list[str] = field(default_factory=list)
    asked: int = 0

    def send(self, rule: Rule, method: str, url: str, ids: Ids, *, refusal: bool) -> Any:
        """One request: a page's form with a valid CSRF token and nothing else, the API's
        write with a valid body. When a refusal is expected, and one comes, every row must
        be as it was before."""
        before = self.database.rows() if refusal else None
        if url.startswith(API_PREFIX + "/"):
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            body = None
            if method != "GET":
                assert rule.endpoint in API_BODIES, f"give {rule.endpoint} a body in API_BODIES"
                body = API_BODIES[rule.endpoint](ids)
            response = self.client._request(method, url, json=body, headers=headers)
        elif method == "GET":
            response = self.client.get(url)
        else:
            data = {"csrf_token": self.client.csrf_token}
            response = self.client._request(method, url, data=data)
        self.asked += 1
        self.database.may_have_changed()
        if before is not None and observed(response) != Outcome.ALLOW:
            changed = [name for name, rows in self.database.rows().items() if before[name] != rows]
            if changed:
                self.problems.append(
                    f"{method} {url} ({rule.endpoint}): refused with {response.status_code} "
                    f"but changed {changed}"
                )
        return response

    def ask(
        self, rule: Rule, method: str, ids: Ids, expected: str, *, role: str, query: bool = False
    ) -> None:
        """The request must be answered as ``expected``."""
        url = url_of(rule, ids, role=role, with_query_ids=query)
        got = observed(self.send(rule, method, url, ids, refusal=expected != Outcome.ALLOW))
        if got != expected:
            self.problems.append(
                f"{method} {url} ({rule.endpoint}): expected {expected}, got {got}"
            )

    def assert_no_problems(self, who: str) -> None:
        if self.problems:
            listed = "\n".join(self.problems)
            pytest.fail(f"{who}, {len(self.problems)} of {self.asked} requests:\n{listed}")


def logged_in(app: Flask, place: Place, actor: Actor) -> Browser:
    """A fresh login just before the requests (the password counts as typed a moment ago),
    with the user's API token for the API."""
    user = place.users[actor]
    client = Client(app.test_client())
    assert client.login(user.username).status_code == 302, f"{user.username} could not log in"
    return Browser(client, place.tokens[actor])


ACTORS = list(Actor)
SCOPED_ACTORS = [a for a in ACTORS if a is not Actor.GLOBAL_ADMIN]

# Objects that are one user's own, whatever the municipality: anyone else gets 404.
PERSONAL_PARTS = frozenset({"alert_id", "token_id"})

# Inside its own municipality a role may be held to part of it: the objects it reaches only
# through its own families or sites.
NARROWER_SCOPE = {
    Actor.SOCIAL_WORKER: frozenset(FAMILY_PARTS),  # its own caseload
    Actor.SUPERVISOR: frozenset({"log_id", "site_id"}),  # its own enterprise's sites
}


def by_actor(actors: list[Actor]) -> Any:
    return pytest.mark.parametrize("actor", actors, ids=[a.value for a in actors])


# --- the matrix itself ----------------------------------------------------------------------------


def test_every_route_has_a_row_in_the_access_matrix(app: Flask) -> None:
    registered = {rule.endpoint for rule in guarded_rules(app)}
    declared = {matrix_endpoint(key) for key in ROUTE_ACCESS}
    missing, stale = sorted(registered - declared), sorted(declared - registered)
    assert not missing, f"routes without a row in tests/access_matrix.py ROUTE_ACCESS: {missing}"
    assert not stale, f"rows in tests/access_matrix.py ROUTE_ACCESS for no route: {stale}"
    unanswered = []
    for rule in guarded_rules(app):
        for method in methods_of(rule):
            try:
                expected_access(rule.endpoint, method, Actor.COORDINATOR)
            except KeyError:
                unanswered.append(f"{method} {rule.endpoint}")
    assert not unanswered, f"a row per method is missing for: {unanswered}"
    for key in ROUTE_ACCESS:
        if " " in key:
            method, endpoint = key.split(" ")
            assert any(
                method in methods_of(r) for r in guarded_rules(app) if r.endpoint == endpoint
            ), key


def test_every_write_of_the_api_has_a_body_to_send_in_this_test(app: Flask) -> None:
    writes = {
        rule.endpoint
        for rule in guarded_rules(app)
        if rule.rule.startswith(API_PREFIX + "/") and set(methods_of(rule)) - {"GET"}
    }
    assert not writes - set(API_BODIES), (
        f"add a valid body to API_BODIES for {writes - set(API_BODIES)}"
    )
    assert not set(API_BODIES) - writes, f"API_BODIES for no route: {set(API_BODIES) - writes}"


def test_the_matrix_has_a_column_for_every_role_and_for_the_admin_of_all_municipalities() -> None:
    assert {a.value for a in Actor} == {r.value for r in Role} | {"global_admin"}
    assert all(set(row) == set(Actor) for row in ROUTE_ACCESS.values())


# --- every route × every role ---------------------------------------------------------------------


def answers_as_if_unknown(
    browser: Browser, rule: Rule, method: str, ids: Ids, actor: Actor, why: str
) -> None:
    """Objects outside the actor's scope get exactly what an id that does not exist gets: a
    refusal (404, or the 403 of a role that may never use the route), never data."""
    role = role_of(actor)
    missing = dict.fromkeys(ids, MISSING_ID)
    url = url_of(rule, missing, role=role, with_query_ids=True)
    unknown = browser.send(rule, method, url, missing, refusal=True)
    url = url_of(rule, ids, role=role, with_query_ids=True)
    known = browser.send(rule, method, url, ids, refusal=True)
    where = f"{method} {url} ({rule.endpoint}, {why})"
    if known.status_code != unknown.status_code:
        browser.problems.append(
            f"{where}: {known.status_code}, but {unknown.status_code} for an id that does not exist"
        )
    if not 400 <= unknown.status_code < 500 or unknown.status_code == 401:
        browser.problems.append(f"{where}: {unknown.status_code} for an id that does not exist")
    if unknown.status_code == 403 and expected_access(rule.endpoint, method, actor) != "403":
        browser.problems.append(f"{where}: 403 for an unknown id, from a route the role may use")


@by_actor(ACTORS)
def test_each_role_gets_what_the_matrix_declares_in_its_own_municipality(
    app: Flask, world: World, actor: Actor
) -> None:
    browser = logged_in(app, world.a, actor)
    ids = world.a.ids_of(actor)
    for rule, method in requests_in_order(app):
        expected = expected_access(rule.endpoint, method, actor)
        browser.ask(rule, method, ids, expected, role=role_of(actor))
    browser.assert_no_problems(f"{actor.value} in its own municipality")


@by_actor(ACTORS)
def test_a_social_worker_reaches_only_its_caseload_and_a_supervisor_only_its_own_sites(
    app: Flask, world: World, actor: Actor
) -> None:
    """The same kinds of objects in the same municipality, in a colleague's caseload and at
    another enterprise's site: the whole municipality for the others, as unknown ids for these
    two (and for anyone, another user's alert or token)."""
    narrower = NARROWER_SCOPE.get(actor, frozenset()) | PERSONAL_PARTS
    own, theirs = world.a.ids_of(actor), world.a.elsewhere_ids
    browser = logged_in(app, world.a, actor)
    for rule, method in requests_in_order(app):
        parts = object_parts(rule)
        if not any(own[p] != theirs[p] for p in parts):
            continue  # the same objects as in the test above
        if parts & narrower:
            answers_as_if_unknown(browser, rule, method, theirs, actor, "outside its scope")
        else:
            expected = expected_access(rule.endpoint, method, actor)
            browser.ask(rule, method, theirs, expected, role=role_of(actor))
    browser.assert_no_problems(f"{actor.value} outside its own families and sites")


@by_actor(SCOPED_ACTORS)
def test_objects_of_another_municipality_answer_as_ids_that_do_not_exist(
    app: Flask, world: World, actor: Actor
) -> None:
    """Guessing an id never yields data nor tells whether it exists."""
    browser = logged_in(app, world.a, actor)
    for rule, method in requests_in_order(app):
        if object_parts(rule):
            answers_as_if_unknown(browser, rule, method, world.b.ids, actor, "municipality B")
    browser.assert_no_problems(f"{actor.value} with another municipality's objects")


def test_an_admin_of_all_municipalities_gets_the_same_answers_in_each(
    app: Flask, world: World
) -> None:
    browser = logged_in(app, world.a, Actor.GLOBAL_ADMIN)
    for rule, method in requests_in_order(app):
        if not object_parts(rule):
            continue
        if object_parts(rule) & PERSONAL_PARTS:  # another user's own, in any municipality
            answers_as_if_unknown(
                browser, rule, method, world.b.ids, Actor.GLOBAL_ADMIN, "another user's"
            )
        else:
            expected = expected_access(rule.endpoint, method, Actor.GLOBAL_ADMIN)
            browser.ask(rule, method, world.b.ids, expected, role=Role.ADMIN.value, query=True)
    browser.assert_no_problems("the admin of all municipalities, in B")


def test_an_anonymous_visitor_is_sent_to_the_login_by_every_route_and_changes_nothing(
    app: Flask, world: World
) -> None:
    """Pages send to the login page, the API answers 401."""
    browser = Browser(Client(app.test_client()))
    browser.client.get("/login")  # a valid CSRF token: the login gate itself must refuse
    ids = world.a.ids_of(Actor.COORDINATOR)
    for rule, method in requests_in_order(app):
        browser.ask(rule, method, ids, Outcome.LOGIN, role=Role.COORDINATOR.value, query=True)
    browser.assert_no_problems("an anonymous visitor")


@by_actor(ACTORS)
def test_a_role_home_page_opens_only_for_those_who_hold_the_role(
    app: Flask, make: Factory, actor: Actor
) -> None:
    place = Place(make.municipality())
    role = Role(role_of(actor))
    municipality = None if actor is Actor.GLOBAL_ADMIN else place.municipality
    place.users[actor] = make.user(role, municipality)
    place.tokens[actor] = ""
    db.session.commit()
    browser = logged_in(app, place, actor)
    rule = next(r for r in guarded_rules(app) if r.endpoint == "home.role_home")
    browser.ask(rule, "GET", {}, Outcome.ALLOW, role=role.value)
    for other in Role:
        if other is not role:
            browser.ask(rule, "GET", {}, Outcome.FORBIDDEN, role=other.value)
    browser.ask(rule, "GET", {}, Outcome.NOT_FOUND, role="nobody")
    browser.assert_no_problems(f"{actor.value} on others' home pages")


# --- what the admin pages show --------------------------------------------------------------------


def test_an_admin_of_one_municipality_lists_and_deactivates_only_its_own_staff(
    app: Flask, world: World
) -> None:
    browser = logged_in(app, world.a, Actor.ADMIN)
    for page in ("/admin/users", "/home/admin"):
        listed = browser.client.get(page).get_data(as_text=True)
        assert "worker-kic" in listed and "colleague-kic" in listed, page
        assert "-tet" not in listed and "globaladmin" not in listed, page
    theirs = world.b.users[Actor.SOCIAL_WORKER]
    response = browser.client.post(f"/admin/users/{theirs.id}/active", {"active": "0"})
    assert response.status_code == 404
    db.session.refresh(theirs)
    assert theirs.active


def test_the_outbox_shows_an_admin_the_mail_of_its_own_staff_and_no_family_names(
    app: Flask, world: World
) -> None:
    """The balance checks mailed each social worker an alert naming its family."""
    heads = ("Мамудовски", "Рамадани")
    mailed = db.session.scalars(select(OutboxMessage.body)).all()
    assert any(heads[0] in body for body in mailed)  # the social worker's own alert names it
    own = logged_in(app, world.a, Actor.ADMIN).client.get("/admin/outbox").get_data(as_text=True)
    assert "worker-kic@example.org" in own and "worker-tet@example.org" not in own
    every = logged_in(app, world.a, Actor.GLOBAL_ADMIN).client.get("/admin/outbox")
    text = every.get_data(as_text=True)
    assert "worker-kic@example.org" in text and "worker-tet@example.org" in text
    assert not any(name in page for name in heads for page in (own, text))

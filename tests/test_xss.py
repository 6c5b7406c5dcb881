"""Stored text renders as text: an XSS corpus typed into every text field, read on every page.

A world is built through the services (as the forms and the import would), with every field a
person can type holding a payload: markup, an attribute break-out, a template expression, a
``javascript:`` URL and names such as O'Hara and Ѓорѓи. Then each role that may see the data
opens every page of the app. No HTML page may hold a payload unescaped, the escaped payloads
must show where the data belongs (so the test cannot pass by showing nothing), and a template
expression never turns into its value. A sweep of the model metadata makes sure every text
column is either in the corpus or exempted below with a reason.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from markupsafe import escape
from openpyxl import load_workbook
from sqlalchemy import String, Text, select

from casework.api.services import create_token
from casework.audit.models import AccessAction
from casework.audit.services import log_access
from casework.balances.services import run_check
from casework.enrollment import services as enrollment
from casework.enrollment.models import Enrollment, Seat
from casework.errors import ValidationError
from casework.extensions import db
from casework.households import services as households
from casework.households.models import Household, Member
from casework.imports import services as imports
from casework.imports.models import ImportUpload
from casework.jobs.models import Job
from casework.organizations.models import Municipality, Organization, OrganizationKind
from casework.organizations.services import create_municipality, create_organization
from casework.payments import services as payments
from casework.payments.models import Arrear, PaymentRequest, UtilityAccount
from casework.programmes.models import Programme
from casework.programmes.services import ProgrammeData, create_programme
from casework.security.models import Role, User
from casework.security.services import RoleGrant, create_user
from casework.work import services as work
from casework.work.models import WorkSite
from tests.conftest import PASSWORD, TODAY, Client, valid_national_id

# --- the corpus ----------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{7*7}}"  # rendered by a template engine, it would read 49
JS_URL = "javascript:alert(1)"
NAMES = "O'Hara Ѓорѓи"
ATTRIBUTE = "' onmouseover='alert(1)"  # breaks out of an attribute in single quotes

# What an HTML body may never contain: each is only ever there when a payload went out raw.
RAW = (
    "<script>alert",
    "<img src=x",
    "onerror=alert(1)>",  # escaped it reads onerror=alert(1)&gt;
    "' onmouseover=",
)
JS_IN_URL = re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I)


def payload(tag: str, limit: int, prefix: str = "") -> str:
    """A value for one field: the tag says which field it is, then as much of the corpus as
    the field holds. ``{{7*7}}`` follows the tag, so a rendered expression would read ``tag49``."""
    value = f"{prefix}{tag}{TEMPLATE}"
    for piece in (f" {NAMES}", f" {IMG}", SCRIPT, f" {JS_URL}", f" {ATTRIBUTE}"):
        if len(value) + len(piece) <= limit:
            value += piece
    return value


@dataclass
class Corpus:
    """Every payload stored, by tag."""

    values: dict[str, str] = field(default_factory=dict)

    def __call__(self, tag: str, limit: int, prefix: str = "") -> str:
        assert tag not in self.values
        self.values[tag] = payload(tag, limit, prefix)
        return self.values[tag]

    def escaped(self, tag: str) -> str:
        return str(escape(self.values[tag]))


# --- the world -----------------------------------------------------------------------------------


@dataclass
class World:
    corpus: Corpus
    municipality: Municipality
    programme: Programme
    site: WorkSite
    users: dict[Role, User]
    households: list[Household]
    enrollments: list[Enrollment]
    requests: list[PaymentRequest]
    upload: ImportUpload
    job: Job
    refused: dict[str, str]  # field → the refusal of its payload

    @property
    def main(self) -> Household:
        return self.households[0]

    def members(self) -> list[Member]:
        return [m for h in self.households for m in h.members]


def _user(
    corpus: Corpus,
    tag: str,
    role: Role,
    place: Municipality,
    organization: Organization | None = None,
) -> User:
    return create_user(
        None,
        f"xss-{role.value.replace('_', '')}",
        corpus(tag, 120),
        PASSWORD,
        [RoleGrant(role, place, organization)],
        email=corpus(f"{tag}Mail", 200) + "@example.org",
        locale="en",
    )


def _refusal(action: Callable[[], object]) -> str:
    with pytest.raises(ValidationError) as refused:
        action()
    db.session.rollback()
    return refused.value.message


def build_world(app: Flask) -> World:
    c = Corpus()
    place = create_municipality(None, "XSS", c("Muni", 120), name_sq=c("MuniSq", 120))
    ngo = create_organization(
        None, OrganizationKind.NGO, c("Ngo", 200), short_name=c("NgoShort", 60)
    )
    enterprise = create_organization(
        None,
        OrganizationKind.PUBLIC_ENTERPRISE,
        c("Firm", 200),
        municipality=place,
        short_name=c("FirmShort", 60),
    )
    users = {
        Role.ADMIN: _user(c, "UAdm", Role.ADMIN, place),
        Role.COORDINATOR: _user(c, "UCoo", Role.COORDINATOR, place),
        Role.SOCIAL_WORKER: _user(c, "USoc", Role.SOCIAL_WORKER, place),
        Role.OFFICER: _user(c, "UOff", Role.OFFICER, place),
        Role.SUPERVISOR: _user(c, "USup", Role.SUPERVISOR, place, organization=enterprise),
        Role.AUDITOR: _user(c, "UAud", Role.AUDITOR, place),
    }
    admin, coordinator, worker = (
        users[Role.ADMIN],
        users[Role.COORDINATOR],
        users[Role.SOCIAL_WORKER],
    )
    officer, supervisor = users[Role.OFFICER], users[Role.SUPERVISOR]
    second_officer = create_user(
        None, "xss-officer2", c("UOff2", 120), PASSWORD, [RoleGrant(Role.OFFICER, place)]
    )

    creditor = payments.add_creditor(admin, c("Cred", 200), c("CredShort", 60))
    programme = create_programme(
        admin,
        place,
        ngo,
        ProgrammeData(
            name=c("Prog", 200),
            donor=c("Donor", 200),
            starts_on=date(2021, 11, 8),
            ends_on=None,
            budget_deni=1_000_000_00,
            hourly_value_deni=100_00,
            approval_threshold_deni=500_000_00,
            debt_period_from=date(2020, 11, 1),
            debt_period_to=date(2021, 10, 31),
        ),
        eligible_creditors=[creditor],
    )
    commission = [
        enrollment.add_commission_member(admin, programme, c(f"Com{n}", 120), seat.value)
        for n, seat in enumerate((Seat.MUNICIPALITY, Seat.LAWYER, Seat.ROMA_NGO))
    ]
    site = work.add_site(coordinator, enterprise, c("Site", 120), c("Place", 200), c("Kind", 200))

    # The families. The main one has every kind of record; the others close in each way.
    def family(n: int, birth: date, *, first_prefix: str = "", last_prefix: str = "") -> Household:
        household = households.create_household(
            coordinator,
            place,
            households.HouseholdData(
                address=c(f"Addr{n}", 200, prefix="=" if n == 0 else ""),
                settlement=c(f"Settl{n}", 120, prefix="+" if n == 0 else ""),
                phone="+389 (70) 123-456",
            ),
            households.MemberData(
                c(f"First{n}", 80, prefix=first_prefix),
                c(f"Last{n}", 80, prefix=last_prefix),
                birth,
                national_id=valid_national_id(birth),
            ),
            today=TODAY,
        )
        households.assign_worker(coordinator, household, worker)
        return household

    main = family(0, date(1984, 3, 15), first_prefix="@", last_prefix="-")
    spouse = households.add_member(
        coordinator,
        main,
        households.MemberData(
            c("Spouse", 80),
            c("SpouseLast", 80, prefix=JS_URL),  # javascript:alert(1) as a surname
            date(1988, 6, 2),
            national_id=valid_national_id(date(1988, 6, 2), female=True),
            relation="spouse",
        ),
        today=TODAY,
    )
    grandmother = households.add_member(
        coordinator,
        main,
        households.MemberData(
            c("Granny", 80),
            "O'Hara",
            date(1950, 1, 5),
            national_id=valid_national_id(date(1950, 1, 5), female=True),
            relation="grandparent",
        ),
        today=TODAY,
    )
    households.add_exemption(
        coordinator, grandmother, "pensioner", c("ExemptDoc", 120), date(2021, 1, 1)
    )
    for tag, visibility in (("NoteNgo", "ngo"), ("NoteShared", "shared")):
        households.add_note(
            coordinator, main, c(tag, 2000), visibility, written_on=TODAY, today=TODAY
        )
    others = [family(n, date(1970 + n, 2, 1)) for n in (1, 2, 3)]

    def decide(made: Enrollment, outcome: str, n: int) -> None:
        enrollment.record_decision(
            coordinator,
            made,
            enrollment.DecisionData(
                decided_on=date(2021, 11, 25),
                outcome=outcome,
                votes={m.id: "for" if outcome == "approved" else "against" for m in commission},
                reference=c(f"Minutes{n}", 120),
                reason=c(f"Refusal{n}", 2000) if outcome == "rejected" else "",
            ),
            today=TODAY,
        )

    def activate(household: Household, n: int) -> Enrollment:
        made = enrollment.apply(
            coordinator, household, programme, applied_on=date(2021, 11, 10), today=TODAY
        )
        decide(made, "approved", n)
        enrollment.sign_agreement(
            coordinator,
            made,
            signed_on=date(2021, 12, 1),
            reference=c(f"Contract{n}", 120),
            signatory_ids=[household.members[0].id],
            today=TODAY,
        )
        return made

    active = activate(main, 0)
    withdrawn = activate(others[0], 1)
    enrollment.withdraw(
        coordinator, withdrawn, on=date(2022, 1, 3), reason=c("Withdrawal", 2000), today=TODAY
    )
    completed = activate(others[1], 2)
    enrollment.complete(
        coordinator, completed, on=date(2022, 1, 12), reason=c("Completion", 2000), today=TODAY
    )
    rejected = enrollment.apply(
        coordinator, others[2], programme, applied_on=date(2021, 11, 10), today=TODAY
    )
    decide(rejected, "rejected", 3)

    # Money: a statement, and requests that end in each way.
    account = payments.open_account(coordinator, main, creditor, c("Customer", 40))
    arrear = payments.record_arrear(
        coordinator,
        account,
        payments.ArrearData(
            period_from=date(2020, 11, 1),
            period_to=date(2021, 10, 31),
            principal_deni=100_000_00,
            penalty_deni=0,
            statement_ref=c("Statement", 120),
            received_on=date(2021, 11, 15),
        ),
        today=TODAY,
    )

    def request(n: int, amount: int) -> PaymentRequest:
        made = payments.create_request(
            coordinator, active, arrear, amount, c(f"Why{n}", 2000), today=TODAY
        )
        payments.submit(coordinator, made, today=TODAY)
        return made

    refused_request = request(0, 1_000_00)
    payments.reject(officer, refused_request, c("Rejection", 2000), today=TODAY)
    cancelled = request(1, 2_000_00)
    payments.approve(officer, cancelled, today=date(2021, 12, 1))
    payments.cancel(officer, cancelled, c("Cancel", 2000), today=TODAY)
    reversed_request = request(2, 3_000_00)
    payments.approve(second_officer, reversed_request, today=date(2021, 12, 1))
    wrong = payments.record_payment(
        officer,
        reversed_request,
        payments.PaymentData(date(2021, 12, 1), c("BankRefX", 120), 3_000_00),
        today=TODAY,
    )
    payments.reverse_payment(
        officer, wrong, c("Reversal", 2000), on=date(2021, 12, 10), today=TODAY
    )
    paid_request = request(3, 50_000_00)
    payments.approve(officer, paid_request, today=date(2021, 12, 1))
    payments.record_payment(
        officer,
        paid_request,
        payments.PaymentData(date(2021, 12, 1), c("BankRef", 120), 50_000_00),
        today=TODAY,
    )

    # Corrections: a customer number and a statement entered wrongly, corrected.
    mistyped = payments.open_account(coordinator, main, creditor, c("CustomerOld", 40))
    payments.correct_customer_number(
        coordinator, mistyped, c("CustomerNew", 40), c("NumberWhy", 2000), today=TODAY
    )
    twice = payments.record_arrear(
        coordinator,
        mistyped,
        payments.ArrearData(
            period_from=date(2020, 11, 1),
            period_to=date(2021, 10, 31),
            principal_deni=1_000_00,
            penalty_deni=0,
            statement_ref=c("StatementX", 120),
            received_on=date(2021, 11, 15),
        ),
        today=TODAY,
    )
    payments.void_arrear(coordinator, twice, c("VoidWhy", 2000), today=TODAY)

    # Hours: verified, rejected, and verified then corrected.
    head = main.members[0]
    shifts = [work.Shift(date(2022, 1, d), 8 * 60, 10 * 60) for d in (10, 11, 12, 13)]
    logs = [
        work.log_work(worker, member, site, shift, c(f"Task{n}", 200), today=TODAY)
        for n, (member, shift) in enumerate(zip([head, head, spouse, spouse], shifts, strict=True))
    ]
    work.verify(supervisor, logs[0], today=TODAY)
    work.reject(supervisor, logs[1], c("LogRefusal", 2000), today=TODAY)
    work.verify(supervisor, logs[2], today=TODAY)
    work.correct(coordinator, logs[2], c("Correction", 200), today=TODAY)
    # ... and one its author withdrew (the wrong day), with the reason.
    typo = work.log_work(
        worker, spouse, site, work.Shift(date(2022, 1, 14), 8 * 60, 9 * 60), "", today=TODAY
    )
    work.withdraw_log(worker, typo, c("WithdrawWhy", 2000), today=TODAY)

    # A token for a program that uses the API, named by its owner.
    create_token(coordinator, coordinator, c("Token", 80))

    # A balance check that finds the family behind: an alert and mail with names in them.
    run_check(programme, date(2022, 1, 17), today=TODAY)

    # A coordinator reveals a national ID, with a reason (the access log keeps it).
    log_access(
        coordinator,
        AccessAction.REVEAL_NATIONAL_ID,
        household_id=main.id,
        member_id=head.id,
        municipality_id=place.id,
        detail="national_id",
        reason=c("RevealWhy", 500),
    )

    # An import file checked in a dry run: its name and its rows are shown back.
    born = date(1979, 4, 4)
    rows = [
        ["Бр. домаќинство", "Сродство", "Име", "Презиме", "ЕМБГ", "Адреса", "Јазик"],
        ["1", "Носител", c("ImpFirst", 80), c("ImpLast", 80), valid_national_id(born),
         c("ImpAddr", 200), "mk"],
        ["2", "Носител", c("ImpBad", 80), "O'Hara", c("ImpId", 40), c("ImpAddr2", 200), "mk"],
    ]  # fmt: skip
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    content = ("\ufeff" + out.getvalue()).encode()
    report = imports.run_import(
        coordinator,
        programme,
        "households",
        c("File", 200) + ".csv",
        content,
        dry_run=True,
        today=TODAY,
        max_bytes=1_000_000,
        max_rows=1_000,
    )
    upload = imports.store_upload(coordinator, programme, report, content)

    db.session.commit()

    # Typed at the door: the browser's User-Agent of a session, the name of a failed login.
    agent = Client(app.test_client())
    agent.http.environ_base["HTTP_USER_AGENT"] = c("Agent", 200)
    assert agent.login(coordinator.username).status_code == 302
    assert Client(app.test_client()).login(c("Login", 60)).status_code == 200

    # What the services refuse to store, and why: these fields cannot hold a payload.
    refused = {
        "households.phone": _refusal(
            lambda: households.update_household(
                coordinator,
                main,
                households.HouseholdData(address="x", phone=SCRIPT),
                today=TODAY,
            )
        ),
        "members.national_id": _refusal(
            lambda: households.check_member(
                households.MemberData("a", "b", None, national_id=IMG), today=TODAY
            )
        ),
        "users.username": _refusal(
            lambda: create_user(None, SCRIPT, "x", PASSWORD, [RoleGrant(Role.ADMIN, None)])
        ),
        "municipalities.code": _refusal(lambda: create_municipality(None, IMG, "x")),
    }
    # A job that failed with a refusal naming a stored value, as an import's can.
    from casework.balances.services import start_check
    from casework.jobs.models import JobState

    job = start_check(users[Role.COORDINATOR], programme, today=TODAY)
    job.state, job.error = JobState.FAILED.value, c("JobErr", 2000)
    db.session.commit()
    db.session.expire_all()
    return World(
        corpus=c,
        municipality=place,
        programme=programme,
        site=site,
        users=users,
        households=[main, *others],
        enrollments=[active, withdrawn, completed, rejected],
        requests=[refused_request, cancelled, reversed_request, paid_request],
        upload=upload,
        job=job,
        refused=refused,
    )


@pytest.fixture
def world(app: Flask) -> World:
    return build_world(app)


def signed_in(app: Flask, user: User) -> Client:
    """A browser logged in as one of the world's users (whose names are payloads too)."""
    browser = Client(app.test_client())
    assert browser.login(user.username).status_code == 302
    return browser


# --- every page ----------------------------------------------------------------------------------

# Query strings that make a page show the world's data (or reflect a payload back).
REFLECTED = payload("Query", 100)
Q = quote(REFLECTED)
QUERIES: dict[str, list[str]] = {
    "households.index": ["", f"q={Q}"],
    "audit.search": [
        "log=events",
        "log=access",
        "log=access&action=reveal_national_id",
        f"log=access&username={Q}&household={Q}&action={Q}",
    ],
    "work.week": ["start=2022-01-10"],
    "reports.report": ["period_from=2021-11-01&period_to=2022-01-17"],
    "reports.export": ["", "pseudonymised=1", f"q={Q}"],
    "security.login": [f"next={Q}"],
    "security.reauthenticate": [f"next={Q}"],
}


def parameter_values(world: World) -> dict[str, list[Any]]:
    from casework.reports.services import KINDS

    return {
        "household_id": [h.id for h in world.households],
        "member_id": [m.id for m in world.members()],
        "enrollment_id": [e.id for e in world.enrollments],
        "request_id": [r.id for r in world.requests],
        "account_id": list(db.session.scalars(select(UtilityAccount.id))),
        "arrear_id": list(db.session.scalars(select(Arrear.id))),
        "programme_id": [world.programme.id],
        "site_id": [world.site.id],
        "upload_id": [world.upload.id],
        "job_id": [world.job.id],
        "role": [r.value for r in Role],
        "kind": [*KINDS, *imports.COLUMNS],
        "fmt": ["csv", "xlsx"],
    }


def every_page(app: Flask, world: World) -> Iterator[str]:
    """Every GET address of the app, once for each of the world's objects it can show."""
    values = parameter_values(world)
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        names = sorted(rule.arguments)
        unknown = set(names) - set(values)
        assert not unknown, f"{rule.rule}: give {unknown} the world's values in parameter_values"
        for combination in itertools.product(*(values[n] for n in names)):
            path = adapter.build(rule.endpoint, dict(zip(names, combination, strict=True)))
            for query in QUERIES.get(rule.endpoint, [""]):
                yield f"{path}?{query}" if query else path


@dataclass
class Crawl:
    pages: dict[str, str] = field(default_factory=dict)  # url → HTML body
    files: dict[str, Any] = field(default_factory=dict)  # url → response of a download
    statuses: dict[str, int] = field(default_factory=dict)


def crawl(app: Flask, world: World, browser: Client) -> Crawl:
    found = Crawl()
    for url in every_page(app, world):
        if url.endswith(".pdf"):
            continue  # a PDF is no HTML, and slow to make: the downloads test opens each once
        response = browser.get(url)
        found.statuses[url] = response.status_code
        assert response.status_code < 500, f"{url} failed with {response.status_code}"
        if response.mimetype == "text/html":
            found.pages[url] = response.get_data(as_text=True)
        else:
            found.files[url] = response
    return found


def assert_no_raw_payload(world: World, url: str, body: str) -> None:
    for raw in RAW:
        assert raw not in body, f"{url} shows {raw!r} unescaped"
    assert not JS_IN_URL.search(body), f"{url} puts a javascript: URL in a link"
    for tag in [*world.corpus.values, "Query"]:
        assert f"{tag}49" not in body, f"{url} evaluated the template expression of {tag}"


def url(app: Flask, endpoint: str, query: str = "", **values: Any) -> str:
    path = app.url_map.bind("localhost").build(endpoint, values)
    return f"{path}?{query}" if query else path


def expected_pages(app: Flask, world: World, role: Role) -> dict[str, set[str]]:
    """Where each role must see the payloads (escaped): the pages that exist to show them."""
    main, withdrawn, completed, rejected = (h.id for h in world.households)
    refused, cancelled, reversed_, paid = (r.id for r in world.requests)
    spouse = next(m.id for m in world.members() if m.first_name == world.corpus.values["Spouse"])
    programme, site = world.programme.id, world.site.id
    reveals = "log=access&action=reveal_national_id"
    family = {
        url(app, "households.index"): {"First0", "Last0", "Settl0", "First3", "Last3"},
        url(app, "households.detail", household_id=main): {
            "Addr0", "Settl0", "First0", "Last0", "Spouse", "SpouseLast", "Granny", "ExemptDoc",
            "NoteShared", "Minutes0", "Contract0", "LogRefusal", "Correction", "Site", "Prog",
            "Com0", "UCoo",
        },
        url(app, "households.detail", household_id=withdrawn): {"Withdrawal", "Contract1"},
        url(app, "households.detail", household_id=completed): {"Completion"},
        url(app, "households.detail", household_id=rejected): {"Refusal3", "Minutes3"},
        url(app, "payments.money", household_id=main): {
            "Customer", "Statement", "Rejection", "CredShort", "CustomerOld", "CustomerNew",
            "NumberWhy", "StatementX", "VoidWhy",
        },
        url(app, "payments.request_detail", request_id=refused): {"Why0", "Rejection"},
        url(app, "payments.request_detail", request_id=cancelled): {"Why1", "Cancel"},
        url(app, "payments.request_detail", request_id=reversed_): {
            "Why2", "BankRefX", "Reversal", "UOff2",
        },
        url(app, "payments.request_detail", request_id=paid): {"Why3", "BankRef"},
        url(app, "reports.statement", household_id=main): {"Addr0", "First0", "Last0"},
    }  # fmt: skip
    ngo = {url(app, "households.detail", household_id=main): {"NoteNgo"}}
    week = {
        url(app, "work.week", "start=2022-01-10", site_id=site): {
            "First0", "Spouse", "LogRefusal", "Site", "Place",
        }
    }  # fmt: skip
    pages: dict[Role, list[dict[str, set[str]]]] = {
        Role.COORDINATOR: [
            family,
            ngo,
            week,
            {
                url(app, "households.edit", household_id=main): {"Addr0", "Settl0"},
                url(app, "households.edit_member", member_id=spouse): {"Spouse", "SpouseLast"},
                url(app, "enrollment.agreement", enrollment_id=world.enrollments[0].id): {
                    "First0",
                    "Last0",
                },
                url(app, "enrollment.commission", programme_id=programme): {"Com0", "Com1", "Com2"},
                url(app, "security.profile"): {"Token", "UCoo"},
                url(app, "enrollment.decision", enrollment_id=world.enrollments[0].id): {"Com2"},
                url(app, "work.sites"): {"Site", "Place", "Kind", "FirmShort"},
                url(app, "work.log"): {"First0", "Spouse", "Site"},
                url(app, "imports.report", upload_id=world.upload.id): {
                    "File",
                    "ImpFirst",
                    "ImpLast",
                },
            },
        ],
        Role.SOCIAL_WORKER: [family, ngo, {url(app, "work.log"): {"First0", "Spouse", "Site"}}],
        Role.OFFICER: [family, {url(app, "payments.budget", programme_id=programme): {"Cred"}}],
        Role.SUPERVISOR: [week, {url(app, "home.role_home", role="supervisor"): {"Site"}}],
        Role.AUDITOR: [
            {
                url(app, "audit.search", reveals): {"RevealWhy"},
                url(
                    app,
                    "reports.report",
                    "period_from=2021-11-01&period_to=2022-01-17",
                    programme_id=programme,
                ): {"Prog", "Donor", "CredShort"},
            }
        ],
        Role.ADMIN: [
            {
                url(app, "security.users"): {"UAdm", "UCoo", "USoc", "UOff", "USup", "UAud"},
                url(app, "payments.creditors"): {"Cred", "CredShort"},
                url(app, "mail.outbox"): {"UCooMail", "USocMail", "Prog"},
                url(app, "enrollment.commission", programme_id=programme): {"Com0"},
                url(app, "audit.search", reveals): {"RevealWhy"},
                url(app, "security.profile"): {"Muni", "UAdm"},
            }
        ],
    }
    merged: dict[str, set[str]] = {}
    for group in pages[role]:
        for page, tags in group.items():
            merged.setdefault(page, set()).update(tags)
    return merged


# Payloads stored but shown on no page, and why. Every other one must show somewhere, escaped.
NOT_ON_ANY_PAGE = {
    "MuniSq": "the Albanian name of the municipality is not shown yet",
    "Firm": "a public enterprise is shown by its short name",
    **dict.fromkeys(["Task0", "Task1", "Task2", "Task3"], "a task is in the work-log export"),
    **dict.fromkeys(
        ["UAdmMail", "UOffMail", "USupMail", "UAudMail"],
        "an address shows in the outbox only once the user was sent a message",
    ),
    **dict.fromkeys(
        ["ImpAddr", "ImpBad", "ImpId", "ImpAddr2"],
        "an import report names each row and its errors, not every cell",
    ),
    "Agent": "the browser of a session is not shown",
    "Login": "the name typed at a failed login is not shown",
}


@pytest.mark.slow
def test_every_page_shows_the_corpus_escaped_to_every_role(app: Flask, world: World) -> None:
    crawls = {role: crawl(app, world, signed_in(app, user)) for role, user in world.users.items()}
    for role, found in crawls.items():
        assert len(found.pages) > 20, f"{role}: too few pages to prove anything"
        for page, body in found.pages.items():
            assert_no_raw_payload(world, f"{role.value} {page}", body)
        for page, tags in expected_pages(app, world, role).items():
            assert found.statuses.get(page) == 200, f"{role.value} could not open {page}"
            missing = {t for t in tags if world.corpus.escaped(t) not in found.pages[page]}
            assert not missing, f"{role.value} {page} does not show {sorted(missing)} escaped"
    # An officer reads the shared note, never the NGO's own.
    officer_view = crawls[Role.OFFICER].pages[
        url(app, "households.detail", household_id=world.main.id)
    ]
    assert world.corpus.escaped("NoteShared") in officer_view
    assert world.corpus.escaped("NoteNgo") not in officer_view
    # Every payload shows somewhere, unless it is known not to.
    everywhere = "".join(body for found in crawls.values() for body in found.pages.values())
    unseen = {
        tag
        for tag in world.corpus.values
        if world.corpus.escaped(tag) not in everywhere and tag not in NOT_ON_ANY_PAGE
    }
    assert not unseen, f"stored but shown on no page: {sorted(unseen)}"


def test_a_search_or_a_next_address_is_reflected_escaped(app: Flask, world: World) -> None:
    escaped = str(escape(REFLECTED))
    anonymous = Client(app.test_client())
    login_page = anonymous.get(url(app, "security.login", f"next={Q}"))
    coordinator = signed_in(app, world.users[Role.COORDINATOR])
    search = coordinator.get(url(app, "households.index", f"q={Q}"))
    auditor = signed_in(app, world.users[Role.AUDITOR])
    audit = auditor.get(url(app, "audit.search", f"log=access&username={Q}"))
    for response in (login_page, search, audit):
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and escaped in body
        assert_no_raw_payload(world, response.request.path, body)


def test_downloads_defuse_formulas_and_keep_their_headers_clean(app: Flask, world: World) -> None:
    """Exports hold the payloads too: a cell that starts like a formula (= + - @) is defused,
    and no file name carries markup into a header."""
    coordinator = signed_in(app, world.users[Role.COORDINATOR])
    seen = pdfs = 0
    for page in every_page(app, world):
        response = coordinator.get(page)
        if response.status_code != 200 or response.mimetype == "text/html":
            continue
        disposition = response.headers.get("Content-Disposition", "")
        assert "<" not in disposition and disposition.count('"') in (0, 2), disposition
        if response.mimetype == "application/pdf":
            pdfs += 1  # names full of markup and quotes make a PDF like any other
            assert response.data.startswith(b"%PDF"), page
            continue
        if response.mimetype == "text/csv":
            text = response.get_data(as_text=True).lstrip("\ufeff")
            dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;")
            cells = [c for row in csv.reader(io.StringIO(text), dialect) for c in row]
        elif response.mimetype.endswith("spreadsheetml.sheet"):
            book = load_workbook(io.BytesIO(response.data))
            cells = [
                cell
                for sheet in book.worksheets
                for row in sheet.iter_rows(values_only=True)
                for cell in row
                if isinstance(cell, str)
            ]
        else:
            continue
        for cell in cells:
            if TEMPLATE in cell:
                seen += 1
                assert cell[:1] not in ("=", "+", "-", "@"), f"{page}: formula {cell!r}"
    assert seen >= 10, "the exports held too few payloads to prove anything"
    assert pdfs >= 5  # every family's statement and the programme report


def test_fields_with_a_format_refuse_the_payloads(world: World) -> None:
    """Phone numbers, national IDs, usernames and municipality codes are checked for their
    format, so a payload never gets stored in them."""
    assert set(world.refused) == {
        "households.phone",
        "members.national_id",
        "users.username",
        "municipalities.code",
    }
    assert all(world.refused.values())


# --- every text column is in the corpus, or exempted with a reason --------------------------------

EXEMPT: dict[str, str] = {
    # Formats the services check: a payload is refused (see the test above).
    "households.phone": "digits, spaces and + - / ( ) only",
    "members.national_id": "13 digits with a check digit",
    "users.username": "small letters, digits, dot, dash, underscore",
    "municipalities.code": "2 to 8 letters or digits",
    # Codes from a fixed list (enums, locales, time zones, schedules), checked on the way in.
    "municipalities.default_locale": "a locale code",
    "municipalities.timezone": "a time zone name",
    "users.locale": "a locale code",
    "households.language": "a locale code",
    "organizations.kind": "enum",
    "outbox.kind": "enum",
    "user_sessions.ended_reason": "enum",
    "case_notes.visibility": "enum",
    "duplicate_reviews.reason": "enum",
    "duplicate_reviews.decision": "enum",
    "members.sex": "enum",
    "members.relation": "enum",
    "programmes.check_schedule": "a cron schedule, checked",
    "programmes.timezone": "a time zone name",
    "role_assignments.role": "enum",
    "access_log.action": "enum",
    "balance_runs.trigger": "enum",
    "commission_members.seat": "enum",
    "enrollments.status": "enum",
    "exemptions.reason": "enum (the document reference carries the text)",
    "import_uploads.kind": "enum",
    "balance_snapshots.status": "enum",
    "commission_decisions.outcome": "enum",
    "enrollment_events.from_status": "enum",
    "enrollment_events.to_status": "enum",
    "enrollment_events.close_reason": "enum (the reason's note carries the text)",
    "enrollments.close_reason": "enum",
    "payment_requests.status": "enum",
    "work_logs.status": "enum",
    "alerts.previous_status": "enum",
    "alerts.status": "enum",
    "decision_votes.vote": "enum",
    "payment_request_events.from_status": "enum",
    "payment_request_events.to_status": "enum",
    "jobs.kind": "enum",
    "jobs.state": "enum",
    # Written by the app itself, never typed by a person.
    "households.case_number": "municipality code and a number",
    "households.address_key": "search key derived from the address, never shown",
    "household_keys.wrapped_key": "a Fernet token the app makes, never shown",
    "members.name_key": "search key derived from the name, never shown",
    "audit_events.actor_roles": "role codes",
    "audit_events.action": "action code",
    "audit_events.entity_type": "table name",
    "audit_events.request_id": "request id (format checked)",
    "access_log.user_roles": "role codes",
    "access_log.detail": "page or export kind, with counts",
    "access_log.request_id": "request id (format checked)",
    "outbox.subject": "case number, status and date only",
    "outbox.last_error": "the mail server's reply",
    "login_attempts.ip": "the connection's address",
    "jobs.claimed_by": "the worker's host name and process id",
    "heartbeats.kind": "scheduler or worker",
    "heartbeats.instance": "the process's host name and process id",
    "user_sessions.ip": "the connection's address",
    # Hashes.
    "users.password_hash": "hash",
    "user_sessions.token_hash": "hash",
    "import_uploads.sha256": "hash",
    "audit_chain_head.last_hash": "hash",
    "audit_links.prev_hash": "hash",
    "audit_links.hash": "hash",
    "api_tokens.token_hash": "hash",
    "api_idempotency.fingerprint": "hash",
    "api_tokens.prefix": "the token's first characters, made by the app",
    "api_idempotency.key": "a key the API client picks to retry safely: compared, never shown",
    "form_keys.key": "a random key the app draws into a form: compared, never shown",
    "form_keys.location": "where the app's own answer redirected: a redirect, never shown",
    "outbox.message_id": "a Message-ID the app makes itself: a mail header, never typed",
}


def text_columns() -> list[Any]:
    return [
        column
        for table in db.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, String | Text)
        or isinstance(getattr(column.type, "impl", None), String | Text)  # EnumText and others
    ]


def test_every_text_column_holds_the_corpus_or_is_exempted_with_a_reason(world: World) -> None:
    """A new text column fails here until someone puts a payload in it above (and sees it
    rendered escaped) or adds it to EXEMPT with the reason it cannot hold one."""
    columns = {f"{c.table.name}.{c.name}": c for c in text_columns()}
    assert not set(EXEMPT) - set(columns), "EXEMPT names columns that no longer exist"
    uncovered = []
    for name, column in columns.items():
        if name in EXEMPT:
            continue  # an enum column refuses any other value, the payload included
        holds_payload = db.session.scalar(
            select(column).where(column.contains(TEMPLATE, autoescape=True)).limit(1)
        )
        if holds_payload is None:
            uncovered.append(name)
    assert not uncovered, f"text columns neither in the corpus nor exempted: {uncovered}"

"""``casework bench``: how the app behaves at national scale, measured rather than asserted.

It builds a synthetic register with bulk inserts (households spread over many municipalities,
each with about 40 work logs and 2 payments), serves it with a real HTTP server on loopback,
and measures, several runs each: the household list and detail pages as a coordinator who
sees the whole country; their SQL statement counts; the same statements replayed bare through
the database driver (the floor); a full balance check; an import of 10.000 rows; and exports
of every household to CSV and XLSX with their peak memory.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import logging
import random
import re
import statistics
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import event, func, insert, select, text
from stdnum.si import emso
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from casework import clock
from casework.enrollment.models import Enrollment
from casework.extensions import db
from casework.households.models import Household, Member, match_key
from casework.organizations.models import Municipality, Organization
from casework.payments.models import (
    Arrear,
    Obligation,
    Payment,
    PaymentRequest,
    UtilityAccount,
)
from casework.programmes.models import Programme, ProgrammeCreditor
from casework.security.models import RoleAssignment, User
from casework.work.models import WorkLog, WorkSite

HOUSEHOLDS_PER_MUNICIPALITY = 1000
LOGS_PER_HOUSEHOLD = 40
PASSWORD = "bench-password-long-enough"  # noqa: S105 - a synthetic account on a throwaway database
CHUNK = 20_000


@dataclass
class Timing:
    median_ms: float
    p95_ms: float
    runs: int

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        ordered = sorted(seconds)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return cls(round(statistics.median(ordered) * 1000, 2), round(p95 * 1000, 2), len(ordered))


@dataclass
class ScaleResult:
    households: int
    municipalities: int
    work_logs: int
    generate_s: float
    list_page: Timing | None = None
    detail_page: Timing | None = None
    list_queries: int = 0
    detail_queries: int = 0
    list_floor: Timing | None = None
    detail_floor: Timing | None = None
    balance_check_s: float = 0.0
    balance_checked: int = 0
    import_rows: int = 0
    import_s: float = 0.0
    export_csv_s: float = 0.0
    export_csv_peak_mb: float = 0.0
    export_xlsx_s: float = 0.0
    export_xlsx_peak_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def list_ratio(self) -> float | None:
        if not self.list_page or not self.list_floor or not self.list_floor.median_ms:
            return None
        return round(self.list_page.median_ms / self.list_floor.median_ms, 1)

    @property
    def detail_ratio(self) -> float | None:
        if not self.detail_page or not self.detail_floor or not self.detail_floor.median_ms:
            return None
        return round(self.detail_page.median_ms / self.detail_floor.median_ms, 1)


# --- the synthetic register ----------------------------------------------------------------


def _insert(model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model), rows[start : start + CHUNK])


def _national_id(birth: date, serial: int) -> str:
    stem = f"{birth:%d%m}{birth.year % 1000:03d}49{serial % 1000:03d}"
    return stem + emso.calc_check_digit(stem)


def generate(households: int, today: date, seed: int = 7) -> tuple[int, int]:
    """Fill an empty, migrated database; returns (municipalities, work logs). Bulk inserts
    with explicit ids: minutes for 50.000 households, not hours."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    places = max(1, -(-households // HOUSEHOLDS_PER_MUNICIPALITY))
    hashed = generate_password_hash(PASSWORD)
    _insert(
        Municipality,
        [{"id": m, "code": f"M{m:04d}", "name": f"Општина {m}"} for m in range(1, places + 1)],
    )
    organizations = [
        {"id": 1, "municipality_id": None, "kind": "ngo", "name": "ЦГИ", "short_name": None},
        {"id": 2, "municipality_id": None, "kind": "creditor", "name": "EVN", "short_name": None},
        {"id": 3, "municipality_id": None, "kind": "creditor", "name": "ЈКП", "short_name": None},
    ] + [
        {
            "id": 3 + m,
            "municipality_id": m,
            "kind": "public_enterprise",
            "name": f"ЈКП {m}",
            "short_name": None,
        }
        for m in range(1, places + 1)
    ]
    _insert(Organization, organizations)
    users = [
        {
            "id": 1,
            "username": "bench",
            "full_name": "Bench Coordinator",
            "password_hash": hashed,
            "locale": "en",
            "active": True,
        }
    ]
    _insert(User, users)
    _insert(
        RoleAssignment,
        [
            {"user_id": 1, "role": "coordinator", "municipality_id": m, "organization_id": None}
            for m in range(1, places + 1)
        ],
    )
    started = today - timedelta(days=220)
    _insert(
        Programme,
        [
            {
                "id": m,
                "municipality_id": m,
                "ngo_id": 1,
                "name": f"Програма {m}",
                "starts_on": started,
                "budget_deni": 10**12,
                "hourly_value_deni": 100_00,
                "approval_threshold_deni": 25_000_00,
            }
            for m in range(1, places + 1)
        ],
    )
    _insert(
        ProgrammeCreditor,
        [{"programme_id": m, "organization_id": c} for m in range(1, places + 1) for c in (2, 3)],
    )
    _insert(
        WorkSite,
        [
            {
                "id": (m - 1) * 3 + s + 1,
                "municipality_id": m,
                "enterprise_id": 3 + m,
                "name": f"Локација {s + 1}",
            }
            for m in range(1, places + 1)
            for s in range(3)
        ],
    )
    member_id = log_id = 0
    for first in range(1, households + 1, 2_000):  # a batch at a time: bounded memory
        batch: dict[Any, list[dict[str, Any]]] = {model: [] for model in _ORDER}
        for h in range(first, min(first + 2_000, households + 1)):
            member_id, log_id = _household(batch, h, member_id, log_id, started, today, now, rng)
        for model in _ORDER:
            _insert(model, batch[model])
    _advance_sequences()
    db.session.commit()
    return places, log_id


_ORDER = (
    Household,
    Member,
    Enrollment,
    UtilityAccount,
    Arrear,
    PaymentRequest,
    Payment,
    Obligation,
    WorkLog,
)


def _household(
    batch: dict[Any, list[dict[str, Any]]],
    h: int,
    member_id: int,
    log_id: int,
    started: date,
    today: date,
    now: datetime,
    rng: random.Random,
) -> tuple[int, int]:
    """One family's rows: four members (two adults), an active enrollment, two paid debts
    with their obligations, and about 40 work logs, mostly verified."""
    household_rows, member_rows = batch[Household], batch[Member]
    enrollment_rows, account_rows = batch[Enrollment], batch[UtilityAccount]
    arrear_rows, request_rows = batch[Arrear], batch[PaymentRequest]
    payment_rows, obligation_rows, log_rows = batch[Payment], batch[Obligation], batch[WorkLog]
    m = (h - 1) // HOUSEHOLDS_PER_MUNICIPALITY + 1
    address = f"ул. Тестна бр. {h}"
    household_rows.append(
        {
            "id": h,
            "municipality_id": m,
            "case_number": f"M{m:04d}-{h:06d}",
            "address": address,
            "address_key": match_key(address),
            "settlement": "Населба",
            "phone": "",
            "language": "mk",
            "created_at": now,
        }
    )
    adults = []
    for relation, age, sex in (
        ("head", 45, "M"),
        ("spouse", 42, "F"),
        ("child", 15, "F"),
        ("child", 11, "M"),
    ):
        member_id += 1
        birth = today - timedelta(days=365 * age + rng.randrange(300))
        first, last = f"Име{member_id}", f"Презиме{h}"
        member_rows.append(
            {
                "id": member_id,
                "household_id": h,
                "first_name": first,
                "last_name": last,
                "name_key": match_key(first, last),
                "national_id": None,
                "birth_date": birth,
                "sex": sex,
                "relation": relation,
                "is_head": relation == "head",
            }
        )
        if age >= 18:
            adults.append(member_id)
    active_since = started + timedelta(days=rng.randrange(30))
    enrollment_rows.append(
        {
            "id": h,
            "household_id": h,
            "programme_id": m,
            "status": "active",
            "applied_on": started,
            "active_since": active_since,
            "created_at": now,
        }
    )
    paid_on = active_since + timedelta(days=10)
    for k, creditor in enumerate((2, 3)):
        key = 2 * h - 1 + k
        amount = rng.randrange(5_000, 40_000) * 100
        account_rows.append(
            {
                "id": key,
                "household_id": h,
                "creditor_id": creditor,
                "customer_number": f"{creditor}-{h:07d}",
                "created_by_id": 1,
                "created_at": now,
            }
        )
        arrear_rows.append(
            {
                "id": key,
                "account_id": key,
                "period_from": started - timedelta(days=365),
                "period_to": started,
                "principal_deni": amount,
                "penalty_deni": 0,
                "statement_ref": f"S-{key}",
                "received_on": started,
                "recorded_by_id": 1,
                "recorded_at": now,
            }
        )
        request_rows.append(
            {
                "id": key,
                "enrollment_id": h,
                "arrear_id": key,
                "amount_deni": amount,
                "status": "paid",
                "created_by_id": 1,
                "last_changed_by_id": 1,
                "approved_on": paid_on,
                "created_at": now,
                "approvals_count": 1,
                "approvals_needed": 1,
            }
        )
        payment_rows.append(
            {
                "id": key,
                "request_id": key,
                "paid_on": paid_on,
                "reference": f"P-{key}",
                "amount_deni": amount,
                "recorded_by_id": 1,
                "recorded_at": now,
            }
        )
        obligation_rows.append(
            {
                "id": key,
                "payment_id": key,
                "household_id": h,
                "enrollment_id": h,
                "minutes": amount * 60 // 100_00,
                "hourly_value_deni": 100_00,
                "starts_on": paid_on,
                "due_on": paid_on + timedelta(days=180),
            }
        )
    for n in range(LOGS_PER_HOUSEHOLD):
        log_id += 1
        day = paid_on + timedelta(days=1 + n * 4 + rng.randrange(3))
        if day > today:
            day = today - timedelta(days=rng.randrange(60))
        roll = rng.random()
        status = "verified" if roll < 0.85 else ("logged" if roll < 0.95 else "rejected")
        log_rows.append(
            {
                "id": log_id,
                "member_id": adults[n % len(adults)],
                "household_id": h,
                "enrollment_id": h,
                "site_id": (m - 1) * 3 + n % 3 + 1,
                "work_date": day,
                "start_minute": 480,
                "end_minute": 660,
                "minutes": 180,
                "task": "",
                "status": status,
                "rejection_reason": "",
                "logged_by_id": 1,
                "logged_at": now,
            }
        )
    return member_id, log_id


def _advance_sequences() -> None:
    """PostgreSQL hands out ids from sequences, which explicit ids do not move: move them."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key and table.c.id.autoincrement is not False:
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                    f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                )
            )


# --- measuring -----------------------------------------------------------------------------


@contextmanager
def _statements() -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements the app runs meanwhile, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def _record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", _record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", _record)


class _Browser:
    """A coordinator's browser over real HTTP: one keep-alive connection and its cookie."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> str:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        payload = None
        if body is not None:
            payload = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        content = response.read().decode("utf-8", "replace")
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}")
        return content

    def login(self) -> None:
        page = self.request("GET", "/login")
        found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        token = found.group(1) if found else ""
        self.request(
            "POST", "/login", {"csrf_token": token, "username": "bench", "password": PASSWORD}
        )


def _time_pages(
    app: Flask, paths: list[str], runs: int
) -> tuple[Timing, int, list[tuple[str, Any]]]:
    """Median and p95 of the pages over HTTP, the statements of one of them, and their count."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        browser = _Browser(server.server_port)
        browser.login()
        for path in paths[:3]:
            browser.request("GET", path)  # warm caches and compiled statements
        with app.app_context(), _statements() as statements:
            browser.request("GET", paths[0])
        captured = list(statements)
        seconds = []
        for n in range(runs):
            path = paths[n % len(paths)]
            started = time.perf_counter()
            browser.request("GET", path)
            seconds.append(time.perf_counter() - started)
        return Timing.of(seconds), len(captured), captured
    finally:
        server.shutdown()


_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"}


def _floor(app: Flask, statements: list[tuple[str, Any]], runs: int) -> Timing:
    """The page's own statements, replayed straight through the driver: what the database
    alone costs, without Flask, SQLAlchemy or templates."""
    seconds = []
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for _ in range(runs):
                started = time.perf_counter()
                for statement, parameters in statements:
                    if statement.split(None, 1)[0].upper() in _CONTROL:
                        continue  # the driver's own transaction is enough here
                    cursor.execute(statement, parameters)
                    cursor.fetchall()
                seconds.append(time.perf_counter() - started)
            raw.rollback()
        finally:
            raw.close()
    return Timing.of(seconds)


def _import_file(rows: int, today: date) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["household", "relation", "first name", "last name", "national id", "address"])
    for n in range(rows):
        family = n // 4 + 1
        birth = date(1960 + family % 40, 1 + family % 12, 1 + family % 28)
        relation = "head" if n % 4 == 0 else "child"
        born = birth if relation == "head" else date(2004 + n % 4, 1 + family % 12, 1 + n % 28)
        writer.writerow(
            [
                family,
                relation,
                f"Увоз{n}",
                f"Фамилија{family}",
                _national_id(born, n),
                f"ул. Увозна бр. {family}",
            ]
        )
    return out.getvalue().encode("utf-8")


def _timed_and_peak(work: Callable[[], None]) -> tuple[float, float]:
    """Seconds of one run, and the peak of Python memory (MB) in another."""
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        work()
        peak = tracemalloc.get_traced_memory()[1] / 1_000_000
    finally:
        tracemalloc.stop()
    return round(seconds, 1), round(peak, 1)


def measure(
    app: Flask,
    households: int,
    runs: int,
    say: Callable[[str], None],
    import_rows: int = 10_000,
) -> ScaleResult:
    """Build the register at this scale in the app's (empty, migrated) database and measure."""
    from casework.balances.services import run_check
    from casework.imports.services import run_import
    from casework.reports import services as reports

    with app.app_context():
        today = clock.today()  # the programme's day, in the app's zone
        say(f"generating {households} households")
        started = time.perf_counter()
        places, logs = generate(households, today)
        result = ScaleResult(households, places, logs, round(time.perf_counter() - started, 1))
    pages = max(1, households // app.config["CASEWORK"].page_size)
    list_paths = [f"/households/?page={p}" for p in sorted({1, pages // 2 or 1, pages})]
    detail_ids = [1, households // 2 or 1, households]
    say("timing the list and detail pages over HTTP")
    result.list_page, result.list_queries, list_sql = _time_pages(app, list_paths, runs)
    result.detail_page, result.detail_queries, detail_sql = _time_pages(
        app, [f"/households/{i}" for i in detail_ids], runs
    )
    result.list_floor = _floor(app, list_sql, runs)
    result.detail_floor = _floor(app, detail_sql, runs)
    with app.app_context():
        say("a balance check of every household")
        programmes = db.session.scalars(select(Programme).order_by(Programme.id)).all()
        started = time.perf_counter()
        for programme in programmes:
            result.balance_checked += run_check(programme, today, today=today).run.households
            db.session.commit()
        result.balance_check_s = round(time.perf_counter() - started, 2)
        say(f"an import of {import_rows} rows")
        actor = db.session.get_one(User, 1)
        content = _import_file(import_rows, today)
        started = time.perf_counter()
        report = run_import(
            actor,
            programmes[0],
            "households",
            "bench.csv",
            content,
            dry_run=False,
            today=today,
            max_bytes=10**8,
            max_rows=10**6,
        )
        db.session.commit()
        result.import_s = round(time.perf_counter() - started, 1)
        result.import_rows = len(report.rows)
        if not report.ok:
            result.notes.append(f"import: {report.counts['error']} rows refused")
        say("exports of every household")
        wanted = reports.ExportFilter(kind="households", fmt="csv")

        def to_csv() -> None:
            for _chunk in reports.stream_csv(reports.build_export(actor, wanted)):
                pass

        def to_xlsx() -> None:
            reports.write_xlsx(reports.build_export(actor, wanted), "households").unlink()

        # Timed without tracemalloc (it slows allocation-heavy code several times over), then
        # run again under it for the peak.
        result.export_csv_s, result.export_csv_peak_mb = _timed_and_peak(to_csv)
        result.export_xlsx_s, result.export_xlsx_peak_mb = _timed_and_peak(to_xlsx)
        total = db.session.scalar(select(func.count()).select_from(Household))
        result.notes.append(f"{total} households after the import")
    return result


def table(results: list[ScaleResult]) -> str:
    """The results side by side, one column per scale."""

    def fmt(value: Any) -> str:
        if isinstance(value, Timing):
            return f"{value.median_ms} / {value.p95_ms}"
        return "—" if value is None else str(value)

    rows = [
        ("households", lambda r: r.households),
        ("municipalities", lambda r: r.municipalities),
        ("work logs", lambda r: r.work_logs),
        ("generate (s)", lambda r: r.generate_s),
        ("list page ms (median / p95)", lambda r: r.list_page),
        ("list page SQL statements", lambda r: r.list_queries),
        ("list floor ms (bare driver)", lambda r: r.list_floor),
        ("list page ÷ floor", lambda r: r.list_ratio),
        ("detail page ms (median / p95)", lambda r: r.detail_page),
        ("detail page SQL statements", lambda r: r.detail_queries),
        ("detail floor ms (bare driver)", lambda r: r.detail_floor),
        ("detail page ÷ floor", lambda r: r.detail_ratio),
        ("balance check, all households (s)", lambda r: r.balance_check_s),
        ("import 10.000 rows (s)", lambda r: r.import_s),
        ("export CSV all households (s)", lambda r: r.export_csv_s),
        ("export CSV peak memory (MB)", lambda r: r.export_csv_peak_mb),
        ("export XLSX all households (s)", lambda r: r.export_xlsx_s),
        ("export XLSX peak memory (MB)", lambda r: r.export_xlsx_peak_mb),
    ]
    header = "| measure | " + " | ".join(f"{r.households:,}" for r in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    for name, get in rows:
        lines.append(f"| {name} | " + " | ".join(fmt(get(r)) for r in results) + " |")
    return "\n".join(lines)


def run(
    scales: list[int],
    runs: int,
    json_path: Path | None,
    say: Callable[[str], None],
    import_rows: int = 10_000,
) -> str:
    """Each scale in a fresh SQLite database in a temporary folder."""
    from flask_migrate import upgrade

    from casework import create_app
    from casework.config import from_env

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise here
    results = []
    for households in scales:
        with tempfile.TemporaryDirectory(prefix="casework-bench-") as folder:
            settings = from_env(
                database_url=f"sqlite:///{Path(folder) / 'bench.sqlite'}",
                instance_path=Path(folder),
                page_size=50,
                env="test",
                secret_key="bench-secret-key-" + "x" * 32,
            )
            app = create_app(settings)
            with app.app_context():
                upgrade()
            results.append(measure(app, households, runs, say, import_rows))
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    if json_path is not None:
        payload = [
            {**asdict(r), "list_ratio": r.list_ratio, "detail_ratio": r.detail_ratio}
            for r in results
        ]
        json_path.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    return table(results)

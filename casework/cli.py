"""The ``casework`` command: set-up, users, serving, and the demo."""

from __future__ import annotations

import contextlib
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select

from casework import clock, create_app
from casework.config import ConfigError
from casework.errors import DomainError
from casework.extensions import db
from casework.organizations.models import Municipality, Organization
from casework.security.models import Role, User
from casework.security.services import RoleGrant, create_user

if TYPE_CHECKING:
    from casework.balances.services import RunResult
    from casework.imports.parsing import RowResult
    from casework.imports.services import ImportReport
    from casework.programmes.models import Programme


def _make_app() -> Flask:
    try:
        return create_app()
    except ConfigError as error:
        click.echo(f"casework: configuration error: {error}", err=True)
        sys.exit(2)


@click.group(
    cls=FlaskGroup, create_app=_make_app, add_default_commands=False, add_version_option=False
)
def main() -> None:
    """casework: case manager for responsible social support programmes."""


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _refused(error: DomainError) -> NoReturn:
    """A service's refusal, named by the field (or the command) it is about."""
    _fail(f"{error.field or 'import'}: {error.message}")


def _not_after(day: datetime | None, today: date, option: str, why: str) -> date:
    """The date an option names (today when not given), which may not lie ahead."""
    chosen = day.date() if day else today
    if chosen > today:
        _fail(f"{option}: {why}")
    return chosen


@main.command()
@click.option("--admin-username", default="admin", show_default=True)
@click.option("--admin-name", default="Administrator", show_default=True)
@click.option(
    "--admin-password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Password of the first admin (asked for when not given).",
)
@with_appcontext
def init(admin_username: str, admin_name: str, admin_password: str) -> None:
    """Create or upgrade the database schema and the first admin."""
    upgrade()
    click.echo("Database schema is up to date.")
    if db.session.scalar(select(User.id).limit(1)) is not None:
        click.echo("Users exist already: no admin created.")
        return
    try:
        create_user(None, admin_username, admin_name, admin_password, [RoleGrant(Role.ADMIN, None)])
    except DomainError as error:
        db.session.rollback()
        _fail(f"{error.field or 'admin'}: {error.message}")
    db.session.commit()
    click.echo(f"Admin {admin_username!r} created.")


@main.group()
def user() -> None:
    """Manage user accounts."""


@user.command("create")
@click.argument("username")
@click.option("--full-name", required=True)
@click.option("--role", "role_name", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--municipality", "municipality_code", help="Municipality code, e.g. KIC.")
@click.option(
    "--organization",
    "organization_name",
    help="For a supervisor: the name of its public enterprise.",
)
@click.option("--email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def user_create(
    username: str,
    full_name: str,
    role_name: str,
    municipality_code: str | None,
    organization_name: str | None,
    email: str | None,
    password: str,
) -> None:
    """Create a user holding one role (in one municipality, except a global admin)."""
    role = Role(role_name)
    municipality = None
    if municipality_code:
        municipality = db.session.scalar(
            select(Municipality).where(Municipality.code == municipality_code.upper())
        )
        if municipality is None:
            _fail(f"municipality: no municipality with code {municipality_code!r}")
    organization = None
    if organization_name:
        organization = db.session.scalar(
            select(Organization).where(Organization.name == organization_name)
        )
        if organization is None:
            _fail(f"organization: no organisation named {organization_name!r}")
    try:
        create_user(
            None,
            username,
            full_name,
            password,
            [RoleGrant(role, municipality, organization)],
            email=email,
        )
    except DomainError as error:
        db.session.rollback()
        _fail(f"{error.field or 'user'}: {error.message}")
    db.session.commit()
    click.echo(
        f"User {username!r} created as {role.value}"
        + (f" in {municipality.code}." if municipality else ".")
    )


@main.group()
def translations() -> None:
    """Keep the message catalogues in step with the code."""


@translations.command("update")
def translations_update() -> None:
    """Extract marked strings and add the new ones, untranslated, to every catalogue."""
    from casework.i18n import update_catalogues

    update_catalogues()
    click.echo("Catalogues updated: translate the new entries (the tests list them).")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Serve the app (for production use gunicorn, see the README)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    from werkzeug.serving import run_simple

    click.echo(f"casework on http://{host}:{port}/  (Ctrl+C stops)")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command("check-balances")
@click.option("--programme", "programme_id", type=int, help="One programme (default: all).")
@click.option(
    "--date",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Check as of this date (default: today).",
)
@with_appcontext
def check_balances(programme_id: int | None, as_of: datetime | None) -> None:
    """Check every active family's balance now (the scheduler does this on schedule)."""
    from casework.balances.models import Trigger
    from casework.balances.services import run_check

    today = clock.today()
    day = _not_after(as_of, today, "--date", "a balance check cannot be dated in the future.")
    programmes = _programmes(programme_id)
    rows = []
    with click.progressbar(programmes, label="Checking balances") as bar:
        for programme in bar:
            result = run_check(programme, day, today=today, trigger=Trigger.MANUAL)
            db.session.commit()
            counts: dict[str, int] = {}
            for snapshot in result.run.snapshots:
                counts[snapshot.status] = counts.get(snapshot.status, 0) + 1
            rows.append((programme, result, counts))
    _print_checks(rows)


def _programmes(programme_id: int | None) -> list[Programme]:
    """Every programme, or the one asked for (which must exist)."""
    from casework.programmes.models import Programme

    query = select(Programme).order_by(Programme.id)
    if programme_id is not None:
        query = query.where(Programme.id == programme_id)
    programmes = list(db.session.scalars(query))
    if programme_id is not None and not programmes:
        _fail(f"--programme: there is no programme {programme_id}.")
    return programmes


def _print_checks(rows: list[tuple[Programme, RunResult, dict[str, int]]]) -> None:
    click.echo(f"{'programme':<50} {'run':>5}  {'households':>10}  by status")
    for programme, result, counts in rows:
        note = "" if result.created else "  (already checked that day: nothing changed)"
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        click.echo(
            f"{programme.name[:50]:<50} {result.run.id:>5}  {result.run.households:>10}  "
            f"{summary}{note}"
        )


@main.command("import")
@click.argument("kind", type=click.Choice(["households", "arrears"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--programme", "programme_id", type=int, required=True, help="The programme's id.")
@click.option(
    "--user",
    "username",
    required=True,
    help="The coordinator the import is made by (its rights apply; the audit names it).",
)
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option(
    "--errors",
    "errors_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the rows with errors here (CSV with an error column), to fix and re-import.",
)
@with_appcontext
def import_file(
    kind: str,
    file: Path,
    programme_id: int,
    username: str,
    dry_run: bool,
    errors_path: Path | None,
) -> None:
    """Import households (with members and applications) or creditors' statements from a CSV
    or XLSX file: every row or none."""
    from flask_babel import force_locale

    from casework.imports import services as import_services

    actor, programme = _importer(username, programme_id)
    content = file.read_bytes()
    label = "Importing" if not dry_run else "Checking"
    with force_locale(actor.locale or "mk"):
        rows = _row_count(file.name, content)
    with force_locale(actor.locale or "mk"), click.progressbar(length=rows, label=label) as bar:
        try:
            report = import_services.run_import(
                actor,
                programme,
                kind,
                file.name,
                content,
                dry_run=dry_run,
                today=clock.today(),
                progress=bar.update,
                **_import_limits(),
            )
        except DomainError as error:
            db.session.rollback()
            _refused(error)
        db.session.commit()
        errors = _show_errors(report, kind)
        if errors and errors_path is not None:
            _write_error_rows(report, file.name, content, errors_path)
    counts = report.counts
    summary = (
        f"{counts['create']} to create, {counts['update']} to update, "
        f"{counts['unchanged']} unchanged, {counts['error']} with errors"
    )
    if errors:
        _fail(f"Nothing was imported: {summary}.")
    if dry_run:
        click.echo(f"Dry run, nothing written: {summary}.")
    elif report.imported:
        click.echo(f"Imported {file.name} (sha256 {report.sha256[:12]}): {summary}.")
    else:
        click.echo(f"Nothing to import: every row matches what is stored ({summary}).")


def _importer(username: str, programme_id: int) -> tuple[User, Programme]:
    """The active user the import is made by, and the programme it goes into."""
    from casework.programmes.models import Programme

    actor = db.session.scalar(select(User).where(User.username == username))
    programme = db.session.get(Programme, programme_id)
    if actor is None or not actor.is_active:
        _fail(f"--user: there is no active user {username!r}.")
    if programme is None:
        _fail(f"--programme: there is no programme {programme_id}.")
    return actor, programme


def _import_limits() -> dict[str, Any]:
    settings = current_app.config["CASEWORK"]
    return {"max_bytes": settings.import_max_bytes, "max_rows": settings.import_max_rows}


def _row_count(filename: str, content: bytes) -> int:
    """The file's rows, for the progress bar (1 for a file too large: the import refuses it)."""
    from casework.imports.files import read_table

    limits = _import_limits()
    if len(content) > limits["max_bytes"]:
        return 1
    try:
        return len(read_table(filename, content, max_rows=limits["max_rows"]).rows)
    except DomainError as error:
        _refused(error)


def _show_errors(report: ImportReport, kind: str) -> list[RowResult]:
    """Print the first fifty failed rows' reasons; the failed rows."""
    from casework.imports import services as import_services

    titles = import_services.column_titles(kind)
    errors = [r for r in report.rows if r.action == import_services.ERROR]
    for row in errors[:50]:
        for column, message in row.errors.items():
            click.echo(f"row {row.line}, {titles.get(column, 'row')}: {message}", err=True)
    if len(errors) > 50:
        click.echo(f"... and {len(errors) - 50} more rows with errors", err=True)
    return errors


def _write_error_rows(report: ImportReport, filename: str, content: bytes, path: Path) -> None:
    from casework.imports import services as import_services
    from casework.imports.files import read_table

    table = read_table(filename, content, max_rows=_import_limits()["max_rows"])
    path.write_text(import_services.error_rows_csv(table, report), encoding="utf-8")
    click.echo(f"The rows with errors are in {path}.", err=True)


@main.command()
@click.option("--households", type=click.IntRange(10), help="One scale (default 10000).")
@click.option("--scales", help="Several scales to compare, e.g. 1000,10000,50000.")
@click.option("--runs", default=20, show_default=True, type=click.IntRange(3), help="Per page.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the results here.",
)
def bench(households: int | None, scales: str | None, runs: int, json_path: Path | None) -> None:
    """Measure pages, balance checks, import and exports on a synthetic register (each scale
    in a fresh temporary SQLite database; your data is not touched)."""
    from casework.bench import run as run_bench

    try:
        sizes = [int(s) for s in scales.split(",")] if scales else [households or 10_000]
    except ValueError:
        _fail("--scales: give whole numbers separated by commas, e.g. 1000,10000,50000.")
    if any(size < 10 for size in sizes):
        _fail("--scales: each scale is at least 10 households.")
    started = time.perf_counter()
    result = run_bench(sizes, runs, json_path, lambda line: click.echo(f"… {line}", err=True))
    click.echo(result)
    click.echo(f"(took {time.perf_counter() - started:.0f} s)")


@main.group()
def token() -> None:
    """Personal API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="command line", show_default=True, help="What will use it.")
@with_appcontext
def token_create(username: str, name: str) -> None:
    """Create an API token for USERNAME and print it (once: only its hash is kept)."""
    from casework.api.services import create_token

    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        _fail(f"username: no user {username!r}.")
    try:
        made, secret = create_token(user, user, name)
    except DomainError as error:
        db.session.rollback()
        _fail(f"{error.field or 'token'}: {error.message}")
    db.session.commit()
    click.echo(f"Token {made.id} for {user.username} ({made.name}):", err=True)
    click.echo(secret)


@token.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke(token_id: int) -> None:
    """Revoke the API token with this id: programs using it are refused at once."""
    from casework.api.models import ApiToken
    from casework.api.services import revoke_token
    from casework.db import utcnow

    found = db.session.get(ApiToken, token_id)
    if found is None:
        _fail(f"token: no token {token_id}.")
    revoke_token(found.user, found, now=utcnow())
    db.session.commit()
    click.echo(f"Token {token_id} of {found.user.username} revoked.")


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Recompute the audit trail's hash chain; name the first entry edited, deleted or added
    behind the app's back (exit status 1)."""
    from casework.audit.services import verify_chain

    report = verify_chain()
    if report.broken_event_id is not None:
        _fail(
            f"the audit trail is broken at entry {report.broken_event_id}: {report.reason} "
            f"({report.checked} entries before it are intact)."
        )
    if report.unlinked:
        _fail(f"{report.reason} ({report.checked} chained entries are intact).")
    click.echo(
        f"The audit trail is intact: {report.checked} entries, each chained to the one before."
    )


@main.command()
@click.option(
    "--interval-seconds",
    type=click.IntRange(1, 86400),
    hidden=True,
    help="Check every programme at this interval instead of its schedule (tests).",
)
@with_appcontext
def scheduler(interval_seconds: int | None) -> None:
    """Run the balance checks on each programme's schedule (one process; Ctrl+C stops)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from casework.balances.scheduler import configure

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    blocking = BlockingScheduler(timezone="UTC")
    configure(app, blocking, interval_seconds)
    click.echo("casework scheduler: balance checks on each programme's schedule (Ctrl+C stops)")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        blocking.start()


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@with_appcontext
def backup_command(file: Path, force: bool) -> None:
    """Copy the database to FILE, consistently, while the app runs (SQLite's online backup;
    pg_dump on PostgreSQL)."""
    from casework.ops.services import BackupError, backup

    try:
        made = backup(db.engine.url, file, overwrite=force)
    except BackupError as error:
        _fail(str(error))
    tables = f", {made.tables} tables" if made.tables >= 0 else ""
    click.echo(f"Backup written to {made.path} ({made.size_bytes:,} bytes{tables}).")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite a database that holds data (it is lost).")
@with_appcontext
def restore_command(file: Path, replace: bool) -> None:
    """Load a backup made by `casework backup` into the configured, empty database. Stop
    the web app, the scheduler and the workers first."""
    from casework.ops.services import BackupError, restore

    try:
        tables = restore(db.engine, file, replace=replace)
    except BackupError as error:
        _fail(str(error))
    upgrade()  # a backup from an older version is brought up to this one's schema
    click.echo(f"Restored {tables} tables from {file}; the schema is up to date.")
    click.echo("Check it with `casework audit verify`, then start the app.")


@main.command("check-config")
@with_appcontext
def check_config() -> None:
    """Report what this environment lacks for production (exit status 1 on an error)."""
    from casework.db import utcnow
    from casework.ops.services import configuration_findings

    findings = configuration_findings(current_app.config["CASEWORK"], now=utcnow())
    for finding in findings:
        click.echo(f"{finding.level:<8} {finding.variable}: {finding.message}")
    errors = sum(1 for f in findings if f.level == "error")
    if errors:
        _fail(f"{errors} problems to fix before production.")
    click.echo("Ready for production." if not findings else "No errors; see the warnings.")


@main.command()
@click.option("--once", is_flag=True, help="Run what is queued, then exit.")
@click.option(
    "--poll-seconds",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.05, 60),
    help="How often to look for new jobs when none is queued.",
)
@with_appcontext
def worker(once: bool, poll_seconds: float) -> None:
    """Run long jobs (large imports, balance checks started from the web), one at a time.
    Run several, on one machine or several: each job is claimed by exactly one."""
    import signal
    import threading

    from casework.jobs.worker import work

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()  # the running job finishes first (a job is all or nothing anyway)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if not once:
        click.echo("casework worker: waiting for jobs (Ctrl+C stops after the running job)")
    done = work(app, once=once, poll_seconds=poll_seconds, stop=stop)
    if once:
        click.echo(f"{done} jobs run.")


@main.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file to (re)create (default: demo.sqlite in the instance folder).",
)
@click.option(
    "--password", default="casework-demo", show_default=True, help="Password of every demo user."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Fill the database and exit.")
def demo(db_path: Path | None, password: str, host: str, port: int, no_serve: bool) -> None:
    """Create a demo database with the Kičevo pilot and serve it."""
    from casework.config import from_env
    from casework.demo.data import fill_demo

    if db_path is None:
        try:
            db_path = from_env().instance_path / "demo.sqlite"
        except ConfigError as error:
            _fail(str(error))
    db_path = db_path.resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    try:
        app = create_app(database_url=f"sqlite:///{db_path}")
    except ConfigError as error:
        _fail(str(error))
    with app.app_context():
        upgrade()
        try:
            summary = fill_demo(password=password)
        except DomainError as error:
            _fail(f"{error.field}: {error.message}")
        db.session.commit()
    click.echo(f"Demo database: {db_path}")
    click.echo(summary)
    click.echo(f"Every demo user's password: {password}")
    if no_serve:
        return
    import threading

    from apscheduler.schedulers.background import BackgroundScheduler
    from werkzeug.serving import run_simple

    from casework.balances.scheduler import configure
    from casework.jobs.worker import work

    # The single-process convenience: in production the scheduler and the worker are their
    # own processes.
    background = BackgroundScheduler(timezone="UTC")
    configure(app, background)
    background.start()
    stop = threading.Event()
    jobs_thread = threading.Thread(
        target=work, args=(app,), kwargs={"stop": stop}, name="casework-worker", daemon=True
    )
    jobs_thread.start()
    click.echo("The scheduler and the job worker run in this process too (demo only).")
    click.echo(f"casework demo on http://{host}:{port}/  (Ctrl+C stops)")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()
        background.shutdown(wait=False)


@main.command()
@click.option("--dry-run", is_flag=True, help="List the households due; change nothing.")
@click.option(
    "--today",
    "today_at",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Count the retention periods up to this date (default: today).",
)
@with_appcontext
def retention(dry_run: bool, today_at: datetime | None) -> None:
    """Anonymise the households whose programme's retention period has run out: names,
    national IDs, contact details and free text go; case numbers, money and hours stay."""
    from casework.db import utcnow
    from casework.privacy.services import apply_retention, households_due_for_retention

    today = _not_after(
        today_at, clock.today(), "--today", "retention periods cannot be counted to a future date."
    )
    due = households_due_for_retention(today)
    for item in due:  # case numbers only: names are what this command removes
        click.echo(f"{item.household.case_number}  last enrollment ended {item.ended_on}")
    if dry_run:
        db.session.rollback()
        click.echo(f"Dry run, nothing written: {len(due)} households due for anonymisation.")
        return
    if not due:
        click.echo("No household is due for anonymisation.")
        return
    try:
        with click.progressbar(due, label="Anonymising") as bar:
            count = apply_retention(bar, utcnow())
    except DomainError as error:
        db.session.rollback()
        _fail(f"nothing was anonymised: {error.message}")
    except LookupError as error:  # a column nobody has decided about (privacy.ANONYMISATION)
        db.session.rollback()
        _fail(f"nothing was anonymised: {error}")
    db.session.commit()
    click.echo(f"Anonymised {count} households.")

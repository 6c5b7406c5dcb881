"""Running casework: readiness and heartbeats (what a load balancer or a monitor asks), and
backup and restore."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, delete, func, inspect, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from casework.config import MIGRATIONS_DIR, Settings
from casework.db import read_only
from casework.extensions import db
from casework.ops.models import Heartbeat

# A process beats every minute; one that missed three is taken as stopped.
HEARTBEAT_STALE = timedelta(minutes=3)
KINDS = ("scheduler", "worker")


@cache
def migration_heads() -> frozenset[str]:
    """The revisions the code expects (read from the migration scripts once per process)."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return frozenset(script.get_heads())


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def beat(kind: str, now: datetime) -> None:
    """Record that this process is alive (and forget processes silent for a day)."""
    instance = instance_name()
    changed = db.session.execute(
        update(Heartbeat)
        .where(Heartbeat.kind == kind, Heartbeat.instance == instance)
        .values(beat_at=now)
        .execution_options(synchronize_session=False)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        db.session.add(Heartbeat(kind=kind, instance=instance, beat_at=now))
    db.session.execute(
        delete(Heartbeat)
        .where(Heartbeat.kind == kind, Heartbeat.beat_at < now - timedelta(days=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def seen_recently(kind: str, now: datetime) -> bool:
    """Whether a process of this kind (a worker, the scheduler) beat in the last minutes."""
    last = db.session.scalar(select(func.max(Heartbeat.beat_at)).where(Heartbeat.kind == kind))
    return last is not None and now - last <= HEARTBEAT_STALE


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(value in ("ok", "not expected") for value in self.checks.values())


def readiness(settings: Settings, now: datetime) -> Readiness:
    """Words only ("ok", "unavailable", "behind", "stale"): the answer is public."""
    checks: dict[str, str] = {}
    expected = {"scheduler": settings.expect_scheduler, "worker": settings.expect_worker}
    try:
        with read_only():
            db.session.execute(text("SELECT 1"))
            checks["database"] = "ok"
            revisions = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
            checks["migrations"] = "ok" if revisions == migration_heads() else "behind"
            for kind in KINDS:
                if not expected[kind]:
                    checks[kind] = "not expected"
                else:
                    checks[kind] = "ok" if seen_recently(kind, now) else "stale"
            db.session.rollback()
    except SQLAlchemyError:
        db.session.rollback()
        checks.setdefault("database", "unavailable")
        checks.setdefault("migrations", "unknown")
        for kind in KINDS:
            checks.setdefault(kind, "not expected" if not expected[kind] else "unknown")
        if checks["database"] == "ok":  # answered, but a table is missing: not migrated
            checks["migrations"] = "behind"
    return Readiness(checks)


# --- backup and restore -------------------------------------------------------------------------

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; nothing was changed."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    tables: int


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("the configured SQLite database is not a file")
    return Path(url.database)


def _read_only_sqlite(path: Path) -> sqlite3.Connection:
    """Opened read-only, so that reading a backup (or the live database) can change neither."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore: on the PATH, or the newest of Debian's versioned folders."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise BackupError(f"{name} is not installed (Debian: apt install postgresql-client)")
    return str(candidates[-1])


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password (which goes in the environment, not on a
    command line that ``ps`` shows)."""
    plain = url.set(drivername="postgresql", password=None)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return plain.render_as_string(hide_password=False), env


def backup(url: URL, target: Path, *, overwrite: bool = False) -> BackupResult:
    """A consistent copy while the app runs: SQLite's online backup, or ``pg_dump``'s
    snapshot in its custom format (compressed; ``pg_restore`` reads it)."""
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists already: choose another file (or --force)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if url.get_backend_name() == "sqlite":
        source = _read_only_sqlite(_sqlite_path(url))
        try:
            copy = sqlite3.connect(partial)
            with copy:
                source.backup(copy)
            tables = copy.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
            copy.close()
        except sqlite3.Error as error:
            partial.unlink(missing_ok=True)
            raise BackupError(f"the database could not be read: {error}") from None
        finally:
            source.close()
    else:
        uri, env = _libpq(url)
        done = subprocess.run(  # noqa: S603 - our own arguments
            [pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", uri],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
        tables = -1
    partial.replace(target)
    return BackupResult(target, target.stat().st_size, tables)


def backup_kind(path: Path) -> str:
    """ "sqlite" or "postgresql", from the file's first bytes; BackupError for anything else."""
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as error:
        raise BackupError(f"{path} cannot be read: {error.strerror}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupError(
        f"{path} is not a casework backup (neither an SQLite database nor a pg_dump archive)"
    )


def _user_tables(engine: Engine) -> list[str]:
    return [name for name in inspect(engine).get_table_names() if not name.startswith("sqlite_")]


def restore(engine: Engine, source: Path, *, replace: bool = False) -> int:
    """Load a backup into the configured database, which must be empty unless ``replace``.
    Returns the number of tables restored. Stop the app and its workers first."""
    url = engine.url
    kind = backup_kind(source)
    if kind != url.get_backend_name():
        raise BackupError(
            f"{source} is a backup of a {kind} database; the configured database is "
            f"{url.get_backend_name()}: restore it into a database of its own kind"
        )
    if kind == "sqlite":
        _check_sqlite_backup(source)
    existing = _user_tables(engine)
    if existing and not replace:
        raise BackupError(
            f"the database is not empty ({len(existing)} tables): restore into an empty "
            "database, or pass --replace to overwrite it"
        )
    engine.dispose()
    if kind == "sqlite":
        backup_db = _read_only_sqlite(source)
        _sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(_sqlite_path(url))
        try:
            with target:
                backup_db.backup(target)  # replaces every page: the old content goes
        finally:
            backup_db.close()
            target.close()
    else:
        uri, env = _libpq(url)
        if existing:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        done = subprocess.run(  # noqa: S603 - our own arguments
            [
                pg_tool("pg_restore"),
                "--no-owner",
                "--exit-on-error",
                f"--dbname={uri}",
                str(source),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
    restored = _user_tables(engine)
    if "alembic_version" not in restored:
        raise BackupError(f"{source} holds no casework schema (no alembic_version table)")
    return len(restored)


def _check_sqlite_backup(source: Path) -> None:
    try:
        conn = _read_only_sqlite(source)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} is damaged (SQLite's integrity check fails)")
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{source} cannot be read as a database: {error}") from None
    if found is None:
        raise BackupError(f"{source} holds no casework schema (no alembic_version table)")


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    level: str  # "error": production must not run so; "warning": works, but see the message
    variable: str
    message: str


def configuration_findings(settings: Settings, *, now: datetime) -> list[Finding]:
    """What a production environment lacks (``casework check-config``): the settings first,
    then what the running system answers."""
    return [*_settings_findings(settings), *_system_findings(settings, now)]


def _settings_findings(settings: Settings) -> list[Finding]:
    """What the values themselves say, without asking anything."""
    checks = [
        (
            not settings.is_production,
            Finding(
                "error", "CASEWORK_ENV", "is not 'production': cookies are not Secure, no HSTS"
            ),
        ),
        (
            not settings.database_url,
            Finding(
                "warning",
                "CASEWORK_DATABASE_URL",
                "not set: the embedded SQLite file is used (one machine, one writer at a time); "
                "PostgreSQL is the production database",
            ),
        ),
        (
            not settings.smtp_url,
            Finding(
                "warning", "CASEWORK_SMTP_URL", "not set: alerts and digests stay in the outbox"
            ),
        ),
        (
            settings.mail_from.endswith("@localhost"),
            Finding(
                "warning",
                "CASEWORK_MAIL_FROM",
                "still the default: receiving servers may refuse it",
            ),
        ),
        (
            not settings.expect_scheduler,
            Finding(
                "warning",
                "CASEWORK_EXPECT_SCHEDULER",
                "not set: /readyz does not check that `casework scheduler` runs",
            ),
        ),
        (
            not settings.expect_worker,
            Finding(
                "warning",
                "CASEWORK_EXPECT_WORKER",
                "not set: /readyz does not check that `casework worker` runs",
            ),
        ),
        (
            settings.log_format != "json",
            Finding("warning", "CASEWORK_LOG_FORMAT", "text: set json for a log collector"),
        ),
        (
            settings.trusted_proxies == 0,
            Finding(
                "warning",
                "CASEWORK_TRUSTED_PROXIES",
                "0: behind a reverse proxy set it to the number of proxies, or the log-in "
                "throttle counts the proxy's address",
            ),
        ),
    ]
    return [finding for failed, finding in checks if failed]


def _system_findings(settings: Settings, now: datetime) -> list[Finding]:
    """What the instance folder, the backup tools, the database and the processes answer."""
    found: list[Finding] = []
    if not os.access(settings.instance_path, os.W_OK):
        found.append(
            Finding("error", "CASEWORK_INSTANCE_PATH", f"{settings.instance_path} is not writable")
        )
    if settings.is_postgresql:
        try:
            pg_tool("pg_dump")
        except BackupError as error:
            found.append(Finding("warning", "backups", str(error)))
    ready = readiness(settings, now)
    if ready.checks["database"] != "ok":
        found.append(Finding("error", "CASEWORK_DATABASE_URL", "the database does not answer"))
    elif ready.checks["migrations"] != "ok":
        found.append(
            Finding(
                "error", "migrations", "the schema is behind the code: run `casework db upgrade`"
            )
        )
    found.extend(
        Finding("error", f"casework {kind}", "expected, but has not beaten in 3 minutes")
        for kind in KINDS
        if ready.checks[kind] == "stale"
    )
    return found

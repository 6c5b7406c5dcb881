"""Importing families and debts from the lists municipalities and utilities already keep.

The public entry of the import: the file is read (``files``), its rows parsed into records
(``parsing``), matched with the register (``matching``) and applied through the very services
the forms call (``applying``). The whole import runs inside one savepoint: a dry run always
rolls it back, and a real import keeps it only when no row failed. All or nothing, and nothing
checked twice in two different ways. Here too: the uploads kept between the dry run and the
import, and the worker's jobs for large files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select, text, update

from casework.audit.services import record
from casework.db import utcnow
from casework.errors import ConflictError, PermissionDenied, ValidationError
from casework.extensions import db
from casework.formatting import csv_cell
from casework.households.models import Household
from casework.imports.applying import ImportRun, import_arrears, import_households
from casework.imports.files import Table, map_columns, read_table
from casework.imports.models import ImportUpload, Kind
from casework.imports.parsing import (
    ARREAR_COLUMNS,
    COLUMNS,
    CREATE,
    ERROR,
    HOUSEHOLD_COLUMNS,
    UNCHANGED,
    UPDATE,
    Row,
    RowResult,
    rows_of,
)
from casework.jobs import services as jobs
from casework.jobs.models import Job, JobKind
from casework.jobs.services import Outcome, Progress
from casework.payments.models import Arrear, UtilityAccount
from casework.programmes.models import Programme
from casework.security import policies
from casework.security.models import User

__all__ = [
    "ARREAR_COLUMNS",
    "COLUMNS",
    "CREATE",
    "ERROR",
    "HOUSEHOLD_COLUMNS",
    "UNCHANGED",
    "UPDATE",
    "ImportReport",
    "RowResult",
    "checksum",
    "column_titles",
    "describe_import",
    "error_rows_csv",
    "import_upload",
    "run_import",
    "start_job",
    "store_unchecked_upload",
    "store_upload",
    "stored_count",
    "template_csv",
]

Importer = Callable[[ImportRun, list[Row]], list[RowResult]]
IMPORTERS: dict[str, Importer] = {
    Kind.HOUSEHOLDS: import_households,
    Kind.ARREARS: import_arrears,
}


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do) to each row; kept as JSON on the upload
    so the report page shows it without reading the file again."""

    kind: str
    filename: str
    sha256: str
    rows: list[RowResult] = field(default_factory=list)
    dry_run: bool = True
    imported: bool = False

    @property
    def ok(self) -> bool:
        return not any(r.action == ERROR for r in self.rows)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((CREATE, UPDATE, UNCHANGED, ERROR), 0)
        for row in self.rows:
            counts[row.action] += 1
        return counts

    @property
    def changes_anything(self) -> bool:
        return any(r.action in (CREATE, UPDATE) for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "counts": self.counts}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportReport:
        rows = [RowResult(**row) for row in data.get("rows", [])]
        values = {k: data[k] for k in ("kind", "filename", "sha256", "dry_run", "imported")}
        return cls(rows=rows, **values)


def checksum(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def run_import(
    actor: User,
    programme: Programme,
    kind: str,
    filename: str,
    content: bytes,
    *,
    dry_run: bool,
    today: date,
    max_bytes: int,
    max_rows: int,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check every row of the file and apply it; keep the result only for a real import in
    which no row failed. A file that cannot be read at all raises ValidationError("file")."""
    if not policies.can_import(actor, programme):
        raise PermissionDenied()
    _check_file(kind, content, max_bytes)
    table = read_table(filename, content, max_rows=max_rows)
    positions = map_columns(COLUMNS[kind], table.headers)
    report = ImportReport(kind=kind, filename=filename, sha256=checksum(content), dry_run=dry_run)
    whole = db.session.begin_nested()
    try:
        run = ImportRun(actor, programme, today, _refreshing_statistics(progress or _quiet))
        report.rows = IMPORTERS[kind](run, rows_of(table, positions))
    except BaseException:
        whole.rollback()
        raise
    if dry_run or not report.ok:
        whole.rollback()
        return report
    whole.commit()
    if report.changes_anything:
        report.imported = True
        record(
            actor,
            f"import.{kind}",
            "programme",
            programme.id,
            municipality_id=programme.municipality_id,
            changes={
                "file": filename,
                "sha256": report.sha256,
                "rows": len(report.rows),
                "counts": report.counts,
            },
        )
    return report


def _check_file(kind: str, content: bytes, max_bytes: int) -> None:
    """A file the import can take: of a known kind, and not too large to read."""
    if kind not in COLUMNS:
        raise ValidationError(_("Choose what the file holds."), "kind")
    if len(content) > max_bytes:
        raise ValidationError(
            _(
                "The file is larger than %(mb)s MB: split it into smaller files.",
                mb=f"{max_bytes / 1_000_000:g}",
            ),
            "file",
        )


def _quiet(rows_done: int) -> None:
    pass


# The tables an import fills, whose statistics the planner needs while it fills them.
_FILLED = (
    "households",
    "members",
    "enrollments",
    "enrollment_events",
    "duplicate_reviews",
    "utility_accounts",
    "arrears",
    "audit_events",
    "household_keys",
)
ANALYZE_EVERY_ROWS = 1_000


def _refreshing_statistics(progress: Callable[[int], None]) -> Callable[[int], None]:
    """PostgreSQL plans each lookup from the table's statistics, which an import that fills
    the table in one transaction leaves behind: a table last seen empty (after a rolled-back
    dry run, say) is planned as one row, and every lookup then scans all the rows added so far.
    ANALYZE inside the transaction counts its own new rows; every thousand rows keeps the plans
    on the indexes. SQLite plans without such statistics."""
    if db.session.get_bind().dialect.name != "postgresql":
        return progress
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        before, done = done, done + rows
        if before // ANALYZE_EVERY_ROWS != done // ANALYZE_EVERY_ROWS:
            db.session.execute(text(f"ANALYZE {', '.join(_FILLED)}"))
        progress(rows)

    return advance


def column_titles(kind: str) -> dict[str, str]:
    """Column key → its title in the user's language, to name a refused cell."""
    return {c.key: str(c.label) for c in COLUMNS[kind]}


def template_csv(kind: str) -> str:
    """The header row of an import template, in the user's language, for Excel (BOM, ';')."""
    return "\ufeff" + ";".join(str(c.label) for c in COLUMNS[kind]) + "\r\n"


def error_rows_csv(table: Table, report: ImportReport) -> str:
    """The failed rows as they came, plus a column saying what to fix, to correct and re-import."""
    import csv
    import io

    failed = {r.line: r for r in report.rows if r.action == ERROR}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([*table.headers, str(_("Error"))])
    titles = column_titles(report.kind)
    for line, cells in table.rows:
        result = failed.get(line)
        if result is None:
            continue
        reasons = "; ".join(
            f"{titles.get(column, str(_('Row')))}: {message}" if column else message
            for column, message in result.errors.items()
        )
        writer.writerow([*(csv_cell(c) for c in cells), f"{_('Row')} {line}: {reasons}"])
    return "\ufeff" + out.getvalue()


def stored_count(kind: str, programme: Programme) -> int:
    """How many records of the kind the programme's municipality holds (for the page)."""
    if kind == Kind.HOUSEHOLDS:
        query = select(func.count(Household.id)).where(
            Household.municipality_id == programme.municipality_id
        )
    else:
        query = (
            select(func.count(Arrear.id))
            .join(UtilityAccount, UtilityAccount.id == Arrear.account_id)
            .join(Household, Household.id == UtilityAccount.household_id)
            .where(Household.municipality_id == programme.municipality_id)
        )
    return db.session.scalar(query) or 0


# --- uploads between the dry run and the import -----------------------------------------------


def store_upload(
    actor: User, programme: Programme, report: ImportReport, content: bytes
) -> ImportUpload:
    """Keep the file and its dry run until the user confirms. The same person's older files
    for the programme are dropped: only the newest can still be imported."""
    return _keep(actor, programme, report.kind, report.filename, content, report.to_json())


def store_unchecked_upload(
    actor: User, programme: Programme, kind: str, filename: str, content: bytes, *, max_bytes: int
) -> ImportUpload:
    """Keep a large file for the worker to check (the report comes with the job)."""
    _check_file(kind, content, max_bytes)
    return _keep(actor, programme, kind, filename, content, {})


def _keep(
    actor: User,
    programme: Programme,
    kind: str,
    filename: str,
    content: bytes,
    report: dict[str, Any],
) -> ImportUpload:
    if not policies.can_import(actor, programme):
        raise PermissionDenied()
    db.session.execute(
        update(ImportUpload)
        .where(
            ImportUpload.uploaded_by_id == actor.id,
            ImportUpload.programme_id == programme.id,
            ImportUpload.content.is_not(None),
        )
        .values(content=None)
    )
    upload = ImportUpload(
        programme_id=programme.id,
        kind=Kind(kind),
        filename=filename[:200],
        sha256=checksum(content),
        size_bytes=len(content),
        content=content,
        uploaded_by_id=actor.id,
        report=report,
    )
    db.session.add(upload)
    db.session.flush()
    return upload


def import_upload(
    actor: User,
    upload: ImportUpload,
    *,
    today: date,
    max_bytes: int,
    max_rows: int,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """The real import of a file whose dry run the user has seen. The rows are checked again
    (the register may have changed since): any failure and nothing is written."""
    if upload.imported_at is not None or upload.content is None:
        raise ConflictError(_("This file has been imported already, or replaced by a newer one."))
    report = run_import(
        actor,
        upload.programme,
        upload.kind,
        upload.filename,
        upload.content,
        dry_run=False,
        today=today,
        max_bytes=max_bytes,
        max_rows=max_rows,
        progress=progress,
    )
    upload.report = report.to_json()
    if report.ok:
        upload.imported_at = utcnow()
        upload.content = None  # personal data from the file is now in the register, or unneeded
    db.session.flush()
    return report


def describe_import(report: ImportReport) -> tuple[str, str]:
    """What a real import tells the person who started it (a message and its kind)."""
    counts = report.counts
    if not report.ok:
        return (
            _(
                "Nothing was imported: %(n)d rows have errors now. Correct them and try again.",
                n=counts["error"],
            ),
            "error",
        )
    if report.imported:
        return (
            _(
                "Imported: %(created)d rows created, %(updated)d updated, %(unchanged)d unchanged.",
                created=counts["create"],
                updated=counts["update"],
                unchanged=counts["unchanged"],
            ),
            "success",
        )
    return _("Every row matches what is stored already: nothing changed."), "info"


def _job_upload(job: Job, progress: Progress) -> ImportUpload:
    upload = db.session.get_one(ImportUpload, job.params["upload_id"])
    if upload.content is None:
        raise ConflictError(_("This file has been imported already, or replaced by a newer one."))
    rows = read_table(upload.filename, upload.content, max_rows=job.params["max_rows"]).rows
    progress.set_total(len(rows))
    return upload


def _job_params(job: Job, progress: Progress) -> dict[str, Any]:
    """The day and the limits the job was started with, and its progress bar."""
    return {
        "today": date.fromisoformat(job.params["today"]),
        "max_bytes": job.params["max_bytes"],
        "max_rows": job.params["max_rows"],
        "progress": progress.advance,
    }


@jobs.handler(JobKind.IMPORT_CHECK)
def check_upload_job(job: Job, progress: Progress) -> Outcome:
    """The dry run of a large upload, as the page runs it for a small one."""
    upload = _job_upload(job, progress)
    report = run_import(
        job.requested_by,
        upload.programme,
        upload.kind,
        upload.filename,
        upload.content or b"",
        dry_run=True,
        **_job_params(job, progress),
    )
    upload.report = report.to_json()
    return Outcome(_("The file has been checked."), "imports.report", {"upload_id": upload.id})


@jobs.handler(JobKind.IMPORT_APPLY)
def apply_upload_job(job: Job, progress: Progress) -> Outcome:
    """The real import of a large upload: every row or none, like the page's."""
    upload = _job_upload(job, progress)
    report = import_upload(job.requested_by, upload, **_job_params(job, progress))
    return Outcome(describe_import(report)[0], "imports.report", {"upload_id": upload.id})


def start_job(
    actor: User, upload: ImportUpload, kind: JobKind, *, today: date, max_bytes: int, max_rows: int
) -> Job:
    """Queue the check or the import of ``upload`` for the worker."""
    if not policies.can_import(actor, upload.programme) or upload.uploaded_by_id != actor.id:
        raise PermissionDenied()
    if kind is JobKind.IMPORT_APPLY and (upload.imported_at is not None or upload.content is None):
        raise ConflictError(_("This file has been imported already, or replaced by a newer one."))
    if upload.job is not None and not upload.job.finished:
        return upload.job  # asked twice (a double click): the same job
    upload.job = jobs.enqueue(
        actor,
        kind,
        {
            "upload_id": upload.id,
            "today": today.isoformat(),
            "max_bytes": max_bytes,
            "max_rows": max_rows,
        },
    )
    db.session.flush()
    return upload.job

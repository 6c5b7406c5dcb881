"""Exports (CSV, XLSX), the family statement and the programme report as files: what a user
may ask for, what the audit trail records, and the files the worker makes.

Exports stream: rows come from the database in batches and leave as they are written, so a
national register exports in bounded memory. Every export is checked against the user's scope
in the query itself (``exports``) and written to the audit trail before its first row leaves.
Drawing the files is ``rendering``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import date
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from casework.audit.models import AccessAction
from casework.audit.services import log_households_seen, record
from casework.bounds import MAX_ID
from casework.enrollment.models import Status as EnrollmentStatus
from casework.errors import PermissionDenied, ValidationError
from casework.extensions import db
from casework.households.models import Household
from casework.households.queries import CHECK_CHOICES, NOT_ENROLLED
from casework.jobs import services as jobs
from casework.jobs.models import Job, JobKind
from casework.jobs.services import Outcome, Progress
from casework.programmes.models import Programme
from casework.reports.exports import FORMATS, KINDS, Export, ExportFilter, export_rows
from casework.reports.queries import MAX_PERIOD_DAYS, Indicators, indicators
from casework.reports.rendering import (
    XLSX_MIMETYPE,
    report_facts,
    report_pdf,
    report_xlsx,
    statement_pdf,
    stream_csv,
    write_xlsx,
)
from casework.security import policies
from casework.security.models import User

# Names that other modules import from here (the exports' and the documents' own modules
# hold them now).
__all__ = [
    "FORMATS",
    "KINDS",
    "XLSX_MIMETYPE",
    "Export",
    "ExportFilter",
    "build_export",
    "check_period",
    "export_filename",
    "export_job",
    "record_export",
    "report_facts",
    "report_file_job",
    "report_pdf",
    "report_xlsx",
    "start_export",
    "start_report_file",
    "statement_pdf",
    "stream_csv",
    "write_xlsx",
]


def check_period(period_from: date | None, period_to: date | None) -> None:
    """A period runs forwards and is at most ten years long (a typo such as 2062 is refused)."""
    if period_from and period_to and period_to < period_from:
        raise ValidationError(_("The period must end on or after its start."), "period_to")
    if period_from and period_to and (period_to - period_from).days > MAX_PERIOD_DAYS:
        raise ValidationError(_("A period may be at most ten years long."), "period_to")


def list_filter_args(args: Mapping[str, str]) -> dict[str, Any]:
    """The household list's filters in an export link, as ``ExportFilter`` fields. A value
    that is none of the list's choices is refused by its field's name: an export never
    widens silently to rows that were not asked for."""
    status = args.get("status") or None
    check = args.get("check") or None
    worker = args.get("worker_id", "")
    statuses = (NOT_ENROLLED, *(s.value for s in EnrollmentStatus))
    for value, allowed, name, field in (
        (status, statuses, _("Status"), "status"),
        (check, CHECK_CHOICES, _("Balance check"), "check"),
    ):
        if value is not None and value not in allowed:
            raise ValidationError(not_a_choice(name), field)
    if worker and not (worker.isdigit() and int(worker) <= MAX_ID):
        raise ValidationError(not_a_choice(_("Social worker")), "worker_id")
    return {
        "status": status,
        "worker_id": int(worker) if worker else None,
        "settlement": args.get("settlement") or None,
        "check": check,
    }


def not_a_choice(field: str) -> str:
    return _("%(field)s: that value is not one of the choices.", field=field)


def build_export(user: User, wanted: ExportFilter) -> Export:
    """The export the user asked for, refused when it may not have it."""
    if wanted.kind not in KINDS:
        raise ValidationError(_("Choose what to export."), "kind")
    if wanted.fmt not in FORMATS:
        raise ValidationError(_("Choose CSV or XLSX."), "format")
    if not policies.can_export(user, pseudonymised=wanted.pseudonymised):
        raise PermissionDenied()
    check_period(wanted.period_from, wanted.period_to)
    return export_rows(user, wanted)


def record_export(user: User, wanted: ExportFilter, export: Export) -> None:
    """Count the rows and write the export to the audit trail, before any row leaves."""
    export.rows = (
        db.session.scalar(select(func.count()).select_from(export.statement.subquery())) or 0
    )
    filters = {k: v for k, v in asdict(wanted).items() if v not in (None, "", False)}
    record(user, f"export.{wanted.kind}", "export", None, changes={**filters, "rows": export.rows})
    variant = " pseudonymised" if wanted.pseudonymised else ""
    log_households_seen(
        user,
        exported_households(export),
        f"{wanted.kind}.{wanted.fmt}{variant}, {export.rows} rows",
        AccessAction.EXPORT,
    )


def exported_households(export: Export) -> Select[Any]:
    """The households whose rows the export holds, as a statement (the access log inserts
    from it: an export of the whole register is one statement, not a query per family)."""
    return (
        export.statement.with_only_columns(Household.id, maintain_column_froms=True)
        .order_by(None)
        .distinct()
    )


def record_download(user: User, job: Job) -> None:
    """A workbook the worker made leaves with its download: the access log records the
    families of the export again, as its filter selects them."""
    if job.kind != JobKind.EXPORT:
        return
    wanted = _wanted(job)
    log_households_seen(
        user,
        exported_households(export_rows(user, wanted)),
        f"download of {job.result.get('filename', wanted.kind)}",
        AccessAction.EXPORT,
    )


# --- files made by the worker ------------------------------------------------------------------


def export_filename(wanted: ExportFilter, today: date) -> str:
    variant = "-pseudonymised" if wanted.pseudonymised else ""
    return f"{wanted.kind}{variant}-{today:%Y%m%d}.{wanted.fmt}"


def start_export(user: User, wanted: ExportFilter, *, locale: str, today: date) -> Job:
    """A workbook is built by the worker (a national register takes longer than a request
    may); what the user may not have is refused now, as the file itself would be."""
    build_export(user, wanted)
    params = {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(wanted).items()}
    return jobs.enqueue(user, JobKind.EXPORT, {**params, "locale": locale, "today": str(today)})


def _wanted(job: Job) -> ExportFilter:
    """The export an export job was asked for, from its stored parameters."""
    params = {k: v for k, v in job.params.items() if k not in ("locale", "today")}
    for name in ("period_from", "period_to"):
        params[name] = date.fromisoformat(params[name]) if params[name] else None
    return ExportFilter(**params)


@jobs.handler(JobKind.EXPORT)
def export_job(job: Job, progress: Progress) -> Outcome:
    locale, today = job.params["locale"], date.fromisoformat(job.params["today"])
    wanted = _wanted(job)
    with force_locale(locale):
        built = build_export(job.requested_by, wanted)
        record_export(job.requested_by, wanted, built)
        progress.set_total(built.rows)
        path = write_xlsx(built, wanted.kind, progress=progress.advance)
    try:
        data = path.read_bytes()
    finally:
        path.unlink(missing_ok=True)
    return Outcome(
        _("The file is ready: %(n)d rows.", n=built.rows),
        file=data,
        filename=export_filename(wanted, today),
        mimetype=XLSX_MIMETYPE,
    )


def start_report_file(
    user: User, programme: Programme, figures: Indicators, fmt: str, *, locale: str, today: date
) -> Job:
    if not policies.can_view_budget(user, programme):
        raise PermissionDenied()
    return jobs.enqueue(
        user,
        JobKind.REPORT_FILE,
        {
            "programme_id": programme.id,
            "period_from": figures.period_from.isoformat(),
            "period_to": figures.period_to.isoformat(),
            "fmt": fmt,
            "locale": locale,
            "today": today.isoformat(),  # the day the PDF says it was issued
        },
    )


@jobs.handler(JobKind.REPORT_FILE)
def report_file_job(job: Job, progress: Progress) -> Outcome:
    params = job.params
    programme = db.session.get_one(Programme, params["programme_id"])
    if not policies.can_view_budget(job.requested_by, programme):
        raise PermissionDenied()
    progress.set_total(1)
    figures = indicators(
        programme,
        date.fromisoformat(params["period_from"]),
        date.fromisoformat(params["period_to"]),
    )
    with force_locale(params["locale"]):
        if params["fmt"] == "pdf":
            # (a job queued before the day was kept in its parameters: the period's end)
            issued_on = date.fromisoformat(params.get("today") or params["period_to"])
            data = report_pdf(figures, params["locale"], issued_on=issued_on)
            mimetype = "application/pdf"
        else:
            data, mimetype = report_xlsx(figures, params["locale"]), XLSX_MIMETYPE
    progress.advance()
    stem = f"report-{programme.id}-{figures.period_from:%Y%m%d}-{figures.period_to:%Y%m%d}"
    return Outcome(
        _("The report is ready."), file=data, filename=f"{stem}.{params['fmt']}", mimetype=mimetype
    )

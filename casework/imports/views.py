"""Import pages: upload and dry run, the report, the real import, templates and error files."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from casework import clock
from casework.actions import allow, perform, submit, visible
from casework.imports import queries, services
from casework.imports.files import read_table
from casework.imports.forms import ConfirmForm, UploadForm
from casework.imports.models import ImportUpload
from casework.jobs.models import Job, JobKind
from casework.plain_text import strip_control
from casework.programmes import queries as programme_queries
from casework.programmes.models import Programme
from casework.security import policies

bp = Blueprint("imports", __name__)


def _limits() -> dict[str, Any]:
    settings = current_app.config["CASEWORK"]
    return {"max_bytes": settings.import_max_bytes, "max_rows": settings.import_max_rows}


def _programme(programme_id: int) -> Programme:
    programme = visible(programme_queries.get_visible_programme(current_user, programme_id))
    allow(policies.can_import(current_user, programme))
    return programme


def _own_upload(upload_id: int) -> ImportUpload:
    return visible(queries.get_own_upload(current_user, upload_id))


def _by_worker(size_bytes: int) -> bool:
    """A file this large is checked and imported by the worker, with a progress bar."""
    return size_bytes > current_app.config["CASEWORK"].import_inline_max_bytes


def _job_page(job: Job) -> Response:
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.route("/programmes/<int:programme_id>/import", methods=["GET", "POST"])
def upload(programme_id: int) -> str | Response:
    programme = _programme(programme_id)
    form = UploadForm()
    return submit(
        form,
        lambda: _check(programme, form),
        then=lambda done: (
            _job_page(done)
            if isinstance(done, Job)
            else redirect(url_for("imports.report", upload_id=done.id))
        ),
    ) or render_template(
        "imports/upload.html",
        programme=programme,
        form=form,
        columns=services.COLUMNS,
        uploads=queries.recent_uploads(current_user, programme),
        limits=_limits(),
    )


def _check(programme: Programme, form: UploadForm) -> ImportUpload | Job:
    """The dry run of a small file, kept with the file; a large one is kept unchecked and its
    dry run queued for the worker."""
    content = form.file.data.read()
    # The browser's name for the file, stored and shown: its control characters are dropped.
    filename = strip_control(form.file.data.filename or "") or "upload"
    if _by_worker(len(content)):
        stored = services.store_unchecked_upload(
            current_user,
            programme,
            form.kind.data,
            filename,
            content,
            max_bytes=_limits()["max_bytes"],
        )
        return services.start_job(
            current_user, stored, JobKind.IMPORT_CHECK, today=clock.today(), **_limits()
        )
    report = services.run_import(
        current_user,
        programme,
        form.kind.data,
        filename,
        content,
        dry_run=True,
        today=clock.today(),
        **_limits(),
    )
    return services.store_upload(current_user, programme, report, content)


@bp.get("/imports/<int:upload_id>")
def report(upload_id: int) -> str | Response:
    upload = _own_upload(upload_id)
    if upload.job is not None and (not upload.job.finished or not upload.report):
        return _job_page(upload.job)  # being checked, or failed
    return render_template(
        "imports/report.html",
        upload=upload,
        report=services.ImportReport.from_json(upload.report),
        titles=services.column_titles(upload.kind),
        form=ConfirmForm(),
        may_import=upload.imported_at is None and upload.content is not None,
    )


@bp.post("/imports/<int:upload_id>/import")
def confirm(upload_id: int) -> Response:
    upload = _own_upload(upload_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    report_url = url_for("imports.report", upload_id=upload_id)

    def _imported(done: Job | services.ImportReport) -> Response:
        if isinstance(done, Job):
            return _job_page(done)
        flash(*services.describe_import(done))
        return redirect(report_url)

    return perform(lambda: _import(upload), then=_imported, back=lambda: redirect(report_url))


def _import(upload: ImportUpload) -> Job | services.ImportReport:
    """The real import of a small file, here; of a large one, queued for the worker."""
    if _by_worker(upload.size_bytes):
        return services.start_job(
            current_user, upload, JobKind.IMPORT_APPLY, today=clock.today(), **_limits()
        )
    return services.import_upload(current_user, upload, today=clock.today(), **_limits())


@bp.get("/imports/<int:upload_id>/errors.csv")
def errors_csv(upload_id: int) -> Response:
    upload = _own_upload(upload_id)
    content = visible(upload.content)  # imported or replaced: the file is gone
    table = read_table(upload.filename, content, max_rows=_limits()["max_rows"])
    body = services.error_rows_csv(table, services.ImportReport.from_json(upload.report))
    stem = upload.filename.rsplit(".", 1)[0]
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_ascii(stem)}-errors.csv"'},
    )


@bp.get("/programmes/<int:programme_id>/import/template-<kind>.csv")
def template(programme_id: int, kind: str) -> Response:
    _programme(programme_id)
    if kind not in services.COLUMNS:
        abort(404)
    return Response(
        services.template_csv(kind),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="casework-{kind}.csv"'},
    )


def _ascii(name: str) -> str:
    """A file name safe in a header: Cyrillic names become underscores."""
    return (
        "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name) or "file"
    )

"""Import pages: upload and dry run, the report, the real import, templates and error files."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.errors import DomainError
from casework.extensions import db
from casework.forms_common import show_domain_error
from casework.imports import queries, services
from casework.imports.files import read_table
from casework.imports.forms import ConfirmForm, UploadForm
from casework.imports.models import ImportUpload, Kind
from casework.jobs.models import JobKind
from casework.programmes.models import Programme
from casework.security import policies

bp = Blueprint("imports", __name__)


def _limits() -> dict[str, Any]:
    settings = current_app.config["CASEWORK"]
    return {"max_bytes": settings.import_max_bytes, "max_rows": settings.import_max_rows}


def _programme(programme_id: int) -> Programme:
    programme = db.session.get(Programme, programme_id)
    if programme is None or not policies.can_view_programme(current_user, programme):
        abort(404)
    if not policies.can_import(current_user, programme):
        abort(403)
    return programme


def _own_upload(upload_id: int) -> ImportUpload:
    upload = queries.get_own_upload(current_user, upload_id)
    if upload is None:
        abort(404)
    return upload


def _by_worker(size_bytes: int) -> bool:
    """A file this large is checked and imported by the worker, with a progress bar."""
    return size_bytes > current_app.config["CASEWORK"].import_inline_max_bytes


@bp.route("/programmes/<int:programme_id>/import", methods=["GET", "POST"])
def upload(programme_id: int) -> str | Response:
    programme = _programme(programme_id)
    form = UploadForm()
    if form.validate_on_submit():
        content = form.file.data.read()
        filename = form.file.data.filename or "upload"
        job = None
        try:
            if _by_worker(len(content)):
                stored = services.store_unchecked_upload(
                    current_user,
                    programme,
                    form.kind.data,
                    filename,
                    content,
                    max_bytes=_limits()["max_bytes"],
                )
                job = services.start_job(
                    current_user, stored, JobKind.IMPORT_CHECK, today=date.today(), **_limits()
                )
            else:
                report = services.run_import(
                    current_user,
                    programme,
                    form.kind.data,
                    filename,
                    content,
                    dry_run=True,
                    today=date.today(),
                    **_limits(),
                )
                stored = services.store_upload(current_user, programme, report, content)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            # The address is made before the commit: reading an id afterwards would begin a
            # new transaction, which on SQLite waits for the write lock a worker may now hold.
            if job is not None:
                done = redirect(url_for("jobs.show", job_id=job.id))
            else:
                done = redirect(url_for("imports.report", upload_id=stored.id))
            db.session.commit()
            return done
    return render_template(
        "imports/upload.html",
        programme=programme,
        form=form,
        columns=services.COLUMNS,
        uploads=queries.recent_uploads(current_user, programme),
        limits=_limits(),
    )


@bp.get("/imports/<int:upload_id>")
def report(upload_id: int) -> str | Response:
    upload = _own_upload(upload_id)
    if upload.job is not None and (not upload.job.finished or not upload.report):
        return redirect(url_for("jobs.show", job_id=upload.job.id))  # being checked, or failed
    result = services.ImportReport.from_json(upload.report)
    titles = {c.key: str(c.label) for c in services.COLUMNS[upload.kind]}
    return render_template(
        "imports/report.html",
        upload=upload,
        report=result,
        titles=titles,
        form=ConfirmForm(),
        may_import=upload.imported_at is None and upload.content is not None,
    )


@bp.post("/imports/<int:upload_id>/import")
def confirm(upload_id: int) -> Response:
    upload = _own_upload(upload_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    by_worker = _by_worker(upload.size_bytes)
    try:
        if by_worker:
            job = services.start_job(
                current_user, upload, JobKind.IMPORT_APPLY, today=date.today(), **_limits()
            )
        else:
            result = services.import_upload(current_user, upload, today=date.today(), **_limits())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("imports.report", upload_id=upload.id))
    if by_worker:
        started = redirect(url_for("jobs.show", job_id=job.id))  # before the commit (above)
        db.session.commit()
        return started
    report_page = redirect(url_for("imports.report", upload_id=upload.id))
    db.session.commit()
    flash(*services.describe_import(result))
    return report_page


@bp.get("/imports/<int:upload_id>/errors.csv")
def errors_csv(upload_id: int) -> Response:
    upload = _own_upload(upload_id)
    if upload.content is None:
        abort(404)
    table = read_table(upload.filename, upload.content, max_rows=_limits()["max_rows"])
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
    if kind not in {k.value for k in Kind}:
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

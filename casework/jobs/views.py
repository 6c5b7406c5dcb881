"""A job's page: its progress while it runs (the page polls a small JSON), then its result."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.actions import recorded, visible
from casework.db import read_only_view, utcnow
from casework.extensions import db
from casework.imports.models import ImportUpload
from casework.jobs import queries
from casework.jobs.models import Job, JobKind, JobState
from casework.jobs.services import progress_of
from casework.ops.services import seen_recently
from casework.reports import services as report_services

bp = Blueprint("jobs", __name__)


def _own(job_id: int) -> Job:
    """The requester's own job; another's is a 404."""
    return visible(queries.get_own_job(current_user, job_id))


def _status(job: Job) -> dict[str, Any]:
    done, total = progress_of(job)
    return {
        "state": job.state,
        "finished": job.finished,
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if total else 0,
    }


@bp.get("/jobs/<int:job_id>")
@read_only_view
def show(job_id: int) -> str:
    job = _own(job_id)
    result = job.result or {}
    next_url = (
        url_for(result["endpoint"], **result.get("values", {})) if result.get("endpoint") else ""
    )
    # A job waiting with no worker alive would wait for ever: say so, rather than spin.
    no_worker = job.state == JobState.QUEUED and not seen_recently("worker", utcnow())
    return render_template(
        "jobs/show.html",
        job=job,
        status=_status(job),
        next_url=next_url,
        back_url=_back_url(job),
        no_worker=no_worker,
    )


@bp.get("/jobs/<int:job_id>/status")
@read_only_view
def status(job_id: int) -> Response:
    return jsonify(_status(_own(job_id)))


@bp.get("/jobs/<int:job_id>/file")
def file(job_id: int) -> Response:
    """The file the job made, for its requester, for a day."""
    job = _own(job_id)
    if job.state != JobState.DONE or "filename" not in job.result or job.file is None:
        abort(404)
    response = Response(
        job.file,
        mimetype=job.result["mimetype"],
        headers={"Content-Disposition": f'attachment; filename="{job.result["filename"]}"'},
    )
    return recorded(response, lambda: report_services.record_download(current_user, job))


def _back_url(job: Job) -> str:
    """The page the job was started from, to try again after a failure."""
    kind = job.kind
    if kind in (JobKind.IMPORT_CHECK, JobKind.IMPORT_APPLY):
        upload = db.session.get_one(ImportUpload, job.params["upload_id"])
        return url_for("imports.upload", programme_id=upload.programme_id)
    if kind == JobKind.BALANCE_CHECK:
        return url_for("balances.checks", programme_id=job.params["programme_id"])
    if kind == JobKind.REPORT_FILE:
        return url_for("reports.report", programme_id=job.params["programme_id"])
    return url_for("home.index")

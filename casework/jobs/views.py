"""A job's page: its progress while it runs (the page polls a small JSON), then its result."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.db import read_only_view
from casework.extensions import db
from casework.imports.models import ImportUpload
from casework.jobs import queries
from casework.jobs.models import Job, JobKind
from casework.jobs.services import progress_of

bp = Blueprint("jobs", __name__)

# Where a job was started from: the page its "back" link returns to.
STARTED_FROM = {
    JobKind.IMPORT_CHECK: "imports.upload",
    JobKind.IMPORT_APPLY: "imports.upload",
    JobKind.BALANCE_CHECK: "balances.checks",
}


def _own(job_id: int) -> Job:
    job = queries.get_own_job(current_user, job_id)
    if job is None:
        abort(404)
    return job


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
    back_url = url_for(STARTED_FROM[JobKind(job.kind)], programme_id=_programme_id(job))
    return render_template(
        "jobs/show.html", job=job, status=_status(job), next_url=next_url, back_url=back_url
    )


@bp.get("/jobs/<int:job_id>/status")
@read_only_view
def status(job_id: int) -> Response:
    return jsonify(_status(_own(job_id)))


def _programme_id(job: Job) -> int:
    if "programme_id" in job.params:
        return int(job.params["programme_id"])
    return db.session.get_one(ImportUpload, job.params["upload_id"]).programme_id

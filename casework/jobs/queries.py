"""Finding jobs: each is visible to the person who started it, nobody else."""

from __future__ import annotations

from casework.extensions import db
from casework.jobs.models import Job
from casework.security import policies
from casework.security.models import User


def get_own_job(user: User, job_id: int) -> Job | None:
    job = db.session.get(Job, job_id)
    if job is None or not policies.can_view_job(user, job.requested_by_id):
        return None
    return job

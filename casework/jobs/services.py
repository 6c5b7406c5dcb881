"""Queueing, claiming and running jobs.

A job is claimed by one conditional ``UPDATE … WHERE state = 'queued'``: whichever worker's
update changes the row runs it, on SQLite and PostgreSQL alike and across machines. Its work
and its completion are committed together, so a job's effect is stored exactly once; a job
that fails rolls back everything it did and keeps the message for whoever asked.

Progress is written outside the job's transaction, so that a page can show it while the job
runs: through a second connection on PostgreSQL; on SQLite, whose single write lock the job
holds until it commits, into a small file beside the database file (SQLite lives on one
machine, so the web process reads the same file)."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from casework.db import utcnow
from casework.errors import DomainError, describe_exception, new_request_id
from casework.extensions import db
from casework.i18n import gettext_noop, translate
from casework.jobs.models import Job, JobKind, JobState
from casework.security.models import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What a finished job shows: a message in the requester's language and the page to go on
    to (an endpoint and its values: the worker has no request to build a URL from)."""

    message: str
    endpoint: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    file: bytes | None = None  # a file to download from the job's page
    filename: str = ""
    mimetype: str = ""


# How long a job's file (an export, a report) waits for its requester to download it.
FILE_KEPT = timedelta(days=1)


class Progress:
    """Reports how far a job is, at most a few times a second (the job calls it per row)."""

    def __init__(self, job_id: int, min_interval: float = 0.5) -> None:
        self.job_id = job_id
        self.min_interval = min_interval
        self._last = 0.0
        self.total = 0
        self.done = 0

    def set_total(self, total: int) -> None:
        self.total = total
        self._write(force=True)

    def advance(self, by: int = 1) -> None:
        self.done += by
        self._write()

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        write_progress(self.job_id, self.done, self.total)


def _progress_file(job_id: int) -> Path | None:
    """Where progress goes on SQLite (None on PostgreSQL, where it is a column)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    folder = Path(f"{url.database}-jobs")
    return folder / f"{job_id}.json"


def write_progress(job_id: int, done: int, total: int) -> None:
    path = _progress_file(job_id)
    if path is None:
        with db.engine.begin() as conn:  # its own transaction: visible while the job runs
            conn.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(progress_done=min(done, total), progress_total=total)
            )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"done": min(done, total), "total": total}))
    tmp.replace(path)  # atomic: a reader sees the old figures or the new ones


def progress_of(job: Job) -> tuple[int, int]:
    """(done, total) as far as anyone can tell now."""
    if job.state == JobState.RUNNING:
        path = _progress_file(job.id)
        if path is not None and path.exists():
            try:
                figures = json.loads(path.read_text())
                return int(figures["done"]), int(figures["total"])
            except (OSError, ValueError, KeyError):
                pass  # being replaced: the column's figures will do for this poll
    return job.progress_done, job.progress_total


Handler = Callable[[Job, Progress], Outcome]
_HANDLERS: dict[JobKind, Handler] = {}


def handler(kind: JobKind) -> Callable[[Handler], Handler]:
    """Registers the function that runs jobs of ``kind`` (each area's services define theirs)."""

    def register(func: Handler) -> Handler:
        _HANDLERS[kind] = func
        return func

    return register


def enqueue(actor: User, kind: JobKind, params: dict[str, Any]) -> Job:
    job = Job(kind=kind, requested_by_id=actor.id, params=params)
    db.session.add(job)
    db.session.flush()
    return job


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def claim(job_id: int, worker: str, now: datetime) -> bool:
    """True for exactly one of the workers that try; the claim commits at once."""
    result = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.QUEUED)
        .values(
            state=JobState.RUNNING,
            claimed_by=worker,
            claimed_at=now,
            attempts=Job.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


LOST = gettext_noop(
    "The worker stopped before this job finished; nothing was stored. Please start it again."
)


def fail_lost_jobs(now: datetime) -> int:
    """A job running past the time limit lost its worker (a crash rolled its work back): it
    fails, with the reason in its requester's language, and is never run behind their back."""
    settings = current_app.config["CASEWORK"]
    limit = timedelta(minutes=settings.job_timeout_minutes)
    lost = db.session.execute(
        select(Job.id, User.locale)
        .join(User, User.id == Job.requested_by_id)
        .where(Job.state == JobState.RUNNING, Job.claimed_at < now - limit)
    ).all()
    for job_id, locale in lost:
        db.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == JobState.RUNNING)
            .values(
                state=JobState.FAILED,
                finished_at=now,
                error=translate(LOST, locale or settings.default_locale),
            )
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return len(lost)


def purge_files(now: datetime) -> int:
    """Forget the files of jobs that finished more than a day ago: exports hold personal data."""
    result = db.session.execute(
        update(Job)
        .where(Job.file.is_not(None), Job.finished_at < now - FILE_KEPT)
        .values(file=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def run_next(worker: str | None = None) -> Job | None:
    """Claim the oldest queued job and run it; None when nothing is queued."""
    worker = worker or worker_name()
    candidates = db.session.scalars(
        select(Job.id).where(Job.state == JobState.QUEUED).order_by(Job.id).limit(10)
    ).all()
    db.session.rollback()
    for job_id in candidates:
        if claim(job_id, worker, utcnow()):
            return run(job_id)
    return None


def run_pending(worker: str | None = None) -> int:
    """Run queued jobs until none is left (``casework worker --once``, and the tests)."""
    count = 0
    while run_next(worker) is not None:
        count += 1
    return count


def run(job_id: int) -> Job:
    """Run a claimed job: its work and its completion in one transaction, or neither."""
    job = db.session.get_one(Job, job_id)
    requester = job.requested_by
    started = time.monotonic()
    locale = requester.locale or current_app.config["CASEWORK"].default_locale
    progress = Progress(job.id)
    with force_locale(locale):
        try:
            outcome = _HANDLERS[job.kind](job, progress)
        except DomainError as error:
            db.session.rollback()
            _finish_failed(job_id, error.message)
        except Exception as error:
            db.session.rollback()
            reference = new_request_id()
            log.error(
                "job %s failed, reference %s: %s", job_id, reference, describe_exception(error)
            )
            _finish_failed(job_id, _("Something went wrong. Reference: %(id)s", id=reference))
        else:
            job.state = JobState.DONE
            job.finished_at = utcnow()
            job.progress_total = job.progress_done = max(progress.total, progress.done, 1)
            job.result = {
                "message": outcome.message,
                "endpoint": outcome.endpoint,
                "values": outcome.values,
            }
            if outcome.file is not None:
                job.file = outcome.file
                job.result |= {"filename": outcome.filename, "mimetype": outcome.mimetype}
            db.session.commit()
    _forget_progress(job_id)
    job = db.session.get_one(Job, job_id)
    log.info(
        "job",
        extra={
            "job_id": job.id,
            "job_kind": job.kind,
            "state": job.state,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "user_id": job.requested_by_id,
        },
    )
    return job


def _finish_failed(job_id: int, message: str) -> None:
    db.session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(state=JobState.FAILED, finished_at=utcnow(), error=message[:2000])
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _forget_progress(job_id: int) -> None:
    path = _progress_file(job_id)
    if path is not None:
        path.unlink(missing_ok=True)

"""The scheduler process: one APScheduler job per programme, on the programme's own cron
schedule and time zone. Started by ``casework scheduler``, never by the web workers; a second
scheduler by mistake costs nothing, because a run is unique per (programme, date)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import select

from casework import clock
from casework.balances.models import Trigger
from casework.balances.services import run_check
from casework.db import utcnow
from casework.errors import describe_exception
from casework.extensions import db
from casework.mail.services import send_pending
from casework.ops.services import beat
from casework.privacy.services import apply_retention, households_due_for_retention
from casework.programmes.models import Programme

log = logging.getLogger(__name__)
T = TypeVar("T")
MISFIRE_GRACE_SECONDS = 3600
SYNC_SECONDS = 60


def trigger_for(schedule: str, timezone: str) -> CronTrigger:
    """A cron expression (``0 7 * * mon``) in the programme's time zone; ValueError if bad."""
    return CronTrigger.from_crontab(schedule, timezone=ZoneInfo(timezone))


def check_programme(app: Flask, programme_id: int) -> None:
    started = time.monotonic()
    with app.app_context():
        programme = db.session.get(Programme, programme_id)
        if programme is None:
            return
        today = clock.today(programme.timezone)
        try:
            result = run_check(programme, today, today=today, trigger=Trigger.SCHEDULED)
            run_id, created = result.run.id, result.created
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            log.error(
                "balance check of programme %s failed: %s",
                programme_id,
                describe_exception(error),
            )
            return
        finally:
            db.session.remove()
        log.info(
            "balance check programme=%s as_of=%s run=%s %s",
            programme_id,
            today,
            run_id,
            "stored" if created else "already done",
            extra={
                "job_kind": "scheduled_check",
                "programme_id": programme_id,
                "state": "stored" if created else "already done",
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )


def _guarded(app: Flask, what: str, work: Callable[[], T]) -> T | None:
    """One scheduled step in its own app context and session; a failure is logged (types and
    frames, never the message) and rolled back, and the scheduler carries on."""
    with app.app_context():
        try:
            return work()
        except Exception as error:
            db.session.rollback()
            log.error("%s failed: %s", what, describe_exception(error))
            return None
        finally:
            db.session.remove()


def send_mail(app: Flask) -> None:
    settings = app.config["CASEWORK"]
    sent = _guarded(
        app, "sending mail", lambda: send_pending(settings.smtp_url, settings.mail_from)
    )
    if sent:
        log.info("mail: %s messages sent", sent)


def heartbeat(app: Flask) -> None:
    """Tell /readyz this scheduler is alive."""
    _guarded(app, "scheduler heartbeat", lambda: beat("scheduler", utcnow()))


def _retain() -> int:
    count = apply_retention(households_due_for_retention(clock.today()), utcnow())
    db.session.commit()
    return count


def retention(app: Flask) -> None:
    """Anonymise the families whose retention period has run out (daily)."""
    started = time.monotonic()
    count = _guarded(app, "retention", _retain)
    if count is not None:
        log.info(
            "job",
            extra={
                "job_kind": "retention",
                "state": f"{count} anonymised",
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )


def sync_jobs(app: Flask, scheduler: BaseScheduler, interval_seconds: int | None = None) -> None:
    """Add, change or remove programme jobs to match the database: schedule changes need no
    restart, and one programme's bad schedule does not stop the others."""
    with app.app_context():
        rows = db.session.execute(
            select(
                Programme.id,
                Programme.check_schedule,
                Programme.timezone,
                Programme.ends_on,
                Programme.work_deadline_days,
            )
        ).all()
        db.session.remove()
        today = clock.today()  # in the app's context: the deployment's zone
    # A programme whose every hour fell due long ago has nothing left to check: no more runs,
    # and no more weekly digests about it for its coordinators.
    programmes = [
        (programme_id, schedule, timezone)
        for programme_id, schedule, timezone, ends_on, deadline_days in rows
        if ends_on is None or ends_on + timedelta(days=deadline_days) >= today
    ]
    wanted = set()
    for programme_id, schedule, timezone in programmes:
        job_id = f"programme-{programme_id}"
        wanted.add(job_id)
        try:
            trigger: BaseTrigger = (
                IntervalTrigger(seconds=interval_seconds)
                if interval_seconds
                else trigger_for(schedule, timezone)
            )
        except (ValueError, KeyError) as error:
            log.error("programme %s: bad schedule %r: %s", programme_id, schedule, error)
            continue
        signature = f"{interval_seconds or schedule}|{timezone}"
        job = scheduler.get_job(job_id)
        if job is not None and job.name == signature:
            continue
        scheduler.add_job(
            check_programme,
            trigger,
            args=[app, programme_id],
            id=job_id,
            name=signature,
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            max_instances=1,
        )
        log.info("programme %s: balance checks on %r (%s)", programme_id, schedule, timezone)
    for job in scheduler.get_jobs():
        if job.id.startswith("programme-") and job.id not in wanted:
            job.remove()


def _every_minute(
    scheduler: BaseScheduler, job: Callable[..., None], job_id: str, *args: object
) -> None:
    """A housekeeping job every ``SYNC_SECONDS``: missed runs collapse into one, never two at
    once."""
    scheduler.add_job(
        job,
        "interval",
        seconds=SYNC_SECONDS,
        args=list(args),
        id=job_id,
        coalesce=True,
        max_instances=1,
    )


def configure(app: Flask, scheduler: BaseScheduler, interval_seconds: int | None = None) -> None:
    """``interval_seconds`` replaces every programme's schedule by a fixed interval (tests)."""
    sync_jobs(app, scheduler, interval_seconds)
    _every_minute(scheduler, sync_jobs, "sync", app, scheduler, interval_seconds)
    _every_minute(scheduler, send_mail, "mail", app)
    heartbeat(app)
    _every_minute(scheduler, heartbeat, "heartbeat", app)
    scheduler.add_job(
        retention,
        CronTrigger(hour=2, minute=30, timezone=ZoneInfo(app.config["CASEWORK"].default_timezone)),
        args=[app],
        id="retention",
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        max_instances=1,
    )

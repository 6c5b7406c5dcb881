"""The worker loop of ``casework worker`` (and the demo's thread): claim, run, repeat."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask
from sqlalchemy.exc import OperationalError

from casework.db import utcnow
from casework.errors import describe_exception, exc_kind
from casework.extensions import db
from casework.jobs.services import fail_lost_jobs, purge_files, run_next, worker_name
from casework.ops.services import beat

log = logging.getLogger(__name__)
BEAT_SECONDS = 60


def work(
    app: Flask,
    *,
    once: bool = False,
    poll_seconds: float = 1.0,
    stop: threading.Event | None = None,
) -> int:
    """Run jobs until ``stop`` is set (or, with ``once``, until none is queued); returns how
    many ran. A database that does not answer is waited for, not given up on."""
    stop = stop or threading.Event()
    name = worker_name()
    last_beat = -BEAT_SECONDS * 2.0
    done = 0
    while not stop.is_set():
        job = None
        with app.app_context():
            try:
                if time.monotonic() - last_beat >= BEAT_SECONDS:
                    now = utcnow()
                    beat("worker", now)
                    fail_lost_jobs(now)
                    purge_files(now)
                    last_beat = time.monotonic()
                job = run_next(name)
            except OperationalError as error:  # the database is away, or (SQLite) busy
                db.session.rollback()
                log.warning("worker: the database is unavailable or busy (%s)", exc_kind(error))
                if once:
                    raise
                stop.wait(poll_seconds * 5)
                continue
            except Exception as error:
                db.session.rollback()
                log.error("worker: %s", describe_exception(error))
                if once:
                    raise
                stop.wait(poll_seconds * 5)
                continue
            finally:
                db.session.remove()
        if job is not None:
            done += 1
            continue
        if once:
            break
        stop.wait(poll_seconds)
    return done

"""Long work off the request: large imports and balance checks run by the worker, claimed once,
all or nothing, with their progress on a page."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from casework.audit.models import AuditEvent
from casework.balances import services as balance_services
from casework.balances.models import BalanceRun
from casework.db import utcnow
from casework.extensions import db
from casework.households import services as household_services
from casework.households.models import Household, Member
from casework.imports.models import ImportUpload
from casework.jobs import services as jobs
from casework.jobs.models import Job, JobState
from casework.ops.services import beat
from casework.security.models import Role
from tests.conftest import TODAY, Client, Factory, count, run_jobs

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture
def small_inline_limit(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every upload counts as large: the worker checks and imports it."""
    settings = dataclasses.replace(app.config["CASEWORK"], import_inline_max_bytes=100)
    monkeypatch.setitem(app.config, "CASEWORK", settings)


def upload(browser: Client, programme_id: int, name: str = "households.csv") -> Any:
    content = (EXAMPLES / name).read_bytes()
    import io

    return browser.post(
        f"/programmes/{programme_id}/import",
        {"kind": "households", "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


@pytest.mark.usefixtures("small_inline_limit")
def test_a_large_upload_is_checked_then_imported_by_the_worker(
    login_as: Any, make: Factory
) -> None:
    programme = make.programme()
    browser, coordinator = login_as(Role.COORDINATOR, programme.municipality)
    started = upload(browser, programme.id)
    assert started.status_code == 302 and "/jobs/" in started.headers["Location"]
    job_page = started.headers["Location"]
    check = db.session.scalars(select(Job)).one()
    assert check.state == JobState.QUEUED and check.requested_by_id == coordinator.id
    status = browser.get(f"/jobs/{check.id}/status").get_json()
    assert status == {"state": "queued", "finished": False, "done": 0, "total": 0, "percent": 0}
    waiting = browser.get(job_page).get_data(as_text=True)
    assert "<progress" in waiting and "jobs.js" in waiting
    assert "No job worker has been seen" in waiting  # nothing beats in this test yet
    beat("worker", utcnow())
    assert "No job worker" not in browser.get(job_page).get_data(as_text=True)
    assert re.search(r"Started \d\d\.\d\d\.\d{4} \d\d:\d\d", waiting)  # when, on Skopje's clock
    stored = db.session.scalars(select(ImportUpload)).one()
    assert browser.get(f"/imports/{stored.id}").headers["Location"] == job_page  # not yet
    assert count(Household) == 0

    assert run_jobs() == 1
    db.session.expire_all()
    check = db.session.get_one(Job, check.id)
    assert check.state == JobState.DONE and check.progress_total == 13 and check.attempts == 1
    done = browser.get(job_page).get_data(as_text=True)
    assert "The file has been checked." in done and f"/imports/{stored.id}" in done
    report = browser.get(f"/imports/{stored.id}").get_data(as_text=True)
    assert "Import 13 rows" in report
    assert count(Household) == 0  # a dry run stores nothing

    confirmed = browser.post(f"/imports/{stored.id}/import")
    assert "/jobs/" in confirmed.headers["Location"]
    again = browser.post(f"/imports/{stored.id}/import")  # a double click: the same job
    assert again.headers["Location"] == confirmed.headers["Location"]
    assert count(Household) == 0
    assert run_jobs() == 1
    db.session.expire_all()
    assert count(Household) == 4 and count(Member) == 13
    assert "Imported: 13 rows created" in browser.get(confirmed.headers["Location"]).get_data(
        as_text=True
    )
    imported = db.session.get_one(ImportUpload, stored.id)
    assert imported.imported_at is not None and imported.content is None


@pytest.mark.usefixtures("small_inline_limit")
def test_a_job_that_fails_half_way_stores_nothing_and_tells_whoever_started_it(
    login_as: Any, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    programme = make.programme()
    browser, _coordinator = login_as(Role.COORDINATOR, programme.municipality)
    upload(browser, programme.id)
    run_jobs()
    stored = db.session.scalars(select(ImportUpload)).one()
    real_create, calls = household_services.create_household, []

    def fails_on_the_third_family(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the disk is full")
        return real_create(*args, **kwargs)

    monkeypatch.setattr(household_services, "create_household", fails_on_the_third_family)
    audit_before = count(AuditEvent)
    started = browser.post(f"/imports/{stored.id}/import")
    assert run_jobs() == 1
    assert len(calls) == 3  # two families were written before the failure, then rolled back
    db.session.expire_all()
    job = db.session.get_one(Job, int(started.headers["Location"].rsplit("/", 1)[1]))
    assert job.state == JobState.FAILED and "Reference" in job.error
    assert "disk" not in job.error  # the exception's message stays out of the page
    assert count(Household) == 0 and count(Member) == 0 and count(AuditEvent) == audit_before
    page = browser.get(started.headers["Location"]).get_data(as_text=True)
    assert "Something went wrong" in page and "Nothing was stored." in page
    assert db.session.get_one(ImportUpload, stored.id).content is not None  # can try again


def test_a_balance_check_started_on_the_page_runs_in_the_worker_once(
    login_as: Any, make: Factory
) -> None:
    programme = make.programme()
    make.paid(make.active_enrollment(programme))
    browser, _coordinator = login_as(Role.COORDINATOR, programme.municipality)
    first = browser.post(f"/programmes/{programme.id}/checks")
    second = browser.post(f"/programmes/{programme.id}/checks")
    assert count(BalanceRun) == 0
    assert run_jobs() == 2
    assert count(BalanceRun) == 1  # a run is unique per programme and day
    messages = [browser.get(r.headers["Location"]).get_data(as_text=True) for r in (first, second)]
    assert "Balance check done." in messages[0]
    assert "had already run" in messages[1]


def test_a_job_is_its_requesters_own(login_as: Any, make: Factory) -> None:
    programme = make.programme()
    owner = make.user(Role.COORDINATOR, programme.municipality)
    job = balance_services.start_check(owner, programme, today=TODAY)
    db.session.commit()
    colleague, _user = login_as(Role.COORDINATOR, programme.municipality)
    assert colleague.get(f"/jobs/{job.id}").status_code == 404
    assert colleague.get(f"/jobs/{job.id}/status").status_code == 404


def test_a_job_lost_with_its_worker_is_marked_failed(app: Flask, make: Factory) -> None:
    from datetime import timedelta

    from casework.db import utcnow

    programme = make.programme()
    job = balance_services.start_check(make.user(Role.COORDINATOR), programme, today=TODAY)
    db.session.commit()
    assert jobs.claim(job.id, "a worker that died", utcnow() - timedelta(hours=3))
    assert jobs.fail_lost_jobs(utcnow()) == 1
    db.session.expire_all()
    lost = db.session.get_one(Job, job.id)
    assert lost.state == JobState.FAILED and "stopped" in lost.error
    assert run_jobs() == 0  # never run again behind the person's back


def test_two_worker_processes_claim_each_job_exactly_once(
    app: Flask, make: Factory, tmp_path: Path
) -> None:
    coordinator = make.user(Role.COORDINATOR)
    programmes = [make.programme() for _ in range(4)]
    for programme in programmes:
        make.paid(make.active_enrollment(programme))
    queued = [
        balance_services.start_check(coordinator, programmes[n % 4], today=TODAY) for n in range(16)
    ]
    db.session.commit()
    env = {
        **os.environ,
        "CASEWORK_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "CASEWORK_INSTANCE_PATH": str(tmp_path),
        "CASEWORK_ENV": "development",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "casework", "worker", "--once"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    ran = [int(out.strip().splitlines()[-1].split()[0]) for out, _err in outputs]
    assert sum(ran) == len(queued)
    db.session.expire_all()
    stored = db.session.scalars(select(Job).order_by(Job.id)).all()
    assert [j.state for j in stored] == [JobState.DONE] * len(queued)
    assert [j.attempts for j in stored] == [1] * len(queued)
    assert count(BalanceRun) == 4  # one per programme and day, whoever ran which job
    # The worker's log has a line per job, with ids and no names.
    log = "".join(err for _out, err in outputs)
    assert log.count("job") >= len(queued) and "Мамудовски" not in log

"""A job: work too long for a web request, stored in the database and run by a worker.

The row is the whole protocol: a worker claims a queued job with a conditional update (so two
workers never run one job), runs it in one transaction with the job's own completion (so its
effect is stored once or not at all), and a failure is recorded for whoever asked."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Base, EnumText, UTCDateTime, enum_check, utcnow
from casework.security.models import User


class JobKind(StrEnum):
    IMPORT_CHECK = "import_check"  # the dry run of a large upload
    IMPORT_APPLY = "import_apply"  # the real import of a large upload
    BALANCE_CHECK = "balance_check"  # a check started from the checks page
    EXPORT = "export"  # a workbook of every household, payment or work log the user may see
    REPORT_FILE = "report_file"  # a programme report as PDF or workbook


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(enum_check("kind", JobKind), name="kind"),
        CheckConstraint(enum_check("state", JobState), name="state"),
        CheckConstraint("progress_done >= 0 AND progress_total >= 0", name="progress"),
        # The worker's question, "what is queued, oldest first?", is one index scan.
        Index("ix_jobs_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[JobKind] = mapped_column(EnumText(JobKind, 20))
    state: Mapped[JobState] = mapped_column(EnumText(JobState, 10), default=JobState.QUEUED)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # What the job works on, by id (an upload, a programme and a date): never personal data.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    # What to show when it is done: a message in the requester's language, where to go next.
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    # A file the job made (an export, a report), kept for its requester for a day; deferred, so
    # that the job's page and its progress poll never read it.
    file: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    requested_by: Mapped[User] = relationship()

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)

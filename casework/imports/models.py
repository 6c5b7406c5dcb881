"""An uploaded import file, kept between its dry run and the real import.

The file's content is kept only until it is imported (or replaced by a newer upload), so that
personal data from spreadsheets does not pile up in the database.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Base, EnumText, UTCDateTime, enum_check, utcnow
from casework.jobs.models import Job
from casework.programmes.models import Programme
from casework.security.models import User


class Kind(StrEnum):
    HOUSEHOLDS = "households"
    ARREARS = "arrears"


class ImportUpload(Base):
    __tablename__ = "import_uploads"
    __table_args__ = (CheckConstraint(enum_check("kind", Kind), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    kind: Mapped[Kind] = mapped_column(EnumText(Kind, 20))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last dry run's report (rows, actions, errors), shown without reading the file again.
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A large file is checked and imported by the worker: the job doing that now, or last.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))

    programme: Mapped[Programme] = relationship()
    uploaded_by: Mapped[User] = relationship()
    job: Mapped[Job | None] = relationship()

"""Where families work and the hours they log.

A ``WorkLog`` is never edited once verified. A wrong verified log is answered by a correcting
entry: a log with ``reverses_id`` set and the opposite minutes, verified at once, so that the
sum of verified minutes is always what was really worked. A log its author got wrong before
anyone decided it is withdrawn (who, when, why), never deleted; it counts nowhere.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Base, EnumText, UTCDateTime, enum_check, utcnow
from casework.households.models import Household, Member
from casework.organizations.models import Municipality, Organization
from casework.security.models import User


class LogStatus(StrEnum):
    LOGGED = "logged"
    VERIFIED = "verified"
    REJECTED = "rejected"
    # Taken back by whoever logged it, before anyone decided it: kept, counted nowhere.
    WITHDRAWN = "withdrawn"


# Logs that count neither as worked nor as pending, nor towards a cap or a last day of work.
COUNTED_NOWHERE = (LogStatus.REJECTED, LogStatus.WITHDRAWN)


class WorkSite(Base):
    """A place where a public enterprise takes families' adults to work."""

    __tablename__ = "work_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    place: Mapped[str] = mapped_column(String(200), default="")
    kind_of_work: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    municipality: Mapped[Municipality] = relationship()
    enterprise: Mapped[Organization] = relationship()

    def __str__(self) -> str:
        return f"{self.name} ({self.enterprise})"


class WorkLog(Base):
    __tablename__ = "work_logs"
    __table_args__ = (
        CheckConstraint(enum_check("status", LogStatus), name="status"),
        CheckConstraint(
            "(reverses_id IS NULL AND minutes > 0 AND minutes <= 1440) "
            "OR (reverses_id IS NOT NULL AND minutes < 0 AND status = 'verified')",
            name="minutes_sign",
        ),
        CheckConstraint(
            "start_minute IS NULL OR (end_minute > start_minute AND start_minute >= 0 "
            "AND end_minute <= 1440)",
            name="shift_in_day",
        ),
        CheckConstraint(
            "(status = 'withdrawn') = (withdrawn_by_id IS NOT NULL AND withdrawn_at IS NOT NULL)",
            name="withdrawal_recorded",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("work_sites.id"), index=True)
    work_date: Mapped[date] = mapped_column(Date, index=True)
    start_minute: Mapped[int | None] = mapped_column(Integer)
    end_minute: Mapped[int | None] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[LogStatus] = mapped_column(
        EnumText(LogStatus, 10), default=LogStatus.LOGGED, index=True
    )
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    # A correcting entry points at the verified log it cancels; one correction per log.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("work_logs.id"), unique=True)
    logged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_reason: Mapped[str] = mapped_column(Text, default="")

    member: Mapped[Member] = relationship()
    household: Mapped[Household] = relationship()
    site: Mapped[WorkSite] = relationship()
    logged_by: Mapped[User] = relationship(foreign_keys=[logged_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])
    reverses: Mapped[WorkLog | None] = relationship(
        remote_side=[id], foreign_keys=[reverses_id], back_populates="reversed_by"
    )
    reversed_by: Mapped[WorkLog | None] = relationship(
        foreign_keys=[reverses_id], back_populates="reverses", uselist=False
    )

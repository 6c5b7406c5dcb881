"""A balance check run per (programme, date), one snapshot per household, and alerts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Base, EnumText, UTCDateTime, enum_check, utcnow
from casework.households.models import Household
from casework.programmes.models import Programme


class CheckStatus(StrEnum):
    NO_OBLIGATION = "no_obligation"
    COMPLETED = "completed"
    ON_TRACK = "on_track"
    BEHIND = "behind"
    OVERDUE = "overdue"


class Trigger(StrEnum):
    """What started a run: the programme's schedule, or someone asking (page, API, CLI)."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"


class BalanceRun(Base):
    """One check of one programme as of one date. The unique key makes a second run of the same
    check (a second scheduler, a retry, a manual run) impossible."""

    __tablename__ = "balance_runs"
    __table_args__ = (UniqueConstraint("programme_id", "as_of"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    as_of: Mapped[date] = mapped_column(Date)
    trigger: Mapped[Trigger] = mapped_column(EnumText(Trigger, 20), default=Trigger.MANUAL)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    households: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)

    programme: Mapped[Programme] = relationship()
    snapshots: Mapped[list[BalanceSnapshot]] = relationship(back_populates="run")


class BalanceSnapshot(Base):
    __tablename__ = "balance_snapshots"
    __table_args__ = (
        UniqueConstraint("run_id", "household_id"),
        CheckConstraint(enum_check("status", CheckStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("balance_runs.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    owed: Mapped[int] = mapped_column(Integer)
    verified: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)
    expected: Mapped[int] = mapped_column(Integer)
    status: Mapped[CheckStatus] = mapped_column(EnumText(CheckStatus, 16))
    behind_streak: Mapped[int] = mapped_column(Integer, default=0)
    # Behind in three checks running: a coordinator should look (nothing happens by itself).
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)

    run: Mapped[BalanceRun] = relationship(back_populates="snapshots")
    household: Mapped[Household] = relationship()


class Alert(Base):
    """A change of a household's status, for one person; read per person."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("balance_snapshots.id"))
    previous_status: Mapped[CheckStatus | None] = mapped_column(EnumText(CheckStatus, 16))
    status: Mapped[CheckStatus] = mapped_column(EnumText(CheckStatus, 16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    household: Mapped[Household] = relationship()
    snapshot: Mapped[BalanceSnapshot] = relationship()

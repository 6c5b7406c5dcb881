"""A programme: one municipality's fund, its money and its rules for community work."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Base, Deni
from casework.organizations.models import Municipality, Organization

DEFAULT_DAILY_CAP_MINUTES = 4 * 60
DEFAULT_WEEKLY_CAP_MINUTES = 20 * 60
DEFAULT_SCHEDULE = "0 7 * * mon"


class Programme(Base):
    __tablename__ = "programmes"
    __table_args__ = (
        CheckConstraint("budget_deni >= 0", name="budget_not_negative"),
        CheckConstraint("hourly_value_deni > 0", name="hourly_value_positive"),
        CheckConstraint("approval_threshold_deni >= 0", name="threshold_not_negative"),
        CheckConstraint(
            "daily_cap_minutes > 0 AND daily_cap_minutes <= 1440", name="daily_cap_range"
        ),
        CheckConstraint(
            "weekly_cap_minutes >= daily_cap_minutes AND weekly_cap_minutes <= 10080",
            name="weekly_cap_range",
        ),
        CheckConstraint("work_deadline_days > 0", name="deadline_positive"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates_in_order"),
        CheckConstraint(
            "committed_deni >= 0 AND committed_deni <= budget_deni", name="within_budget"
        ),
        CheckConstraint(
            "debt_period_to IS NULL OR debt_period_from IS NULL "
            "OR debt_period_to >= debt_period_from",
            name="debt_period_in_order",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    ngo_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(200))
    donor: Mapped[str] = mapped_column(String(200), default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    budget_deni: Mapped[int] = mapped_column(Deni)
    # Approved-but-unpaid plus paid-and-not-reversed: moved only by conditional updates in
    # payments.services, so that two approvals at once can never cross the budget together.
    committed_deni: Mapped[int] = mapped_column(Deni, default=0, server_default="0")
    hourly_value_deni: Mapped[int] = mapped_column(Deni)
    approval_threshold_deni: Mapped[int] = mapped_column(Deni)
    daily_cap_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_DAILY_CAP_MINUTES)
    weekly_cap_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_WEEKLY_CAP_MINUTES)
    work_deadline_days: Mapped[int] = mapped_column(Integer, default=180)
    # How far behind the expected pace a family may be and still count as on track.
    tolerance_minutes: Mapped[int] = mapped_column(Integer, default=8 * 60, server_default="480")
    check_schedule: Mapped[str] = mapped_column(String(100), default=DEFAULT_SCHEDULE)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Skopje")
    # The call for applications: which debts count (the pilot: 01.11.2020–31.10.2021).
    debt_period_from: Mapped[date | None] = mapped_column(Date)
    debt_period_to: Mapped[date | None] = mapped_column(Date)
    # What the programme promised its donor; the programme report compares results with them.
    target_families: Mapped[int | None] = mapped_column(Integer)
    target_debt_deni: Mapped[int | None] = mapped_column(Deni)
    target_minutes: Mapped[int | None] = mapped_column(Integer)
    # Years after a family's enrollment ends before its names are anonymised
    # (``casework retention``); the financial records stay, without names.
    retention_years: Mapped[int] = mapped_column(Integer, default=5, server_default="5")

    municipality: Mapped[Municipality] = relationship()
    ngo: Mapped[Organization] = relationship()
    eligible_creditors: Mapped[list[Organization]] = relationship(
        secondary="programme_creditors", order_by="Organization.name"
    )

    def __str__(self) -> str:
        return self.name


class ProgrammeCreditor(Base):
    """A creditor whose debts the programme pays (electricity, communal services, ...)."""

    __tablename__ = "programme_creditors"

    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)

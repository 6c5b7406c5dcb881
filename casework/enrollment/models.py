"""A household's path into a programme: application, commission decision, agreement.

Every change of state is kept as an ``EnrollmentEvent`` (who, when, why, which document), so
that the NGO and the municipality can show later who decided what.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Base, EnumText, UTCDateTime, enum_check, utcnow
from casework.households.models import Household, Member
from casework.programmes.models import Programme
from casework.security.models import User


class Status(StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    ACTIVE = "active"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"
    CLOSED_EARLY = "closed_early"  # ended with hours still owed, for a reason of the list


OPEN_STATUSES = (Status.APPLIED, Status.APPROVED, Status.ACTIVE)
# Closings a coordinator may undo (a completion in error, a withdrawal, an early closing); a
# commission's rejection is not undone here: the family applies again.
REOPENABLE_STATUSES = (Status.CLOSED_EARLY, Status.COMPLETED, Status.WITHDRAWN)


class CloseReason(StrEnum):
    """Why an enrollment ends before its hours are worked off."""

    MOVED_AWAY = "moved_away"
    DIED = "died"
    UNABLE_TO_WORK = "unable_to_work"  # permanently
    COMMISSION_DECISION = "commission_decision"
    OTHER = "other"  # the note says what


class Seat(StrEnum):
    """The seats of the pilot's five-member commission (DOMAIN.md)."""

    MUNICIPALITY = "municipality"
    SOCIAL_WORK_CENTRE = "social_work_centre"
    ROMA_NGO = "roma_ngo"
    DISABILITY_NGO = "disability_ngo"
    LAWYER = "lawyer"
    OTHER = "other"


class Vote(StrEnum):
    FOR = "for"
    AGAINST = "against"
    ABSTAIN = "abstain"


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        CheckConstraint(enum_check("status", Status), name="status"),
        CheckConstraint(enum_check("close_reason", CloseReason), name="close_reason"),
        # One open enrollment per household, anywhere: with members' national IDs unique, no
        # person can be in two open enrollments, whatever races the requests run.
        Index(
            "uq_enrollments_one_open_per_household",
            "household_id",
            unique=True,
            sqlite_where=text("status IN ('applied', 'approved', 'active')"),
            postgresql_where=text("status IN ('applied', 'approved', 'active')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    status: Mapped[Status] = mapped_column(EnumText(Status, 12), default=Status.APPLIED)
    applied_on: Mapped[date] = mapped_column(Date)
    active_since: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    # Why it was closed early (None unless its status is closed_early).
    close_reason: Mapped[CloseReason | None] = mapped_column(EnumText(CloseReason, 20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    household: Mapped[Household] = relationship()
    programme: Mapped[Programme] = relationship()
    events: Mapped[list[EnrollmentEvent]] = relationship(
        back_populates="enrollment", order_by="EnrollmentEvent.id"
    )
    agreement: Mapped[Agreement | None] = relationship(back_populates="enrollment")
    decisions: Mapped[list[CommissionDecision]] = relationship(
        back_populates="enrollment", order_by="CommissionDecision.id"
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_reopenable(self) -> bool:
        return self.status in REOPENABLE_STATUSES


class EnrollmentEvent(Base):
    __tablename__ = "enrollment_events"
    __table_args__ = (
        CheckConstraint(enum_check("to_status", Status), name="to_status"),
        CheckConstraint(enum_check("close_reason", CloseReason), name="close_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    from_status: Mapped[Status | None] = mapped_column(EnumText(Status, 12))
    to_status: Mapped[Status] = mapped_column(EnumText(Status, 12))
    effective_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    document_ref: Mapped[str] = mapped_column(String(120), default="")
    # An early closing's reason from the list (``reason`` holds its note).
    close_reason: Mapped[CloseReason | None] = mapped_column(EnumText(CloseReason, 20))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enrollment: Mapped[Enrollment] = relationship(back_populates="events")
    actor: Mapped[User] = relationship()

    @property
    def is_reopening(self) -> bool:
        """A step back out of a closing (the history shows it as a reopening)."""
        return self.from_status in REOPENABLE_STATUSES and self.to_status in OPEN_STATUSES


class CommissionMember(Base):
    __tablename__ = "commission_members"
    __table_args__ = (CheckConstraint(enum_check("seat", Seat), name="seat"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    seat: Mapped[Seat] = mapped_column(EnumText(Seat, 24))
    active: Mapped[bool] = mapped_column(default=True)


class CommissionDecision(Base):
    __tablename__ = "commission_decisions"
    __table_args__ = (CheckConstraint("outcome IN ('approved', 'rejected')", name="outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    decided_on: Mapped[date] = mapped_column(Date)
    outcome: Mapped[Status] = mapped_column(EnumText(Status, 12))  # approved or rejected
    reference: Mapped[str] = mapped_column(String(120), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enrollment: Mapped[Enrollment] = relationship(back_populates="decisions")
    votes: Mapped[list[DecisionVote]] = relationship(back_populates="decision")


class DecisionVote(Base):
    """One commission member present at a decision, and how it voted."""

    __tablename__ = "decision_votes"
    __table_args__ = (
        CheckConstraint(enum_check("vote", Vote), name="vote"),
        UniqueConstraint("decision_id", "commission_member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("commission_decisions.id"), index=True)
    commission_member_id: Mapped[int] = mapped_column(ForeignKey("commission_members.id"))
    vote: Mapped[Vote] = mapped_column(EnumText(Vote, 8))

    decision: Mapped[CommissionDecision] = relationship(back_populates="votes")
    commission_member: Mapped[CommissionMember] = relationship()


class Agreement(Base):
    """The signed agreement that makes an enrollment active."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), unique=True)
    signed_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(120))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    enrollment: Mapped[Enrollment] = relationship(back_populates="agreement")
    signatories: Mapped[list[AgreementSignatory]] = relationship(back_populates="agreement")


class AgreementSignatory(Base):
    __tablename__ = "agreement_signatories"
    __table_args__ = (UniqueConstraint("agreement_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))

    agreement: Mapped[Agreement] = relationship(back_populates="signatories")
    member: Mapped[Member] = relationship()

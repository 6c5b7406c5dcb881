"""The money side: what a family owes each utility, what the programme pays, and the hours
that payment creates.

Money is in deni (integers). Nothing here is edited once it counts: a request moves through
its states with an event for each step, a recorded payment is only ever cancelled by a
``PaymentReversal``, and an ``Obligation`` lives exactly as long as its payment is not reversed.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Base, Deni, EnumText, UTCDateTime, enum_check, utcnow
from casework.enrollment.models import Enrollment
from casework.households.models import Household
from casework.organizations.models import Organization
from casework.security.models import User


class RequestStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    APPROVED = "approved"
    CANCELLED = "cancelled"
    PAID = "paid"
    REVERSED = "reversed"


# Requests that hold part of an arrear: the rest of it is what a new request may ask for.
OPEN_REQUEST_STATUSES = (
    RequestStatus.DRAFT,
    RequestStatus.SUBMITTED,
    RequestStatus.REJECTED,
    RequestStatus.APPROVED,
)


class UtilityAccount(Base):
    """A household's customer number at one creditor (EVN Home, the communal enterprise)."""

    __tablename__ = "utility_accounts"
    __table_args__ = (UniqueConstraint("creditor_id", "customer_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    creditor_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    customer_number: Mapped[str] = mapped_column(String(40))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    household: Mapped[Household] = relationship()
    creditor: Mapped[Organization] = relationship()
    arrears: Mapped[list[Arrear]] = relationship(
        back_populates="account", order_by="Arrear.period_from"
    )
    corrections: Mapped[list[CustomerNumberCorrection]] = relationship(
        back_populates="account", order_by="CustomerNumberCorrection.id"
    )


class CustomerNumberCorrection(Base):
    """A customer number entered wrongly, corrected: the number the account had, the one it has
    since, who and why. The account itself stays, with its statements and their payments: the
    number is only how the creditor names the family's account, the debt is the same."""

    __tablename__ = "customer_number_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("utility_accounts.id"), index=True)
    old_number: Mapped[str] = mapped_column(String(40))
    new_number: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    corrected_on: Mapped[date] = mapped_column(Date)
    corrected_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[UtilityAccount] = relationship(back_populates="corrections")
    corrected_by: Mapped[User] = relationship()


class Arrear(Base):
    """One statement of debt from a creditor: the period it covers and what it says is owed.

    Its figures are never edited. A statement entered wrongly is voided, with the reason (it
    then counts nowhere, but stays in the history), and the right one, if any, is entered in
    its place pointing back at it (``replaces_id``)."""

    __tablename__ = "arrears"
    __table_args__ = (
        CheckConstraint("principal_deni >= 0", name="principal_not_negative"),
        CheckConstraint("penalty_deni >= 0", name="penalty_not_negative"),
        CheckConstraint("principal_deni + penalty_deni > 0", name="something_owed"),
        CheckConstraint("period_to >= period_from", name="period_in_order"),
        # A statement is stored once: one number per account among the statements that count,
        # so a double submit or two requests at once store one, and a voided statement's
        # number may be entered again as its replacement.
        Index(
            "uq_arrears_one_statement_per_account",
            "account_id",
            "statement_ref",
            unique=True,
            sqlite_where=text("voided_on IS NULL"),
            postgresql_where=text("voided_on IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("utility_accounts.id"), index=True)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    principal_deni: Mapped[int] = mapped_column(Deni)
    penalty_deni: Mapped[int] = mapped_column(Deni, default=0)
    statement_ref: Mapped[str] = mapped_column(String(120))
    received_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("arrears.id"), unique=True, index=True
    )
    voided_on: Mapped[date | None] = mapped_column(Date)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    void_reason: Mapped[str] = mapped_column(Text, default="")

    account: Mapped[UtilityAccount] = relationship(back_populates="arrears")
    voided_by: Mapped[User | None] = relationship(foreign_keys=[voided_by_id])
    replaces: Mapped[Arrear | None] = relationship(
        remote_side=[id], foreign_keys=[replaces_id], back_populates="replaced_by"
    )
    replaced_by: Mapped[Arrear | None] = relationship(
        foreign_keys=[replaces_id], back_populates="replaces", uselist=False
    )

    @property
    def total_deni(self) -> int:
        return self.principal_deni + self.penalty_deni

    @property
    def counts(self) -> bool:
        """Whether the statement counts in the family's debt: every one not voided."""
        return self.voided_on is None


class PaymentRequest(Base):
    """A proposal to pay (part of) one arrear. ``round`` counts submissions, so approvals given
    before a rejection never count for the next submission. ``approvals_count`` is the number
    of approvals in the current round, moved only by a conditional update."""

    __tablename__ = "payment_requests"
    __table_args__ = (
        CheckConstraint(enum_check("status", RequestStatus), name="status"),
        CheckConstraint("amount_deni > 0", name="amount_positive"),
        CheckConstraint("approvals_needed IN (1, 2)", name="approvals_needed"),
        CheckConstraint(
            "approvals_count >= 0 AND approvals_count <= approvals_needed",
            name="approvals_count_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    arrear_id: Mapped[int] = mapped_column(ForeignKey("arrears.id"), index=True)
    amount_deni: Mapped[int] = mapped_column(Deni)
    justification: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[RequestStatus] = mapped_column(
        EnumText(RequestStatus, 12), default=RequestStatus.DRAFT, index=True
    )
    round: Mapped[int] = mapped_column(Integer, default=0)
    approvals_needed: Mapped[int] = mapped_column(Integer, default=1)
    approvals_count: Mapped[int] = mapped_column(Integer, default=0)
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    last_changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enrollment: Mapped[Enrollment] = relationship()
    arrear: Mapped[Arrear] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    last_changed_by: Mapped[User] = relationship(foreign_keys=[last_changed_by_id])
    approvals: Mapped[list[Approval]] = relationship(
        back_populates="request", order_by="Approval.id"
    )
    events: Mapped[list[RequestEvent]] = relationship(
        back_populates="request", order_by="RequestEvent.id"
    )
    payment: Mapped[Payment | None] = relationship(back_populates="request")


class Approval(Base):
    """One officer's approval in one round. The unique keys make a second approval by the
    same officer, or a second first approval, impossible even if two requests race."""

    __tablename__ = "approvals"
    __table_args__ = (
        UniqueConstraint("request_id", "round", "officer_id"),
        UniqueConstraint("request_id", "round", "seq"),
        CheckConstraint("seq IN (1, 2)", name="seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[PaymentRequest] = relationship(back_populates="approvals")
    officer: Mapped[User] = relationship()


class RequestEvent(Base):
    """Each step of a request: who moved it, from what to what, and why."""

    __tablename__ = "payment_request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id"), index=True)
    from_status: Mapped[RequestStatus | None] = mapped_column(EnumText(RequestStatus, 12))
    to_status: Mapped[RequestStatus] = mapped_column(EnumText(RequestStatus, 12))
    note: Mapped[str] = mapped_column(Text, default="")
    # The day the step took effect (a payment: the day it was paid), not when it was typed in.
    effective_on: Mapped[date | None] = mapped_column(Date)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[PaymentRequest] = relationship(back_populates="events")
    actor: Mapped[User] = relationship()

    @property
    def is_first_of_two_approvals(self) -> bool:
        """An approval that left the request submitted: the first of two, not a submission."""
        return self.from_status == self.to_status == RequestStatus.SUBMITTED


class Payment(Base):
    """What the municipality actually paid to the utility. Never edited; see PaymentReversal."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount_deni > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id"), unique=True)
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(120))
    amount_deni: Mapped[int] = mapped_column(Deni)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[PaymentRequest] = relationship(back_populates="payment")
    recorded_by: Mapped[User] = relationship()
    obligation: Mapped[Obligation] = relationship(back_populates="payment")
    reversal: Mapped[PaymentReversal | None] = relationship(back_populates="payment")


class PaymentReversal(Base):
    """Cancels one payment and, with it, the hours it created. At most one per payment."""

    __tablename__ = "payment_reversals"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    reversed_on: Mapped[date] = mapped_column(Date)
    reversed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="reversal")
    reversed_by: Mapped[User] = relationship()


class Obligation(Base):
    """Minutes of community work a payment created, at the hourly value of that day."""

    __tablename__ = "obligations"
    __table_args__ = (
        CheckConstraint("minutes >= 0", name="minutes_not_negative"),
        CheckConstraint("hourly_value_deni > 0", name="hourly_value_positive"),
        CheckConstraint("due_on >= starts_on", name="dates_in_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    hourly_value_deni: Mapped[int] = mapped_column(Deni)
    starts_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)

    payment: Mapped[Payment] = relationship(back_populates="obligation")
    household: Mapped[Household] = relationship()

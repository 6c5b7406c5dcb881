"""The audit trail: one append-only row per change or per view of personal data."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Base, EnumText, UTCDateTime, enum_check, utcnow
from casework.security.models import User


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The roles the actor held when acting ("coordinator,officer"): roles change later.
    actor_roles: Mapped[str | None] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None]
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"))
    request_id: Mapped[str | None] = mapped_column(String(36))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class AuditLink(Base):
    """The hash chain over the audit trail: event ``seq`` carries the hash of the one before.

    Links are written when a transaction commits, after every other lock it takes, so the
    chain is one line even with several writers. ``casework audit verify`` recomputes it; an
    event edited or deleted behind the app's back breaks it at that event. ``event_id`` has no
    foreign key on purpose: a deleted event must leave its link behind to be noticed.
    """

    __tablename__ = "audit_links"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """One row: the last link. Locked (FOR UPDATE) by each committing writer in turn."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_hash: Mapped[str] = mapped_column(String(64))


class HouseholdKey(Base):
    """A household's own key for the personal fields of its audit events (``audit.keys``).

    ``wrapped_key`` is the household's Fernet key encrypted with the instance's master key
    (``CASEWORK_AUDIT_KEY``); anonymisation empties it (crypto-shredding), so the events keep
    their ciphertext, and the hash chain over it, while nobody can read them any more. Not
    append-only, on purpose: destroying the key is its point. Never exported nor logged.
    """

    __tablename__ = "household_keys"

    household_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    shredded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:  # never the key, even wrapped, in a log or a traceback
        return f"<HouseholdKey household={self.household_id} shredded={self.shredded_at}>"


class AccessAction(StrEnum):
    VIEW_LIST = "view_list"
    VIEW_HOUSEHOLD = "view_household"
    VIEW_MONEY = "view_money"
    VIEW_STATEMENT = "view_statement"
    REVEAL_NATIONAL_ID = "reveal_national_id"
    EXPORT = "export"
    SUBJECT_EXPORT = "subject_export"


class AccessRecord(Base):
    """The access log: one append-only row per view or export of personal data.

    Separate from the audit trail, which records changes: reading a family's record changes
    nothing, but the law asks who looked, when and (for a national ID) why.
    """

    __tablename__ = "access_log"
    __table_args__ = (
        CheckConstraint(enum_check("action", AccessAction), name="action"),
        Index("ix_access_log_household_at", "household_id", "at"),
        Index("ix_access_log_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_roles: Mapped[str] = mapped_column(String(120), default="")
    action: Mapped[AccessAction] = mapped_column(EnumText(AccessAction, 30))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"))
    # What was seen: the page, or the export's kind, format and row count.
    detail: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str | None] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(36))

    user: Mapped[User] = relationship()

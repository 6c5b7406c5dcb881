"""Users and their roles, each role held in one municipality."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Base, EnumText, UTCDateTime, enum_check, utcnow
from casework.organizations.models import Municipality, Organization


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    SOCIAL_WORKER = "social_worker"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"


# The order in which a user holding several roles lands on a home page.
ROLE_PRECEDENCE = (
    Role.COORDINATOR,
    Role.OFFICER,
    Role.SOCIAL_WORKER,
    Role.SUPERVISOR,
    Role.AUDITOR,
    Role.ADMIN,
)


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def role_names(self) -> set[Role]:
        return {r.role for r in self.roles}

    def has_role(self, role: Role, municipality_id: int | None = None) -> bool:
        return any(
            r.role == role
            and (municipality_id is None or r.municipality_id in (None, municipality_id))
            for r in self.roles
        )

    def municipalities_as(self, *roles: Role) -> set[int]:
        """Municipality ids where the user holds any of ``roles``."""
        return {r.municipality_id for r in self.roles if r.role in roles and r.municipality_id}

    def primary_role(self) -> Role | None:
        held = self.role_names()
        return next((r for r in ROLE_PRECEDENCE if r in held), None)

    def __str__(self) -> str:
        return self.full_name


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (
        CheckConstraint(enum_check("role", Role), name="role"),
        # Only an admin may hold a role across all municipalities.
        CheckConstraint("municipality_id IS NOT NULL OR role = 'admin'", name="scoped"),
        UniqueConstraint("user_id", "role", "municipality_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(EnumText(Role, 20))
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"), index=True)
    # For a supervisor: the public enterprise it works for.
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))

    user: Mapped[User] = relationship(back_populates="roles")
    municipality: Mapped[Municipality | None] = relationship(lazy="joined")
    organization: Mapped[Organization | None] = relationship()


class UserSession(Base):
    """A logged-in browser, held on the server so that it can be ended from the server.

    The cookie carries only a random token; its SHA-256 is stored here. Logging out, changing
    the password or deactivating the account sets ``ended_at``, and a replayed cookie finds an
    ended row. Idle and absolute timeouts are checked against ``last_seen_at``/``created_at``.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the password was last typed in this session: approvals and exports ask for it fresh.
    authenticated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """Every try at the login form, kept in the database so that throttling holds across all
    web workers and servers, and so that admins can see attacks."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    username: Mapped[str] = mapped_column(String(60))
    ip: Mapped[str] = mapped_column(String(45))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether the password was tried: not when the throttle refused the attempt unchecked.
    checked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

"""Municipalities and the organisations that take part in a programme."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.db import Base, EnumText, enum_check


class OrganizationKind(StrEnum):
    MUNICIPALITY = "municipality"
    NGO = "ngo"
    PUBLIC_ENTERPRISE = "public_enterprise"
    CREDITOR = "creditor"


class Municipality(Base):
    __tablename__ = "municipalities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_sq: Mapped[str | None] = mapped_column(String(120))
    default_locale: Mapped[str] = mapped_column(String(8), default="mk")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Skopje")

    organizations: Mapped[list[Organization]] = relationship(back_populates="municipality")

    def __str__(self) -> str:
        return self.name


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(enum_check("kind", OrganizationKind), name="kind"),
        UniqueConstraint("municipality_id", "kind", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Creditors and national NGOs may serve several municipalities: no municipality then.
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"), index=True)
    kind: Mapped[OrganizationKind] = mapped_column(EnumText(OrganizationKind, 20))
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str | None] = mapped_column(String(60))

    municipality: Mapped[Municipality | None] = relationship(back_populates="organizations")

    def __str__(self) -> str:
        return self.short_name or self.name

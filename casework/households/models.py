"""Households in the register and their members.

There is deliberately no ethnicity field (DOMAIN.md, data protection), and an exemption
keeps a reason code and a document reference, never a diagnosis.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from casework.db import Base, EnumText, UTCDateTime, enum_check, utcnow
from casework.organizations.models import Municipality
from casework.security.models import User


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


class Relation(StrEnum):
    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    SIBLING = "sibling"
    GRANDCHILD = "grandchild"
    GRANDPARENT = "grandparent"
    OTHER = "other"


class ExemptionReason(StrEnum):
    PENSIONER = "pensioner"
    PREGNANCY = "pregnancy"
    MATERNITY = "maternity"
    UNABLE_TO_WORK = "unable_to_work"
    OTHER = "other"


# Cyrillic letters as Macedonian Latin spells them; Serbian ђ and ћ as the Macedonian ѓ and ќ.
_CYRILLIC = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "ѓ": "gj",
    "е": "e",
    "ж": "zh",
    "з": "z",
    "ѕ": "dz",
    "и": "i",
    "ј": "j",
    "к": "k",
    "л": "l",
    "љ": "lj",
    "м": "m",
    "н": "n",
    "њ": "nj",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "ќ": "kj",
    "у": "u",
    "ф": "f",
    "х": "h",
    "ц": "c",
    "ч": "ch",
    "џ": "dzh",
    "ш": "sh",
    "ђ": "gj",
    "ћ": "kj",
}
# Latin letters for a sound Macedonian Latin also writes as a digraph (ǵ = gj, ž = zh); the
# Albanian ç and q are the Macedonian ч and ќ; Turkish ş and ı as they sound.
_LATIN = {
    "ǵ": "gj",
    "ḱ": "kj",
    "ž": "zh",
    "š": "sh",
    "č": "ch",
    "ć": "kj",
    "đ": "gj",
    "ç": "ch",
    "q": "kj",
    "ş": "sh",
    "ı": "i",
}
_SPELLED = str.maketrans(_CYRILLIC | _LATIN)
# Albanian digraphs for one sound each: xh is џ, dh and th are spoken д and т, ll and rr
# are л and р (and a doubled лл or рр folds the same way).
_DIGRAPHS = (("xh", "dzh"), ("dh", "d"), ("th", "t"), ("ll", "l"), ("rr", "r"))


def fold_script(text: str) -> str:
    """One spelling of a name in any of the region's scripts: Cyrillic and Latin, Macedonian
    and Albanian, with or without diacritics ("Сефер Бајрамовски", "Sefer Bajramovski";
    "Шаќир", "Šaḱir", "Shaqir"). Only the script is folded, never a spelling variant
    ("Bajramoski" stays another name). README, "Names across scripts", lists the rules."""
    spelled = unicodedata.normalize("NFKC", text).casefold().translate(_SPELLED)
    # Other diacritics (ë, é, ü, ѐ, ѝ) go; the Cyrillic letter under a mark is then spelled.
    bare = "".join(c for c in unicodedata.normalize("NFD", spelled) if not unicodedata.combining(c))
    folded = bare.translate(_SPELLED)
    for digraph, sound in _DIGRAPHS:
        folded = folded.replace(digraph, sound)
    return folded


NAME_KEY_LENGTH = 170  # the stored key of a member's name is cut there
KEY_SEPARATOR = "\x1f"  # between the parts of a key: "a b" + "c" is not "a" + "b c"


def match_key(*parts: str | None) -> str:
    """Text as the duplicate check and the search compare it: case, spacing, script and
    diacritics do not make two people."""
    return KEY_SEPARATOR.join(fold_script(" ".join((part or "").split())) for part in parts)


class Household(Base):
    __tablename__ = "households"
    # The duplicate check looks households up by municipality and address through this index.
    __table_args__ = (Index("ix_households_address_key", "municipality_id", "address_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    case_number: Mapped[str] = mapped_column(String(20), unique=True)
    address: Mapped[str] = mapped_column(String(200))
    address_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    settlement: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    language: Mapped[str] = mapped_column(String(8), default="mk")
    consent_on: Mapped[date | None] = mapped_column(Date)
    assigned_worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the retention period ran out and the names were removed (``casework retention``).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    municipality: Mapped[Municipality] = relationship()
    assigned_worker: Mapped[User | None] = relationship()
    members: Mapped[list[Member]] = relationship(
        back_populates="household", order_by="(Member.is_head.desc(), Member.birth_date)"
    )

    @validates("address")
    def _keep_address_key(self, _key: str, address: str) -> str:
        self.address_key = match_key(address)[:200]
        return address

    @property
    def head(self) -> Member | None:
        return next((m for m in self.members if m.is_head), None)

    def __str__(self) -> str:
        return self.case_number


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint(enum_check("sex", Sex), name="sex"),
        CheckConstraint(enum_check("relation", Relation), name="relation"),
        # One head per household, enforced by the database as well as the service.
        Index(
            "uq_members_one_head",
            "household_id",
            unique=True,
            sqlite_where=text("is_head = 1"),
            postgresql_where=text("is_head"),
        ),
        # The duplicate check finds people by name and birth date through this index.
        Index("ix_members_name_key", "name_key", "birth_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    name_key: Mapped[str] = mapped_column(String(NAME_KEY_LENGTH), default="", server_default="")
    # Unique: one person, one record. The database refuses a second one even when two
    # registrations race past the service's own check.
    national_id: Mapped[str | None] = mapped_column(String(13), unique=True)
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[Sex] = mapped_column(EnumText(Sex, 1))
    relation: Mapped[Relation] = mapped_column(EnumText(Relation, 20))
    is_head: Mapped[bool] = mapped_column(Boolean, default=False)

    household: Mapped[Household] = relationship(back_populates="members")
    exemptions: Mapped[list[Exemption]] = relationship(
        back_populates="member", order_by="Exemption.starts_on"
    )

    @validates("first_name", "last_name")
    def _keep_name_key(self, key: str, value: str) -> str:
        first = value if key == "first_name" else self.first_name
        last = value if key == "last_name" else self.last_name
        self.name_key = match_key(first, last)[:NAME_KEY_LENGTH]
        return value

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def __str__(self) -> str:
        return self.full_name


class NoteVisibility(StrEnum):
    NGO = "ngo"  # the NGO's staff only
    SHARED = "shared"  # also the municipality's officers


class DuplicateDecision(StrEnum):
    PENDING = "pending"
    SAME_FAMILY = "same"
    DIFFERENT = "different"


class CaseloadAssignment(Base):
    """Who followed a household when: the caseload's history, never overwritten."""

    __tablename__ = "caseload_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    worker: Mapped[User | None] = relationship(foreign_keys=[worker_id])
    assigned_by: Mapped[User] = relationship(foreign_keys=[assigned_by_id])


class CaseNote(Base):
    __tablename__ = "case_notes"
    __table_args__ = (CheckConstraint(enum_check("visibility", NoteVisibility), name="visibility"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    written_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    visibility: Mapped[NoteVisibility] = mapped_column(
        EnumText(NoteVisibility, 8), default=NoteVisibility.NGO
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship()


class DuplicateReview(Base):
    """A likely duplicate found at intake, and the coordinator's call on it."""

    __tablename__ = "duplicate_reviews"
    __table_args__ = (
        CheckConstraint(enum_check("decision", DuplicateDecision), name="decision"),
        UniqueConstraint("household_id", "other_household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    other_household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    reason: Mapped[str] = mapped_column(String(20))  # "name_and_birth" or "address_and_head"
    decision: Mapped[DuplicateDecision] = mapped_column(
        EnumText(DuplicateDecision, 10), default=DuplicateDecision.PENDING
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    household: Mapped[Household] = relationship(foreign_keys=[household_id])
    other_household: Mapped[Household] = relationship(foreign_keys=[other_household_id])
    decided_by: Mapped[User | None] = relationship()


class Exemption(Base):
    __tablename__ = "exemptions"
    __table_args__ = (
        CheckConstraint(enum_check("reason", ExemptionReason), name="reason"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates_in_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    reason: Mapped[ExemptionReason] = mapped_column(EnumText(ExemptionReason, 20))
    document_ref: Mapped[str] = mapped_column(String(120))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member: Mapped[Member] = relationship(back_populates="exemptions")

    def covers(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)

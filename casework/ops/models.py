"""Heartbeats of the background processes, which ``/readyz`` reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from casework.db import Base, UTCDateTime, utcnow


class Heartbeat(Base):
    """One row per running process (``scheduler`` or ``worker``, and which host and pid)."""

    __tablename__ = "heartbeats"
    __table_args__ = (UniqueConstraint("kind", "instance"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    instance: Mapped[str] = mapped_column(String(100))
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

"""A rendered form's one-time key, once a POST has claimed it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from casework.db import Base, UTCDateTime, utcnow


class FormKey(Base):
    """Claimed by the first POST of a form that carried this key, in the same transaction as
    that POST's work: a refused or failed submit leaves it unclaimed (the user corrects the form
    and sends it again), and a second copy finds it and gets the first answer's place. Unique
    per user and key, so that two copies sent at once cannot both act."""

    __tablename__ = "form_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    # Where the first answer sent the browser (post/redirect/get): the second copy goes there.
    location: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

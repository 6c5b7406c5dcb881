"""The outbox: every message is stored first and sent later, so that a failed send is retried
and a message is never lost with a rolled-back request."""

from __future__ import annotations

from datetime import datetime
from email.utils import make_msgid

from flask import current_app, has_app_context
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from casework.db import Base, UTCDateTime, utcnow


def new_message_id() -> str:
    """A globally unique Message-ID in the sender's own domain (RFC 5322 asks for one that the
    sender owns), made once per message and stored, never per attempt."""
    mail_from = current_app.config["CASEWORK"].mail_from if has_app_context() else ""
    domain = mail_from.rpartition("@")[2] or "localhost"
    return make_msgid(idstring="casework", domain=domain)


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    # Made once, when the message is queued: a resend after a crash carries the same one, so a
    # receiving server or mail client that collapses duplicates by Message-ID shows it once.
    message_id: Mapped[str] = mapped_column(String(250), unique=True, default=new_message_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by the one sender that claimed the message ("sending"), before it talks to the server;
    # cleared when the server refused it. A claim older than CLAIM_TIMEOUT is stale: its sender
    # died between handing the message over and marking it sent, so it is sent again.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
